"""The zygote (environments/local/zygote.py) forks a program as Popen would have started it: its arguments,
environment, folder, log and session; its exit code, also by a signal; and the stack falls back to Popen for
what it cannot run as written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from environments.local.procs import ManagedProcess
from environments.local.zygote import Zygote
from kitcore.processes import pid_alive

REPO = Path(__file__).resolve().parents[2]
PYTHONPATH = f"{REPO}{os.pathsep}{REPO / 'libraries'}"
PROGRAM = "tests.support.zygote_program"


@pytest.fixture
def zygote(tmp_path: Path) -> Iterator[Zygote]:
    started = Zygote(tmp_path, tmp_path / "zygote.log", PYTHONPATH, modules="tests.support.").start()
    try:
        yield started
    finally:
        started.stop()
    assert not pid_alive(started.process.pid), "the zygote outlived its stop"


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", PROGRAM, *args]


def environment(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": PYTHONPATH, **extra}


def test_a_forked_program_runs_as_its_command_says(zygote: Zygote, tmp_path: Path) -> None:
    report, folder, log = tmp_path / "seen.json", tmp_path / "folder", tmp_path / "program.log"
    folder.mkdir()
    program = zygote.spawn(command("report", str(report)), environment(KIT_PROBE="its own"), folder, log)
    assert program.wait(30) == 3
    seen = json.loads(report.read_text())
    assert seen["args"] == ["report", str(report)] and seen["probe"] == "its own" and seen["cwd"] == str(folder)
    assert seen["sid"] == seen["pgid"] == program.pid, "the program must lead a session of its own"
    assert seen["argv0"].endswith("zygote_program.py") and seen["stdin"] == ""
    assert "a line to the log" in log.read_text()
    assert os.environ.get("KIT_PROBE") is None


def test_exit_codes_are_those_popen_gives(zygote: Zygote, tmp_path: Path) -> None:
    failing = zygote.spawn(command("raise"), environment(), tmp_path, tmp_path / "failing.log")
    assert failing.wait(30) == 1
    assert "RuntimeError: a program that fails" in (tmp_path / "failing.log").read_text()
    flag = tmp_path / "waiting"
    waiting = zygote.spawn(command("wait", str(flag)), environment(), tmp_path, tmp_path / "waiting.log")
    assert waiting.poll() is None
    with pytest.raises(subprocess.TimeoutExpired):
        waiting.wait(0.2)
    os.killpg(waiting.pid, signal.SIGTERM)
    assert waiting.wait(30) == -signal.SIGTERM
    assert waiting.poll() == -signal.SIGTERM


def test_what_the_zygote_cannot_run_as_written_is_refused(zygote: Zygote) -> None:
    assert zygote.accepts(command("report", "x"), environment()) == PROGRAM
    assert zygote.accepts(command("report", "x"), environment(PYTHONPATH="/elsewhere")) is None, \
        "modules from another PYTHONPATH (a mutant's copy) must not run from the zygote's imports"
    assert zygote.accepts(["/usr/bin/python3.9", "-m", PROGRAM], environment()) is None
    assert zygote.accepts([sys.executable, "-m", "environments.local.leaks"], environment()) is None
    assert zygote.accepts(["/bin/true"], environment()) is None


def test_a_managed_process_starts_the_usual_way_once_the_zygote_is_gone(zygote: Zygote, tmp_path: Path) -> None:
    zygote.stop()
    report = tmp_path / "seen.json"
    process = ManagedProcess("probe", command("report", str(report)), tmp_path / "probe.log", cwd=tmp_path,
                             env={"PYTHONPATH": PYTHONPATH}, zygote=zygote).start()
    try:
        assert isinstance(process.popen, subprocess.Popen)
        assert process.popen.wait(30) == 3
    finally:
        process.stop()
    assert json.loads(report.read_text())["sid"] == process.pid
