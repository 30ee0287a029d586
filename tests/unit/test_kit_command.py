"""``./kit``'s set-up: the Python its virtualenv is made from."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = Path("/usr/bin/python3")


@pytest.mark.skipif("KIT_PYTHON" in os.environ, reason="KIT_PYTHON chooses another Python on purpose")
@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no system Python: the first python3 on PATH is taken")
def test_the_virtualenv_is_made_from_the_systems_python() -> None:
    """The tests run in the kit's virtualenv; it must rest on the system's (optimised) Python, not on
    whichever python3 comes first on PATH."""
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    assert sys.prefix != sys.base_prefix, "the tests run outside the kit's virtualenv"
    assert base == SYSTEM_PYTHON.resolve(), f"the virtualenv rests on {base}, not on {SYSTEM_PYTHON}"
    assert (REPO / ".venv" / ".base-python").read_text().split()[0] == str(SYSTEM_PYTHON)


@pytest.mark.parametrize(("python", "says"), [
    ("/nonexistent/python3", "no Python 3 (/nonexistent/python3 not found)"),
    ("/bin/false", "/bin/false does not run"),
])
def test_a_wrong_kit_python_is_named_and_the_virtualenv_kept(python: str, says: str) -> None:
    made = (REPO / ".venv" / "pyvenv.cfg").stat().st_mtime_ns
    result = subprocess.run([str(REPO / "kit"), "setup"], capture_output=True, text=True, timeout=60, check=False,
                            env={**os.environ, "KIT_PYTHON": python})
    assert result.returncode == 2
    assert says in result.stderr and "Fix: " in result.stderr and "KIT_PYTHON" in result.stderr
    assert (REPO / ".venv" / "pyvenv.cfg").stat().st_mtime_ns == made, "the virtualenv must be left as it was"
