"""The mutant runner itself: every mutant switches on in a copy (never in the kit's files), names tests
that exist, and the verdicts (killed, survived, off target, stillborn, broken) come from what Robot
reported; an interrupted run leaves no copy and no robot behind."""

from __future__ import annotations

import contextlib
import hashlib
import os
import py_compile
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from robot.api import TestSuiteBuilder as SuiteBuilder

from environments.local.mutants import MUTANTS, Mutant, Patch, TestRef, by_name
from environments.local.mutants.__main__ import main, run_all, show, summary
from environments.local.mutants.runner import (
    BASELINE_FAILS,
    BROKEN,
    KILLED,
    OFF_TARGET,
    STILLBORN,
    SURVIVED,
    Verdict,
    run_mutant,
    stop_robot,
)
from environments.local.mutants.workspace import REPO, TEMP_PREFIX, MutantError, Workspace, apply_patch, create
from environments.local.platforms import load_platform


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path).encode() + path.read_bytes())
    return digest.hexdigest()


def test_there_are_at_least_twelve_mutants_with_unique_names_and_a_fast_subset() -> None:
    names = [mutant.name for mutant in MUTANTS]
    assert len(names) >= 12, f"only {len(names)} mutants"
    assert len(set(names)) == len(names), f"mutant names repeat: {names}"
    assert any(mutant.fast for mutant in MUTANTS), "no mutant is in the fast subset"


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.name)
def test_each_mutant_switches_on_in_a_copy_that_compiles_and_leaves_the_kit_unchanged(mutant: Mutant) -> None:
    before = _digest(REPO / "environments/local/platform")
    workspace = create(mutant)
    try:
        assert workspace.root.name.startswith(TEMP_PREFIX)
        for patch in mutant.patches:
            changed = (workspace.copy / patch.file).read_text()
            original = (REPO / patch.file).read_text()
            assert changed != original, f"{mutant.name}: {patch.file} is unchanged in the copy"
            assert patch.new in changed
            if patch.file.endswith(".py"):
                py_compile.compile(str(workspace.copy / patch.file), doraise=True,
                                   cfile=str(workspace.root / "compiled.pyc"))
        spec = load_platform(str(workspace.platform_file))
        for part in spec.parts.values():
            assert part.env["PYTHONPATH"].split(":")[0] == str(workspace.copy)
    finally:
        workspace.remove()
    assert not workspace.root.exists()
    assert _digest(REPO / "environments/local/platform") == before, "a mutant changed the kit's own platform"


def test_every_mutant_names_tests_that_exist() -> None:
    for mutant in MUTANTS:
        for test in mutant.tests:
            suite = SuiteBuilder().build(str(REPO / "suites" / test.suite))
            names = {case.name for case in suite.all_tests}
            assert test.name in names, f"{mutant.name}: {test} is not a test of {test.suite}"


def test_a_patch_whose_text_is_missing_or_repeated_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\nx = 1\ny = 2\n")
    with pytest.raises(MutantError, match="0 times"):
        apply_patch(tmp_path, Patch("a.py", "z = 3", "z = 4"), "demo")
    with pytest.raises(MutantError, match="2 times"):
        apply_patch(tmp_path, Patch("a.py", "x = 1", "x = 2"), "demo")
    apply_patch(tmp_path, Patch("a.py", "y = 2", "y = 3"), "demo")
    assert (tmp_path / "a.py").read_text() == "x = 1\nx = 1\ny = 3\n"


def test_a_mutant_that_no_longer_applies_is_broken_and_leaves_no_copy() -> None:
    stale = Mutant("stale", "a patch the platform no longer matches",
                   (Patch("environments/local/platform/api/auth.py", "no such text", "x"),),
                   (TestRef("00_smoke.robot", "Redis Answers"),), message="x")
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"{TEMP_PREFIX}stale-*"))
    verdict = run_mutant(stale)
    assert verdict.status == BROKEN
    assert "no longer applies" in verdict.message
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"{TEMP_PREFIX}stale-*")) == before


def test_unknown_names_are_refused_naming_the_known_ones() -> None:
    with pytest.raises(KeyError, match="split-brain"):
        by_name(["no-such-mutant"])


SUITE = """\
*** Settings ***
Library        OperatingSystem
Suite Setup    {setup}

*** Test Cases ***
The Named Check
    {body}

Another Check
    No Operation
"""


AUTH = "environments/local/platform/api/auth.py"
MUTATION = Patch(AUTH, 'ISSUER = "streamspace"', 'ISSUER = "mutated"')
# a check on the copy that only the mutation above makes fail
SEES_MUTATION = ("${text} =    Get File    ${COPY}/" + AUTH + "\n    Should Not Contain    ${text}    mutated"
                 "    msg=the lease names two leaders    values=False")


def _fake_run(tmp_path: Path, setup: str, body: str, named: str = "The Named Check",
              patches: tuple[Patch, ...] = (), baseline: bool = False) -> tuple[str, str]:
    """Run a mutant whose 'suite' is a tiny generated one (``${COPY}``: its copy); returns (status, message)."""
    suite = tmp_path / "fake.robot"
    suite.write_text(SUITE.format(setup=setup, body=body))

    def command(ws: Workspace, _mutant: Mutant, _suite: str, names: list[str], outdir: Path) -> list[str]:
        tests = [arg for name in names for arg in ("--test", name)]
        return [sys.executable, "-m", "robot", "--outputdir", str(outdir), "--output", "output.xml", "--log", "NONE",
                "--report", "NONE", "--variable", f"COPY:{ws.copy}", *tests, str(suite)]

    mutant = Mutant("fake", "the lease names two leaders", patches, (TestRef("fake.robot", named),),
                    message=r"two leaders")
    verdict = run_mutant(mutant, command=command, baseline=baseline)
    return verdict.status, verdict.first_line


def test_a_check_that_sees_the_mutation_in_the_copy_kills_it_and_passes_without_it(tmp_path: Path) -> None:
    assert _fake_run(tmp_path, "No Operation", SEES_MUTATION, patches=(MUTATION,), baseline=True) == (
        KILLED, "the lease names two leaders")
    assert _fake_run(tmp_path, "No Operation", SEES_MUTATION)[0] == SURVIVED


def test_a_check_that_fails_without_the_defect_too_proves_nothing(tmp_path: Path) -> None:
    status, message = _fake_run(tmp_path, "No Operation", "Fail    the lease names two leaders",
                                patches=(MUTATION,), baseline=True)
    assert status == BASELINE_FAILS
    assert message == "without the defect the tests end killed (fake :: The Named Check): the lease names two leaders"


def test_a_named_test_failing_with_the_defect_in_its_message_kills(tmp_path: Path) -> None:
    assert _fake_run(tmp_path, "No Operation", "Fail    the lease names two leaders: a and b") == (
        KILLED, "the lease names two leaders: a and b")


def test_a_failure_that_does_not_name_the_defect_is_off_target(tmp_path: Path) -> None:
    status, message = _fake_run(tmp_path, "No Operation", "Fail    TypeError: None")
    assert (status, message) == (OFF_TARGET, "TypeError: None")


def test_a_platform_that_does_not_start_is_stillborn_not_killed(tmp_path: Path) -> None:
    status, message = _fake_run(tmp_path, "Fail    two leaders: the environment did not start",
                                "Fail    the lease names two leaders")
    assert status == STILLBORN
    assert message == "Parent suite setup failed: two leaders: the environment did not start", \
        "a stillborn mutant must say why its platform did not start"


def test_passing_tests_mean_the_mutant_survived(tmp_path: Path) -> None:
    assert _fake_run(tmp_path, "No Operation", "No Operation")[0] == SURVIVED


def test_a_test_the_suite_does_not_have_makes_the_mutant_broken(tmp_path: Path) -> None:
    assert _fake_run(tmp_path, "No Operation", "No Operation", named="Another Check")[0] == SURVIVED
    status, _ = _fake_run(tmp_path, "No Operation", "No Operation", named="A Renamed Check")
    assert status == BROKEN


HANGING_ROBOT = """\
import signal, sys, time
from pathlib import Path
from environments.local.mutants import Mutant, TestRef
from environments.local.mutants.runner import run_mutant
from kitcore.processes import stop_like_ctrl_c
stop_like_ctrl_c(signal.SIGTERM)
marker = Path(sys.argv[1])

def command(ws, mutant, suite, names, outdir):
    marker.write_text(str(ws.root))
    child = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"
    return [sys.executable, "-c", child, str(marker) + ".pid"]

mutant = Mutant("hang", "a run that never ends", (), (TestRef("x.robot", "T"),), message="x")
try:
    run_mutant(mutant, command=command)
except KeyboardInterrupt:
    sys.exit(130)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"{what} within {timeout:g} s"
        time.sleep(0.05)


@contextlib.contextmanager
def _hanging_runner(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int, Path]]:
    """A runner whose mutant's robot never ends: (the runner, its robot's pid, the mutant's copy)."""
    marker = tmp_path / "workspace"
    proc = subprocess.Popen([sys.executable, "-c", HANGING_ROBOT, str(marker)], cwd=REPO)
    try:
        pid_file = Path(f"{marker}.pid")
        _wait(lambda: pid_file.is_file() and pid_file.read_text(), 30, "the fake robot should have started")
        workspace = Path(marker.read_text())
        assert workspace.is_dir()
        yield proc, int(pid_file.read_text()), workspace
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_an_interrupted_run_stops_robot_and_removes_its_copy(tmp_path: Path) -> None:
    with _hanging_runner(tmp_path) as (proc, child, workspace):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 130
        assert not workspace.exists(), f"the interrupted run left its copy {workspace}"
        _wait(lambda: not _alive(child), 5, "the interrupted run's robot should have stopped")


HANGING_AT_ONCE = """\
import signal, sys
from pathlib import Path
from environments.local.mutants import Mutant, TestRef
from environments.local.mutants.__main__ import run_all
from environments.local.mutants.runner import run_mutant
from kitcore.processes import stop_like_ctrl_c
stop_like_ctrl_c(signal.SIGTERM)
folder = Path(sys.argv[1])

def command(ws, mutant, suite, names, outdir):
    (folder / f"{mutant.name}.workspace").write_text(str(ws.root))
    child = "import os, sys, time; open(sys.argv[1], 'w').write(str(os.getpid())); time.sleep(120)"
    return [sys.executable, "-c", child, str(folder / f"{mutant.name}.pid")]

mutants = [Mutant(f"hang{n}", "a run that never ends", (), (TestRef("x.robot", "T"),), message="x") for n in range(3)]
try:
    run_all(mutants, lambda mutant: run_mutant(mutant, command=command), processes=2, say=lambda text: None)
except KeyboardInterrupt as interrupt:
    print(len(interrupt.verdicts), flush=True)
    sys.exit(130)
"""


def test_mutants_run_at_once_and_an_interrupt_stops_every_run_in_flight(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", HANGING_AT_ONCE, str(tmp_path)], cwd=REPO, stdout=subprocess.PIPE,
                            text=True)
    try:
        pids = [tmp_path / "hang0.pid", tmp_path / "hang1.pid"]
        _wait(lambda: all(pid.is_file() and pid.read_text() for pid in pids), 30,
              "two mutants' robots should run at once")
        children = [int(pid.read_text()) for pid in pids]
        workspaces = [Path((tmp_path / f"hang{n}.workspace").read_text()) for n in range(2)]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 130
        assert out.strip() == "2", "the two runs in flight end with their verdicts"
        assert not [path for path in workspaces if path.exists()], "an interrupted run left its copy"
        _wait(lambda: not any(_alive(child) for child in children), 5, "every robot in flight should have stopped")
        assert not (tmp_path / "hang2.workspace").exists(), "no mutant may start once the run is interrupted"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_each_verdict_is_said_as_it_comes_and_all_are_returned() -> None:
    at_once = threading.Barrier(2, timeout=10)  # broken unless two runs are in flight together
    said: list[str] = []

    def run(mutant: Mutant) -> Verdict:
        if mutant is not MUTANTS[2]:
            at_once.wait()
        return Verdict(mutant, KILLED, 0.1, TestRef("x.robot", "T"), "named")

    verdicts = run_all(list(MUTANTS[:3]), run, processes=2, say=said.append)
    assert sorted(v.mutant.name for v in verdicts) == sorted(m.name for m in MUTANTS[:3])
    assert sum(line.endswith(" ...") for line in said) == 3
    assert sum("killed by x :: T" in line for line in said) == 3
    assert main(["--processes", "0", "--fast"]) == 2


def test_a_killed_runner_leaves_no_robot_and_no_copy(tmp_path: Path) -> None:
    """SIGKILL gives the runner no chance: its watcher stops the robot run and removes the copy."""
    with _hanging_runner(tmp_path) as (proc, child, workspace):
        proc.kill()
        proc.wait(5)
        _wait(lambda: not _alive(child), 10, "the killed runner's robot should have been stopped by its watcher")
        _wait(lambda: not workspace.exists(), 10, f"the killed runner's copy {workspace} should have been removed")


def test_a_robot_deaf_to_sigint_is_killed_after_its_grace() -> None:
    deaf = "import signal, time; signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); " \
           "time.sleep(120)"
    proc = subprocess.Popen([sys.executable, "-c", textwrap.dedent(deaf)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    started = time.monotonic()
    stop_robot(proc, grace=1.0)
    assert proc.poll() is not None
    assert time.monotonic() - started < 5


def test_the_command_lists_the_mutants_and_refuses_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list", "--fast"]) == 0
    listed = capsys.readouterr().out
    assert all(f"{m.name} [fast]" in listed for m in MUTANTS if m.fast)
    assert not any(f"{m.name}:" in listed for m in MUTANTS if not m.fast)
    assert main(["no-such-mutant"]) == 2
    assert "no mutant named no-such-mutant" in capsys.readouterr().err


def test_the_summary_counts_kills_and_names_the_rest() -> None:
    first, second, third = MUTANTS[:3]
    verdicts = [Verdict(first, KILLED, 1.0, TestRef("x.robot", "T"), "the lease names two leaders"),
                Verdict(second, SURVIVED, 2.0), Verdict(third, STILLBORN, 3.0, message="Parent suite setup failed:")]
    assert summary(verdicts, 6.4).splitlines() == [
        "mutants: 1 killed / 3 in 6 s", f"  survived: {second.name}", f"  stillborn: {third.name}"]
    shown = show(1, 3, verdicts[0])
    assert "killed by x :: T in 1.0 s" in shown
    assert "message: the lease names two leaders" in shown


def test_a_stillborn_mutant_shows_why_its_platform_did_not_start() -> None:
    message = ("Parent suite setup failed:\nThe local environment stopped before it was ready: its supervisor "
               "exited with code 2; supervisor log tail:\n  [stack] starting\n  BackendError: the port is taken\n")
    shown = show(1, 1, Verdict(MUTANTS[0], STILLBORN, 3.0, message=message)).splitlines()
    assert shown[2] == ("    message: Parent suite setup failed: The local environment stopped before it was ready: "
                        "its supervisor exited with code 2; supervisor log tail:")
    assert shown[3:] == ["    | [stack] starting", "    | BackendError: the port is taken"]
    killed = Verdict(MUTANTS[0], KILLED, 1.0, TestRef("x.robot", "T"), "two leaders\n  a traceback line")
    assert "a traceback line" not in show(1, 1, killed), "a killed mutant's message is shown by its first line"
