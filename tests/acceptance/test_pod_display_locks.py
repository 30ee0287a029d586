"""A pod whose X server cannot take its display (another stack's server holds it) leaves that server's lock.

Several local stacks run at once in a parallel run, each with a kubelet stand-in handing out X displays
from the same range. When two pick one display at the same moment, one Xtigervnc fails to start; its
clean-up must not remove the lock of the server that holds the display, or the display looks free and is
handed out again and again (a session stays pending for ever).
"""

from __future__ import annotations

import time
from pathlib import Path

from environments.local.platform.agents.podproc import display_in_use, start_pod
from environments.local.vnc_server import VncServer


def test_a_pod_that_could_not_take_a_display_leaves_the_holders_lock(tmp_path: Path) -> None:
    holder = VncServer(tmp_path / "holder", name="holder").start()
    try:
        display = holder.display
        lock = Path(f"/tmp/.X{display}-lock")
        owner = lock.read_text().strip()
        pod = start_pod("late-pod", "127.0.0.1", display, tmp_path, "320x240", None, port=holder.port + 1)
        deadline = time.monotonic() + 10
        while pod.alive():  # it cannot take a display another server holds
            assert time.monotonic() < deadline, "Xtigervnc started on a display another server holds"
            time.sleep(0.05)
        pod.stop()
        assert lock.exists() and lock.read_text().strip() == owner, "the pod took the holder's lock away"
        assert display_in_use(display), "the held display looks free"
    finally:
        holder.stop()
    assert not display_in_use(display)


def test_a_pod_whose_server_was_killed_removes_its_own_lock(tmp_path: Path) -> None:
    probe = VncServer(tmp_path / "probe", name="probe").start()  # a display number free now
    display, port = probe.display, probe.port
    probe.stop()
    pod = start_pod("killed-pod", "127.0.0.1", display, tmp_path, "320x240", None, port=port)
    try:
        deadline = time.monotonic() + 10
        while not Path(f"/tmp/.X{display}-lock").exists():
            assert time.monotonic() < deadline and pod.alive(), "the pod's server never took its display"
            time.sleep(0.05)
        pod.xvnc.kill()  # no clean-up of its own
        pod.xvnc.wait(10)
    finally:
        pod.stop()
    assert not display_in_use(display), "the killed pod's lock was left"
    assert not Path(f"/tmp/.X{display}-lock").exists()
