"""Run one mutant: switch it on in a copy of the platform, run its tests with ``robot``, read the verdict.

Verdicts:

- ``killed``: one of the mutant's own tests failed in its body with a message that matches the
  mutant's pattern (it names the defect);
- ``survived``: every one of its tests passed (or was skipped): a check lacks teeth;
- ``off-target``: a test failed, but in its setup or with a message that does not name the defect;
- ``stillborn``: the platform did not start (the suite setup failed, or Robot wrote no result);
- ``broken``: the mutant cannot be switched on, or its tests do not exist (the catalogue is stale);
- ``baseline-fails`` (with ``baseline``): its tests fail without the defect too, so they prove nothing.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from robot.api import ExecutionResult, ResultVisitor

from environments.local.mutants.catalogue import Mutant, TestRef
from environments.local.mutants.workspace import REPO, MutantError, Workspace, create
from kitcore import reaper

KILLED, SURVIVED, OFF_TARGET, STILLBORN, BROKEN = "killed", "survived", "off-target", "stillborn", "broken"
BASELINE_FAILS = "baseline-fails"
GRACE = 60.0  # how long an interrupted robot may take to run its teardowns and stop its stack
# what must not leak from the caller into a mutant's run: it would attach to another stack or platform
FOREIGN = ("KIT_TOPOLOGY", "KIT_PLATFORM", "KIT_PLATFORM_PROGRAMS", "ENVIRONMENT")
Say = Callable[[str], None]


@dataclass
class TestOutcome:
    """One test as Robot reported it."""

    name: str
    status: str
    message: str

    @property
    def setup_failed(self) -> bool:
        return self.message.startswith(("Setup failed:", "Parent suite setup failed:"))

    @property
    def suite_setup_failed(self) -> bool:
        return self.message.startswith("Parent suite setup failed:")


@dataclass
class Verdict:
    """What became of one mutant."""

    mutant: Mutant
    status: str
    seconds: float = 0.0
    test: TestRef | None = None
    message: str = ""
    outcomes: list[TestOutcome] = field(default_factory=list)

    @property
    def first_line(self) -> str:
        """The message's first line; with the next one when it only introduces it ("Parent suite setup
        failed:"), so that a stillborn mutant says why its platform did not start."""
        lines = self._lines()
        if len(lines) > 1 and lines[0].endswith(":"):
            return f"{lines[0]} {lines[1]}"
        return lines[0] if lines else ""

    @property
    def rest_of_message(self) -> list[str]:
        """The message's lines after :attr:`first_line` (a log's tail, a traceback...)."""
        lines = self._lines()
        return lines[2:] if len(lines) > 1 and lines[0].endswith(":") else lines[1:]

    def _lines(self) -> list[str]:
        return [line.strip() for line in self.message.splitlines() if line.strip()]

    @property
    def naming_line(self) -> str:
        """The line of a killing message that names the defect, when it is not the first one."""
        if self.status != KILLED:
            return ""
        pattern = re.compile(self.mutant.message, re.IGNORECASE)
        lines = self._lines()
        if not lines or pattern.search(lines[0]):
            return ""
        return next((line for line in lines if pattern.search(line)), "")


class _Collector(ResultVisitor):
    def __init__(self) -> None:
        self.outcomes: list[TestOutcome] = []

    def visit_test(self, test) -> None:  # noqa: ANN001 - robot's result model
        self.outcomes.append(TestOutcome(test.name, test.status, test.message or ""))


def read_outcomes(output: Path) -> list[TestOutcome]:
    """Every test in a Robot ``output.xml``."""
    collector = _Collector()
    ExecutionResult(str(output)).visit(collector)
    return collector.outcomes


def judge(mutant: Mutant, outcomes: list[TestOutcome]) -> tuple[str, TestOutcome | None]:
    """The verdict on one robot run of the mutant's tests, and the test that decided it."""
    if not outcomes:
        return STILLBORN, None
    pattern = re.compile(mutant.message, re.IGNORECASE)
    for outcome in outcomes:
        if outcome.status == "FAIL" and not outcome.setup_failed and pattern.search(outcome.message):
            return KILLED, outcome
    born = [outcome for outcome in outcomes if not outcome.suite_setup_failed]
    if not born:
        return STILLBORN, outcomes[0]
    failed = [outcome for outcome in born if outcome.status == "FAIL"]
    if failed:
        return OFF_TARGET, failed[0]
    return SURVIVED, None


def robot_command(workspace: Workspace, mutant: Mutant, suite: str, tests: list[str], outdir: Path) -> list[str]:
    """The ``robot`` command line that runs ``tests`` of ``suite`` against the mutant's platform."""
    argv = [sys.executable, "-m", "robot", "--outputdir", str(outdir), "--output", "output.xml",
            "--report", "NONE", "--consolecolors", "off", "--variable", f"LOCAL_PLATFORM:{workspace.platform_file}"]
    for name, value in mutant.variables.items():
        argv += ["--variable", f"{name}:{value.replace('{copy}', str(workspace.copy))}"]
    for test in tests:
        argv += ["--test", test]
    return [*argv, str(REPO / "suites" / suite)]


def stop_robot(proc: subprocess.Popen[bytes], grace: float = GRACE) -> None:
    """Stop a robot run: SIGINT first (it runs its teardowns and stops the stack it started), then
    SIGKILL (the stack's supervisor notices its parent is gone and stops itself)."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(grace)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):  # too slow, or interrupted again: no more grace
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(10)
        if not isinstance(sys.exc_info()[1], subprocess.TimeoutExpired):
            raise


class Stopped(Exception):
    """The run was stopped (:func:`stop_all_runs`) before this robot could start."""


_RUNS: set[subprocess.Popen[bytes]] = set()  # the robot runs in flight, of every thread
_RUNS_LOCK = threading.Lock()
_STOPPING = threading.Event()


def stop_all_runs(grace: float = GRACE) -> None:
    """Stop every robot run in flight, all at once, and start no new one: for the thread that was
    interrupted while others run mutants (each of those threads then ends with its run's verdict)."""
    _STOPPING.set()
    with _RUNS_LOCK:
        runs = list(_RUNS)
    stoppers = [threading.Thread(target=stop_robot, args=(proc, grace), daemon=True) for proc in runs]
    for stopper in stoppers:
        stopper.start()
    for stopper in stoppers:
        stopper.join(grace + 15)


def allow_runs() -> None:
    """Let robot runs start again after :func:`stop_all_runs` (a new batch of mutants)."""
    _STOPPING.clear()


def run_robot(argv: list[str], console: Path, timeout: float, grace: float = GRACE) -> int | None:
    """Run robot with its console in ``console``; None when it ran out of time (then it is stopped)."""
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN}
    with console.open("wb") as out, _RUNS_LOCK:
        if _STOPPING.is_set():
            raise Stopped("the mutants' run was stopped")
        # its own session: a Ctrl-C on the terminal reaches this runner only, which stops robot once
        proc = subprocess.Popen(argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        _RUNS.add(proc)
    # if this runner is killed, the watcher stops the run as an interrupt would (SIGTERM: its teardowns run)
    guard = reaper.guard_group(proc.pid, "robot", grace=GRACE)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        stop_robot(proc, grace)
        return None
    finally:
        stop_robot(proc, grace)
        reaper.release(guard)
        with _RUNS_LOCK:
            _RUNS.discard(proc)


Command = Callable[[Workspace, Mutant, str, list[str], Path], list[str]]


def run_mutant(mutant: Mutant, timeout: float = 900.0, keep: bool = False, say: Say | None = None,
               command: Command = robot_command, baseline: bool = False) -> Verdict:
    """Switch ``mutant`` on in a copy of the platform and run its tests, suite by suite, until one kills it.

    With ``baseline`` the same tests run first on an unchanged copy: when they do not all pass there,
    a failure with the mutant proves nothing and the verdict is ``baseline-fails``."""
    started = time.monotonic()
    if baseline:
        control = _run(replace(mutant, patches=()), timeout, keep, say, command)
        if control.status != SURVIVED:
            where = f" ({control.test})" if control.test else ""
            return Verdict(mutant, BASELINE_FAILS, time.monotonic() - started, control.test,
                           f"without the defect the tests end {control.status}{where}: {control.first_line}",
                           control.outcomes)
    verdict = _run(mutant, timeout, keep, say, command)
    verdict.seconds = time.monotonic() - started
    return verdict


def _run(mutant: Mutant, timeout: float, keep: bool, say: Say | None, command: Command) -> Verdict:
    started = time.monotonic()
    try:
        workspace = create(mutant)
    except MutantError as error:
        return Verdict(mutant, BROKEN, time.monotonic() - started, message=str(error))
    try:
        verdict = Verdict(mutant, SURVIVED)
        for suite in dict.fromkeys(test.suite for test in mutant.tests):
            names = [test.name for test in mutant.tests if test.suite == suite]
            outdir = workspace.results / suite.removesuffix(".robot")
            outdir.mkdir(parents=True, exist_ok=True)
            code = run_robot(command(workspace, mutant, suite, names, outdir), outdir / "console.txt", timeout)
            latest = _verdict(mutant, suite, names, outdir, code, timeout)
            if latest.status != SURVIVED or verdict.status == SURVIVED:  # an earlier off-target run is kept
                verdict = latest
            verdict.seconds = time.monotonic() - started
            if verdict.status in (KILLED, STILLBORN, BROKEN):
                break
        if keep and say is not None:
            say(f"  kept: {workspace.root}")
        return verdict
    finally:
        if not keep:
            workspace.remove()


def _verdict(mutant: Mutant, suite: str, names: list[str], outdir: Path, code: int | None,
             timeout: float) -> Verdict:
    output = outdir / "output.xml"
    tail = _tail(outdir / "console.txt")
    if code is None:
        return Verdict(mutant, OFF_TARGET, message=f"the run of {suite} took longer than {timeout:g} s and was "
                                                   f"stopped; robot's last words: {tail}")
    if not output.is_file() and "contains no tests matching" in tail:
        return Verdict(mutant, BROKEN, message=f"{suite} has no test named {', '.join(names)}: "
                                               "update the mutant (environments/local/mutants/catalogue.py)")
    if not output.is_file():
        return Verdict(mutant, STILLBORN, message=f"robot wrote no result for {suite} (exit {code}): {tail}")
    outcomes = read_outcomes(output)
    missing = [name for name in names if name not in {outcome.name for outcome in outcomes}]
    if missing:
        return Verdict(mutant, BROKEN, message=f"{suite} has no test named {', '.join(missing)}: "
                                               "update the mutant (environments/local/mutants/catalogue.py)",
                       outcomes=outcomes)
    status, decisive = judge(mutant, outcomes)
    test = TestRef(suite, decisive.name) if decisive else None
    return Verdict(mutant, status, test=test, message=decisive.message if decisive else "", outcomes=outcomes)


def _tail(console: Path) -> str:
    with contextlib.suppress(OSError):
        lines = [line for line in console.read_text(errors="replace").splitlines() if line.strip()]
        return " | ".join(lines[-3:])
    return "(no console output)"
