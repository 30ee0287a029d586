"""The kit's watcher (:mod:`kitcore.reaper`) stopping a killed owner's process group also stops what that
group started in sessions of its own -- without cutting short the clean-up those descendants do themselves.

A parallel run's pabot group holds robot processes, and each robot may have started a stack whose supervisor
runs in a session of its own and stops the stack once its robot is gone; an X server removes its display's
lock file only when it is asked to stop. Killed outright at the end of the group's grace, both leave things
behind (the stack's temp folders, X display locks).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from kitcore import reaper
from kitcore.processes import start_time

# A descendant in a session of its own that stops when its parent is gone: it notices by the end of a pipe
# the parent holds, then takes a second to clean up (as a stack supervisor stops its stack).
STOPS_WITH_PARENT = r'''
import os, sys, time
from pathlib import Path
mark = Path(sys.argv[1])
mark.write_text("running")
os.read(int(sys.argv[2]), 1)  # the parent's end closes when it dies
time.sleep(1.0)  # a clean-up that takes a while
mark.unlink()
'''

# A descendant in a session of its own that removes its file only when asked to stop (as an X server its lock).
CLEANS_ON_SIGTERM = r'''
import signal, sys, threading
from pathlib import Path
mark = Path(sys.argv[1])
signal.signal(signal.SIGTERM, lambda *_: (mark.unlink(), sys.exit(0)))
mark.write_text("running")
threading.Event().wait()
'''

# The group's leader: starts one descendant in a session of its own, then waits to be stopped.
LEADER = r'''
import os, subprocess, sys, threading
read, write = os.pipe()
subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2], str(read)], pass_fds=(read,),
                 start_new_session=True)
os.close(read)
threading.Event().wait()
'''


def _leader(code: str, mark: Path) -> subprocess.Popen[bytes]:
    leader = subprocess.Popen([sys.executable, "-c", LEADER, code, str(mark)], start_new_session=True)
    deadline = time.monotonic() + 20
    while not mark.exists():
        assert time.monotonic() < deadline and leader.poll() is None, "the descendant never started"
        time.sleep(0.05)
    return leader


def _clean(leader: subprocess.Popen[bytes]) -> list[str]:
    item = {"kind": "group", "pgid": leader.pid, "started": start_time(leader.pid), "name": "a killed owner's group",
            "grace": reaper.GROUP_GRACE}
    removed, failed = reaper.clean([item])
    leader.wait(5)
    assert not failed, failed
    return removed


def test_a_descendant_that_stops_with_its_parent_finishes_its_clean_up(tmp_path: Path) -> None:
    mark = tmp_path / "supervisor"
    leader = _leader(STOPS_WITH_PARENT, mark)
    started = time.monotonic()
    _clean(leader)
    assert not mark.exists(), "the watcher killed the descendant in the middle of its own clean-up"
    assert time.monotonic() - started < reaper.GROUP_GRACE, "the watcher waited longer than the descendant took"


def test_a_descendant_left_after_the_grace_is_asked_to_stop_before_it_is_killed(tmp_path: Path) -> None:
    mark = tmp_path / "x-server"
    leader = _leader(CLEANS_ON_SIGTERM, mark)
    _clean(leader)
    assert not mark.exists(), "the descendant was killed without a SIGTERM: it could not remove its lock file"
