"""The four libraries against the real local stack (python -m environments.local)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import psutil
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_environmentkit import run_suite  # noqa: E402

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")


def stack_processes() -> list[int]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or [])
        if "-m environments.local" in cmdline and f"--parent-pid {psutil.Process().pid}" in cmdline:
            found.append(proc.pid)
    return found


@pytest.mark.slow
def test_robot_suite_against_the_real_stack(tmp_path):
    rc, output = run_suite("chaoskit_local_stack.robot", tmp_path)
    assert rc == 0, f"{rc} Robot test(s) failed; see {tmp_path}/log.html"
    assert 'pass="9" fail="0"' in output
    assert stack_processes() == [], "the stack this test started is still running"
    for name in ("output.xml", "log.html"):
        # a whole JWT (header.payload.signature): a bare "eyJ" also turns up by chance in embedded PNG plots
        leaked = JWT.search((tmp_path / name).read_text())
        assert leaked is None, f"a JWT leaked into {name}: {leaked.group(0)[:20]}..."
