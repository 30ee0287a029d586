"""A run stopped by SIGINT or SIGTERM at any point leaves nothing behind.

(a) the supervisor itself, signalled while starting (after 1 s, after 5 s) and once ready, and
    stopped by the death (SIGKILL) of its ``--parent-pid``;
(b) ``robot`` running a suite that starts the environment with EnvironmentKit and creates a
    session, stopped by SIGINT (Robot Framework's graceful stop) and by SIGTERM.

Each run gets a temp folder of its own (``TMPDIR``), so every temp directory the run makes can be
told apart from other runs on the machine; a :class:`RunWatch` follows its process tree. After the
run: no process of its tree, no container / volume / network labelled with its run id, no temp
directory of it (the machine's leak audit, narrowed to the run) and an empty private temp folder.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .stackrun import REPO, StackRun
from .watch import RunWatch

EXIT_BUDGET = 90.0  # a signalled run must be gone within this (start in progress + stop)


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}


def _temp_leftovers(tmp: Path) -> list[str]:
    return [f"temp entry {p}" for p in sorted(tmp.iterdir())]


def _let_the_stack_stop(watch: RunWatch, timeout: float = 60.0) -> None:
    """After a forced kill, give the run's own stop (the --parent-pid watch) time before the temp folder goes."""
    deadline = time.monotonic() + timeout
    while watch.alive() and time.monotonic() < deadline:
        time.sleep(0.5)


def _drop_run_logs(watch: RunWatch, robot_pid: int) -> None:
    """After a passing run: remove the logs it wrote into the repository's results/ (kept on failure)."""
    for run in watch.run_ids:
        shutil.rmtree(REPO / "results" / "components" / run, ignore_errors=True)
    for log in (REPO / "results" / "environment").glob(f"supervisor-*-{robot_pid}.log"):
        log.unlink(missing_ok=True)


def _assert_clean(watch: RunWatch, tmp: Path, what: str) -> None:
    left = watch.wait_clean(30) + _temp_leftovers(tmp)
    assert not left, f"{what} left behind: {left}"


class PrivateStackRun(StackRun):
    def __init__(self, workdir: Path, tmp: Path, parent_pid: int | None = None) -> None:
        super().__init__(workdir, parent_pid=parent_pid)
        self.tmp = tmp

    def start(self) -> PrivateStackRun:
        from .watch import RunWatch

        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=REPO, start_new_session=True,
                                            env=_env(self.tmp))
        self.watch = RunWatch(self.process.pid).start()
        return self


@pytest.mark.parametrize(("signame", "when"),
                         [("SIGINT", 1.0), ("SIGTERM", 5.0), ("SIGTERM", "ready"), ("SIGINT", "ready")],
                         ids=["sigint-after-1s", "sigterm-after-5s", "sigterm-when-ready", "sigint-when-ready"])
def test_supervisor_signalled_leaves_nothing(signame: str, when: float | str, tmp_path: Path,
                                             private_tmp: Path) -> None:
    run = PrivateStackRun(tmp_path, private_tmp).start()
    try:
        if when == "ready":
            run.wait_ready()
        else:
            time.sleep(float(when))  # the point of interruption is the test's subject, not a wait
        started = time.monotonic()
        run.send(getattr(signal, signame))
        code = run.wait_exit(EXIT_BUDGET)
        took = time.monotonic() - started
    finally:
        if run.process.poll() is None:
            run.stop(signal.SIGKILL, 10)
            _let_the_stack_stop(run.watch)
    assert code is not None, f"the supervisor did not exit within {EXIT_BUDGET:g} s of {signame}: {run.log()[-1500:]}"
    assert "[stack] stopped" in run.log(), run.log()[-1500:]
    assert not run.ready_file.exists(), "the ready file outlived the stack"
    _assert_clean(run.watch, private_tmp, f"the supervisor stopped by {signame} after {when}")
    print(f"{signame} after {when}: exit {code} in {took:.1f} s")


def test_supervisor_stops_when_its_parent_is_killed(tmp_path: Path, private_tmp: Path) -> None:
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:
        run = PrivateStackRun(tmp_path, private_tmp, parent_pid=parent.pid).start()
        try:
            run.wait_ready()
            started = time.monotonic()
            parent.kill()
            parent.wait(5)
            code = run.wait_exit(EXIT_BUDGET)
            took = time.monotonic() - started
        finally:
            if run.process.poll() is None:
                run.stop(signal.SIGKILL, 10)
                _let_the_stack_stop(run.watch)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)
    assert code is not None, f"the supervisor outlived its parent by {EXIT_BUDGET:g} s: {run.log()[-1500:]}"
    assert "parent" in run.log() and "is gone" in run.log(), run.log()[-1500:]
    _assert_clean(run.watch, private_tmp, "the supervisor whose parent died")
    print(f"parent SIGKILL: supervisor exit {code} in {took:.1f} s")


SUITE = """\
*** Settings ***
Library         EnvironmentKit
Library         PlatformKit
Suite Setup     Start Test Environment    api_replicas=1    k8s_agents=1    docker_agents=1    timeout=3 min

*** Test Cases ***
A Session Runs Until The Run Is Stopped
    ${admin} =    Get Credentials    admin
    ${url} =    Get API URL
    Connect To Platform    ${url}
    Log In As    ${admin}[username]    ${admin}[password]
    ${name} =    Create Session From Template    desktop-docker
    Wait Until Session Is    ${name}    running    timeout=90s
    Log To Console    SESSION-RUNNING ${name}
    Wait Until Session Is    ${name}    hibernated    timeout=5 min
"""


def _wait_for_text(path: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"'{text}' never came (robot {process.poll()}): {path.read_text(errors='replace')[-2000:]}")


@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_robot_run_stopped_by_signal_leaves_nothing(signame: str, tmp_path: Path, private_tmp: Path) -> None:
    suite = tmp_path / "interrupted.robot"
    suite.write_text(SUITE)
    results = tmp_path / "results"
    console = tmp_path / "console.txt"
    with open(console, "wb") as out:
        robot = subprocess.Popen([sys.executable, "-m", "robot", "--outputdir", str(results), "--console", "verbose",
                                  str(suite)], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 cwd=REPO, env=_env(private_tmp), start_new_session=True)
    watch = RunWatch(robot.pid).start()
    try:
        _wait_for_text(console, "SESSION-RUNNING", robot, 150)
        started = time.monotonic()
        robot.send_signal(getattr(signal, signame))
        try:
            code = robot.wait(EXIT_BUDGET)
        except subprocess.TimeoutExpired:
            code = None
        took = time.monotonic() - started
    finally:
        watch.stop()
        if robot.poll() is None:
            os.killpg(robot.pid, signal.SIGKILL)
            robot.wait(10)
            _let_the_stack_stop(watch)
    text = console.read_text(errors="replace")
    assert code is not None, f"robot did not stop within {EXIT_BUDGET:g} s of {signame}: {text[-2000:]}"
    assert code != 0 and "Execution terminated by signal" in text, text[-2000:]
    assert (results / "output.xml").exists(), "a gracefully stopped run still writes its output"
    assert watch.run_ids, f"the watch never saw the stack's run id: {sorted(watch.seen.values())[:5]}"
    _assert_clean(watch, private_tmp, f"robot stopped by {signame}")
    _drop_run_logs(watch, robot.pid)
    print(f"robot {signame}: exit {code} in {took:.1f} s")


def test_a_wait_passes_robots_stop_signal_through() -> None:
    """Robot Framework stops a run on SIGINT/SIGTERM by raising ExecutionFailed inside the running
    keyword; a kit wait must let it through instead of counting it as one more failed try
    (else the run goes on until the wait's timeout -- minutes)."""
    from robot.errors import ExecutionFailed

    from kitcore import Wait

    def probe() -> bool:
        raise ExecutionFailed("Execution terminated by signal", exit=True)

    started = time.monotonic()
    with pytest.raises(ExecutionFailed):
        Wait("a session to hibernate", timeout=30, poll=0.1).until(probe)
    assert time.monotonic() - started < 1.0


START_SUITE = """\
*** Settings ***
Library         EnvironmentKit
Suite Setup     Start Test Environment    api_replicas=1    k8s_agents=1    docker_agents=1    timeout=3 min

*** Test Cases ***
Never Reached
    Log    the run is stopped while the environment starts
"""


@pytest.fixture(scope="module")
def stopped_while_starting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    """``robot`` stopped by SIGINT while ``Start Test Environment`` waits for the stack."""
    work = tmp_path_factory.mktemp("stopped-while-starting")
    tmp = Path(tempfile.mkdtemp(prefix="relia-", dir="/tmp"))
    tmp.chmod(0o755)
    suite = work / "starting.robot"
    suite.write_text(START_SUITE)
    robot = subprocess.Popen([sys.executable, "-m", "robot", "--outputdir", str(work / "results"), str(suite)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                             cwd=REPO, env=_env(tmp), start_new_session=True)
    watch = RunWatch(robot.pid).start()
    try:
        deadline = time.monotonic() + 60
        while not any(tmp.glob("kit-stack-*")) and time.monotonic() < deadline and robot.poll() is None:
            time.sleep(0.1)  # until the supervisor is visibly starting
        started = any(tmp.glob("kit-stack-*"))
        robot.send_signal(signal.SIGINT)
        code = robot.wait(EXIT_BUDGET)
        _let_the_stack_stop(watch)
        yield {"watch": watch, "tmp": tmp, "code": code, "started": started}
        _drop_run_logs(watch, robot.pid)
    finally:
        watch.stop()
        if robot.poll() is None:
            os.killpg(robot.pid, signal.SIGKILL)
            robot.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


def test_robot_stopped_while_starting_leaves_no_process_or_container(stopped_while_starting: dict) -> None:
    run = stopped_while_starting
    assert run["started"] and run["code"] != 0
    left = run["watch"].wait_clean(30)
    assert not left, f"robot stopped during 'Start Test Environment' left behind: {left}"


def test_robot_stopped_while_starting_leaves_no_temp_dir(stopped_while_starting: dict) -> None:
    run = stopped_while_starting
    run["watch"].wait_clean(30)
    left = _temp_leftovers(run["tmp"])
    assert not left, f"robot stopped during 'Start Test Environment' left behind: {left}"


def test_a_stop_that_cannot_remove_everything_says_so(tmp_path: Path, private_tmp: Path) -> None:
    """If the stack cannot remove what it made (here: its engine socket vanished), the supervisor must
    not report a clean stop: it names what failed and how to clean up, and exits non-zero."""
    import docker

    from environments.local.images import ensure_busybox_image

    run = PrivateStackRun(tmp_path, private_tmp).start()
    name = f"kit-relia-stuck-{os.getpid()}"
    try:
        topology = run.wait_ready()
        url = topology["engine"]["url"]
        client = docker.DockerClient(base_url=url, timeout=60, version="1.41")
        try:
            client.containers.create(ensure_busybox_image(client), ["sleep", "60"], name=name,
                                     labels={"streamspace.kit/run": run.run_id})
        finally:
            client.close()
        os.unlink(url.removeprefix("unix://"))  # the socket vanishes (e.g. a temp cleaner ran)
        code = run.stop(signal.SIGTERM, EXIT_BUDGET)
    finally:
        if run.process.poll() is None:
            run.stop(signal.SIGKILL, 10)
        subprocess.run(["podman", "rm", "-f", name], capture_output=True, timeout=60, check=False)
    log = run.log()
    assert code == 3, f"exit {code}: {log[-1500:]}"
    assert "could not remove everything" in log and "Fix:" in log and run.run_id in log, log[-1500:]
    _assert_clean(run.watch, private_tmp, "the stack whose engine socket vanished (after removing its container)")


HOLDING_TEST = '''
import time


def test_hold(redis_server, postgres_server, vnc_server):
    print("READY", redis_server.process.pid, postgres_server.process.pid, vnc_server.process.pid, flush=True)
    time.sleep(120)
'''


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP", "SIGINT"])
def test_the_kits_own_tests_stopped_by_signal_stop_their_backends(signame: str, tmp_path: Path,
                                                                  private_tmp: Path) -> None:
    """A CI system cancels ``./kit test`` with a signal to its process group while pytest runs: the
    backends pytest's fixtures started (Redis, PostgreSQL, a VNC server) must go with it."""
    (tmp_path / "test_hold.py").write_text(HOLDING_TEST)
    console = tmp_path / "console.txt"
    with open(console, "wb") as out:
        run = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-s", "-p", "tests.conftest",
                                "-p", "no:cacheprovider", "--basetemp", str(tmp_path / "basetemp"),
                                str(tmp_path / "test_hold.py")],
                               stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=REPO,
                               env=_env(private_tmp), start_new_session=True)
    try:
        _wait_for_text(console, "READY", run, 60)
        pids = [int(p) for p in console.read_text().split("READY", 1)[1].split()[:3]]
        os.killpg(run.pid, getattr(signal, signame))
        code = run.wait(60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(10)
    assert code != 0, "an interrupted test run must not exit 0"
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in pids if _running(pid)]
        time.sleep(0.1)
    for pid in alive:  # a failing run must not leave them for the next test
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not alive, f"{signame} left these backends running: {alive}; {console.read_text()[-1500:]}"
    assert _temp_leftovers(private_tmp) == []


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
