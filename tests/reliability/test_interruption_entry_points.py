"""Every entry point of the kit, interrupted by every usual signal, leaves nothing of its run.

The matrix: ``./kit stack``, ``./kit run`` (one scenario test; also in parallel, on a shared stack),
pytest holding the shared fixtures' servers, a benchmark (``benchmarks/container_start.py``) and an
image build (a throwaway image whose ``RUN`` step takes a minute), each stopped by SIGINT to its
process group (Ctrl-C), by SIGTERM to its process group (a CI system's cancel) and by SIGKILL of the
process that started the servers and containers (then nothing of the run's own cleanup runs: the
kit's watcher, :mod:`kitcore.reaper`, must do it). pytest's SIGINT/SIGTERM/SIGHUP and robot's
SIGINT/SIGTERM are in test_interruption.py. Each run has a private ``TMPDIR``; a :class:`RunWatch`
follows its process tree and the run's engine label. Afterwards, within seconds: no process of the
tree, no container, volume or network of the run, no temp entry in its ``TMPDIR``. The same check on
a kit whose watcher is switched off fails; the watcher leaves alone what a process released; a
killed run's private Docker engine is stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest

from environments.local.dockerd import dockerd_binary

from .build_driver import step_marker
from .stackrun import REPO
from .watch import RunWatch

SIGNALS = ("SIGINT-group", "SIGTERM-group", "SIGKILL-parent")
EXIT_BUDGET = 90.0  # the interrupted entry point must exit within this
CLEAN_BUDGET = 20.0  # and what it started must be gone this long after it exited
SMALL = ("--api-replicas", "1", "--k8s-agents", "1", "--docker-agents", "1")


class Run:
    """One entry point started in a process group of its own, its console in a file, its tree watched."""

    def __init__(self, argv: list[str], workdir: Path, tmp: Path) -> None:
        self.console = workdir / "console.txt"
        self.tmp = tmp
        env = {**os.environ, "TMPDIR": str(tmp), "PYTHONUNBUFFERED": "1"}
        with open(self.console, "wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=REPO, env=env, start_new_session=True)
        self.watch = RunWatch(self.process.pid).start()

    def text(self) -> str:
        return self.console.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float) -> str:
        """The console line holding ``text``, once it is printed."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.text().splitlines():
                if text in line:
                    return line
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"'{text}' never came (exit {self.process.poll()}): {self.text()[-2000:]}")

    def interrupt(self, how: str, parent: int) -> None:
        """``SIGINT-group`` / ``SIGTERM-group`` to the run's process group, ``SIGKILL-parent`` to ``parent``."""
        self.watch.sample()  # the tree as it is at the interruption
        if how == "SIGKILL-parent":
            os.kill(parent, signal.SIGKILL)
        else:
            os.killpg(self.process.pid, getattr(signal, how.split("-")[0]))

    def wait_exit(self) -> int | None:
        try:
            return self.process.wait(EXIT_BUDGET)
        except subprocess.TimeoutExpired:
            return None

    def leftovers(self, budget: float = CLEAN_BUDGET) -> list[str]:
        """What of the run is still there ``budget`` seconds after its end at the latest."""
        deadline = time.monotonic() + budget
        left = self.watch.wait_clean(budget)
        while True:  # a watcher removes a killed process's temp folders just after the process is gone
            # the image build lock is one file for every run of the machine, kept on purpose
            temps = [f"temp entry {p}" for p in sorted(self.tmp.iterdir())]
            if not temps or time.monotonic() >= deadline:
                return left + temps
            time.sleep(0.2)

    def kill_all(self) -> None:
        """After a failed case: nothing of it may stay for the next case."""
        self.watch.stop()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        left = []
        for pid, created in [key for key in self.watch.seen if key[0] != self.process.pid]:
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if proc.create_time() == created:  # the run's process, not a reused pid
                    proc.terminate()  # an X server removes its lock files on SIGTERM
                    left.append(proc)
        _, still = psutil.wait_procs(left, timeout=5)
        for proc in still:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


def _check(run: Run, how: str, what: str, budget: float = CLEAN_BUDGET) -> None:
    started = time.monotonic()
    code = run.wait_exit()
    assert code is not None, f"{what} did not exit within {EXIT_BUDGET:g} s of {how}: {run.text()[-2000:]}"
    left = run.leftovers(budget)
    took = time.monotonic() - started
    run.watch.stop()
    assert not left, f"{what} stopped by {how} left behind (after {took:.1f} s): {left}; {run.text()[-1500:]}"
    print(f"{what} {how}: exit {code}; nothing left {took:.1f} s after the signal")


def _robot_or_self(run: Run, name: str) -> int:
    """The pid of the first process of the run's tree whose command line holds ``name`` (else the root)."""
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(run.process.pid).children(recursive=True):
            if name in " ".join(child.cmdline()):
                return child.pid
    return run.process.pid


@pytest.mark.parametrize("how", SIGNALS)
def test_kit_stack_interrupted_leaves_nothing(how: str, tmp_path: Path, private_tmp: Path) -> None:
    """``./kit stack`` (it execs the supervisor: the supervisor is the parent of every server)."""
    ready = tmp_path / "topology.json"
    run = Run(["./kit", "stack", *SMALL, "--ready-file", str(ready), "--results", str(tmp_path / "results"),
               "--quiet"], tmp_path, private_tmp)
    try:
        run.wait_for("ready in", 180)
        run.watch.run_ids.add(run.wait_for("local stack", 1).split("local stack ", 1)[1].split()[0])
        run.interrupt(how, run.process.pid)
        _check(run, how, "./kit stack")
        assert not ready.exists(), "the ready file outlived the stack"
    finally:
        run.kill_all()


@pytest.mark.parametrize("how", SIGNALS)
def test_kit_run_interrupted_leaves_nothing(how: str, tmp_path: Path, private_tmp: Path) -> None:
    """``./kit run`` with one scenario test, stopped once the stack its suite setup started is ready
    (``SIGKILL-parent``: robot, the parent of the stack's supervisor, which stops by its ``--parent-pid``)."""
    run = Run(["./kit", "run", "--outputdir", str(tmp_path / "results"), "--test", KIT_RUN_TEST], tmp_path, private_tmp)
    robot = 0
    try:
        _stack_ready_of(run, 240)
        robot = _robot_or_self(run, "bin/robot")
        assert robot != run.process.pid, f"no robot under ./kit run: {sorted(run.watch.seen.values())[:5]}"
        run.interrupt(how, robot)
        _check(run, how, "./kit run")
        if how != "SIGKILL-parent":
            assert "Execution terminated by signal" in run.text(), run.text()[-1500:]
        _drop_run_logs(run.watch, robot)
    finally:
        run.kill_all()


KIT_RUN_TEST = "Only The Leader Runs Sessions"


@pytest.mark.parametrize("how", SIGNALS)
def test_kit_run_in_parallel_interrupted_leaves_nothing(how: str, tmp_path: Path, private_tmp: Path) -> None:
    """``./kit run --processes 2`` (EnvironmentKit.parallel: one shared stack, pabot's processes attached to
    it) with suite 02, which runs on a stack of its own, stopped once that stack is up (``SIGKILL-parent``:
    the runner, whose stack stops by its ``--parent-pid`` and whose pabot the kit's watcher stops; the
    suite alone would run on for most of a minute)."""
    run = Run(["./kit", "run", "--processes", "2", "--outputdir", str(tmp_path / "results"),
               "--suite", PARALLEL_SUITE], tmp_path, private_tmp)
    runner = 0
    try:
        deadline = time.monotonic() + 240
        while len(_supervisors(run)) < 2:  # the shared stack's, then the suite's own
            assert time.monotonic() < deadline and run.process.poll() is None, run.text()[-2000:]
            time.sleep(0.2)
        _stack_ready_of(run, 240)
        runner = _robot_or_self(run, "EnvironmentKit.parallel")
        assert runner != run.process.pid, f"no parallel runner under ./kit run: {sorted(run.watch.seen.values())[:5]}"
        run.interrupt(how, runner)
        _check(run, how, "./kit run --processes 2")
        _drop_run_logs(run.watch, runner)
    finally:
        run.kill_all()


PARALLEL_SUITE = "02 Kubernetes Leader Election"


def _supervisors(run: Run) -> set[str]:
    """The parents of the local stacks the run started so far (EnvironmentKit's driver gives each supervisor
    --ready-fd and --parent-pid: the runner for the shared stack, a robot process for a suite's own)."""
    run.watch.sample()
    return {cmd.split("--parent-pid ", 1)[1].split()[0] for cmd in run.watch.seen.values()
            if "environments.local" in cmd and "--ready-fd " in cmd and "--parent-pid " in cmd}


def _stack_ready_of(run: Run, timeout: float) -> None:
    """Returns once the run's stack supervisor said it is ready (in its log, which the local driver
    keeps in results/environment/ named after the robot process it was given as --parent-pid)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and run.process.poll() is None:
        for cmdline in list(run.watch.seen.values()):
            if "environments.local" in cmdline and "--ready-fd " in cmdline and "--parent-pid " in cmdline:
                parent = cmdline.split("--parent-pid ", 1)[1].split()[0]
                for log in (REPO / "results" / "environment").glob(f"supervisor-*-{parent}.log"):
                    if " ready in " in log.read_text(errors="replace"):
                        return
        time.sleep(0.2)
    raise AssertionError(f"the stack of ./kit run was not ready within {timeout:g} s (exit {run.process.poll()}): "
                         f"{run.text()[-2000:]}")


def _drop_run_logs(watch: RunWatch, robot_pid: int) -> None:
    """After a passing case: remove the logs the run wrote into the repository's results/ (kept on failure)."""
    for run_id in watch.run_ids:
        shutil.rmtree(REPO / "results" / "components" / run_id, ignore_errors=True)
    for log in (REPO / "results" / "environment").glob(f"supervisor-*-{robot_pid}.log"):
        log.unlink(missing_ok=True)


HOLDING_TEST = '''
import time


def test_hold(redis_server, postgres_server, vnc_server):
    print("READY", redis_server.process.pid, postgres_server.process.pid, vnc_server.process.pid, flush=True)
    time.sleep(120)
'''


def _holding_pytest(tmp_path: Path, private_tmp: Path, *plugins: str) -> Run:
    (tmp_path / "test_hold.py").write_text(HOLDING_TEST)
    extra = [arg for plugin in plugins for arg in ("-p", plugin)]
    return Run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "tests.conftest", "-p", "no:cacheprovider", *extra,
                "--basetemp", str(tmp_path / "basetemp"), str(tmp_path / "test_hold.py")], tmp_path, private_tmp)


def test_pytest_killed_stops_its_fixtures_servers(tmp_path: Path, private_tmp: Path) -> None:
    """``./kit test``'s pytest killed (SIGKILL): the Redis, PostgreSQL and VNC servers its session
    fixtures started, and PostgreSQL's temp cluster, must go with it (SIGINT/SIGTERM/SIGHUP:
    test_interruption.py)."""
    run = _holding_pytest(tmp_path, private_tmp)
    try:
        pids = [int(p) for p in run.wait_for("READY", 60).split()[1:4]]
        run.interrupt("SIGKILL-parent", run.process.pid)
        _check(run, "SIGKILL-parent", "pytest holding fixtures")
        alive = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        assert not alive, f"pytest's SIGKILL left these fixture servers running: {alive}"
    finally:
        run.kill_all()


def test_the_check_fails_when_the_kit_leaves_its_servers(tmp_path: Path, private_tmp: Path) -> None:
    """The same run with the kit's watcher switched off (tests/reliability/no_reaper.py): the check
    must fail and name the servers and the temp cluster left behind."""
    run = _holding_pytest(tmp_path, private_tmp, "tests.reliability.no_reaper")
    try:
        run.wait_for("READY", 60)
        run.interrupt("SIGKILL-parent", run.process.pid)
        with pytest.raises(AssertionError) as failure:
            _check(run, "SIGKILL-parent", "pytest holding fixtures", budget=5)
        text = str(failure.value)
        assert "left behind" in text and "redis-server" in text and "postgres" in text and "kit-pg-" in text, text
    finally:
        run.kill_all()


@pytest.mark.parametrize("how", SIGNALS)
def test_benchmark_interrupted_leaves_nothing(how: str, tmp_path: Path, private_tmp: Path) -> None:
    """``benchmarks/container_start.py`` stopped while it starts containers on an engine of its own."""
    run = Run([sys.executable, "-m", "benchmarks.container_start", "--runs", "200"], tmp_path, private_tmp)
    try:
        run.watch.run_ids.add(run.wait_for("containers are labelled", 60).rsplit("=", 1)[1].strip())
        run.wait_for("busybox image", 60)
        run.interrupt(how, run.process.pid)
        _check(run, how, "the container start benchmark")
    finally:
        run.kill_all()


@pytest.mark.parametrize("how", SIGNALS)
def test_image_build_interrupted_leaves_nothing(how: str, tmp_path: Path, private_tmp: Path) -> None:
    """An image build stopped in its ``RUN`` step: no context dir, no build container, no image of it."""
    tag = f"streamspace-kit/interrupted:{uuid.uuid4().hex[:10]}"
    run = Run([sys.executable, "-m", "tests.reliability.build_driver", tag], tmp_path, private_tmp)
    try:
        run.wait_for("BUILDING", 90)
        marker = step_marker(tag)
        deadline = time.monotonic() + 60
        while not _build_steps_running(marker) and time.monotonic() < deadline and run.process.poll() is None:
            time.sleep(0.1)  # until the RUN step runs in the engine
        assert _build_steps_running(marker), f"the build's RUN step never ran: {run.text()[-1500:]}"
        run.interrupt(how, run.process.pid)
        _check(run, how, "an image build")
        images = _podman("images", "-a", "--filter", "label=streamspace.kit/image=interrupted-build",
                         "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")
        images += [line for line in _podman("images", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}") if tag in line]
        assert not images, f"the build stopped by {how} left images: {images}"
        assert not _build_steps_running(marker), "a build step still runs after the build was stopped"
    finally:
        run.kill_all()


def _podman(*args: str) -> list[str]:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=30, check=False)
    return [line for line in result.stdout.splitlines() if line.strip()]


def _build_steps_running(marker: str) -> list[str]:
    """Processes of the slow ``RUN`` step of one build on this machine."""
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if marker in cmdline:
            found.append(f"process {proc.pid}: {cmdline[:120]}")
    return found


KILLED_ENGINE_USER = """\
import os, sys, docker
from environments.local.dockerd import PrivateDocker
from environments.local.images import ensure_busybox_image
engine = PrivateDocker().acquire()
client = docker.DockerClient(base_url=engine.url, version="1.41", timeout=60)
client.containers.create(ensure_busybox_image(client), ["true"], name=sys.argv[1])
print(engine.pid, engine.runtime, flush=True)
os.kill(os.getpid(), 9)
"""


@pytest.mark.skipif(dockerd_binary() is None or os.geteuid() != 0,
                    reason="the private Docker engine needs root and dockerd (Debian's docker.io)")
def test_a_killed_runs_private_docker_engine_is_stopped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last run holding the private Docker engine killed (SIGKILL) with a container in it: its
    watcher drops the lease and stops the engine, which leaves no container, state, bridge or runtime
    folder (the same run with the watcher off is test_leak_audit's planted leftover)."""
    from environments.local import leaks
    from environments.local.dockerd import bridge_name

    home = tmp_path / "docker-home"
    monkeypatch.setenv("KIT_DOCKER_HOME", str(home))  # the audit and the child look at this home
    name = f"kit-relia-killed-{uuid.uuid4().hex[:6]}"
    errors = tmp_path / "stderr.txt"
    with open(errors, "wb") as err:  # a file: the watcher, which inherits it, must not hold up this call
        killed = subprocess.run([sys.executable, "-c", KILLED_ENGINE_USER, name], stdout=subprocess.PIPE,
                                stderr=err, text=True, timeout=120, check=False, cwd=REPO)
    assert killed.returncode == -9 and killed.stdout.strip(), f"the engine user did not run: {errors.read_text()}"
    pid, runtime = killed.stdout.split()
    started = time.monotonic()
    deadline = started + 60

    def mine() -> list[str]:
        return [item for item in leaks.audit() if str(home) in item or runtime in item or bridge_name(home) in item
                or item.startswith(f"process {pid}:") or name in item]

    left = mine()
    while left and time.monotonic() < deadline:
        time.sleep(0.5)
        left = mine()
    took = time.monotonic() - started
    assert not left, f"the private Docker engine of a run killed {took:.0f} s ago is still there: {left}"
    print(f"private Docker engine of a killed run: gone {took:.1f} s after the kill")


WATCHED = """\
import os, subprocess, sys, tempfile
from pathlib import Path
from environments.local import reaper
kept, left = Path(tempfile.mkdtemp(prefix="kit-kept-")), Path(tempfile.mkdtemp(prefix="kit-left-"))
server = subprocess.Popen(["sleep", "60"], start_new_session=True)
reaper.guard_group(server.pid, "sleeper")
reaper.release(reaper.guard_path(kept))  # removed by the process itself: the watcher must leave it
reaper.guard_path(left)
print(server.pid, kept, left, flush=True)
os.kill(os.getpid(), 9)
"""


def test_the_watcher_removes_only_what_is_still_registered(private_tmp: Path) -> None:
    """A killed process's watcher stops its registered server and removes its registered temp dir
    within seconds, and leaves alone what the process released."""
    env = {**os.environ, "TMPDIR": str(private_tmp)}
    with open(private_tmp / "stderr.txt", "wb") as err:
        killed = subprocess.run([sys.executable, "-c", WATCHED], stdout=subprocess.PIPE, stderr=err, text=True,
                                timeout=60, check=False, cwd=REPO, env=env)
    pid_text, kept, left = killed.stdout.split()
    deadline = time.monotonic() + 10
    while (Path(left).exists() or _running(int(pid_text))) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        assert not _running(int(pid_text)), "the killed process's server still runs"
        assert not Path(left).exists(), f"the killed process's temp dir {left} is still there"
        assert Path(kept).is_dir(), f"the watcher removed {kept}, which the process had released"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(int(pid_text), signal.SIGKILL)
        Path(private_tmp / "stderr.txt").unlink()
        shutil.rmtree(kept, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
