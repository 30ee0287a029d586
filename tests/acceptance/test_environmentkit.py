"""EnvironmentKit: the local driver spawning a supervisor (the tests' fake one, real processes
behind the documented control API), attaching to a running stack, and the Robot suite."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import robot
from robot.api import ExecutionResult

from EnvironmentKit.drivers import LocalDriver, create_driver
from kitcore import KitError

HERE = Path(__file__).resolve().parent
SERVERS = HERE / "test_environmentkit_servers.py"
FAKE = [sys.executable, str(SERVERS), "supervisor"]


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def start_fake(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen, Path]:
    ready = tmp_path / "topology.json"
    proc = subprocess.Popen([*FAKE, "--ready-file", str(ready), "--parent-pid", str(os.getpid()), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 20
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_fake(proc)
            raise RuntimeError("the fake supervisor did not become ready")
        time.sleep(0.05)
    return proc, ready


def stop_fake(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture
def fake_stack(tmp_path):
    """A running fake stack (2 API replicas, 2 k8s agent replicas, real Redis); its topology file."""
    proc, ready = start_fake(tmp_path, "--redis")
    try:
        yield ready
    finally:
        stop_fake(proc)


def run_suite(suite: str, outdir: Path, **variables: str) -> tuple[int, str]:
    """Run one .robot file; returns Robot's rc and output.xml. Failures are printed for pytest."""
    rc = robot.run(str(HERE / suite), outputdir=str(outdir), variable=[f"{k}:{v}" for k, v in variables.items()],
                   console="none", loglevel="DEBUG")
    for test in ExecutionResult(str(outdir / "output.xml")).suite.all_tests:
        if test.status != "PASS":
            print(f"{suite}: {test.name}: {test.status}: {test.message}")
    return rc, (outdir / "output.xml").read_text()


def test_local_driver_starts_acts_and_stops_the_supervisor(tmp_path):
    driver = LocalDriver(command=FAKE, extra_args=["--redis"], log_dir=tmp_path)
    topology = driver.start(timeout=30)
    try:
        pid = driver.process.pid
        assert driver.started_here
        assert topology.api_names() == ["api-1", "api-2"]
        assert topology.is_running("api-1") is True
        after = driver.kill("api-1")
        assert after.is_running("api-1") is False
        assert driver.start_component("api-1").is_running("api-1") is True
        assert driver.agent_leader("kubernetes") == "k8s-agent-a"
        driver.partition("api-1", "redis")
        assert driver.partitions() == [{"a": "api-1", "b": "redis"}]
        driver.heal()
        assert driver.partitions() == []
        with pytest.raises(KitError, match=r"HTTP 404 unknown component"):
            driver.kill("api-7")
    finally:
        driver.stop(15)
    assert wait_gone(pid), "the supervisor should have exited"
    assert driver.control is None


def test_a_supervisor_that_dies_is_reported_with_its_log_tail(tmp_path):
    driver = LocalDriver(command=FAKE, extra_args=["--fail-on-start"], log_dir=tmp_path)
    with pytest.raises(KitError) as error:
        driver.start(timeout=20)
    text = str(error.value)
    assert "stopped before it was ready" in text
    assert "exited with code 3" in text
    assert "cannot start (asked to fail)" in text
    assert f"whole log: {tmp_path}" in text


def test_a_supervisor_that_dies_is_seen_even_when_its_child_holds_the_pipe(tmp_path):
    """A process the supervisor forked keeps the write end of the topology pipe open: the driver
    still sees the supervisor exit and fails at once, not at the end of the timeout."""
    script = ("import os, sys, time\n"
              "if os.fork() == 0:\n    time.sleep(4)\n    os._exit(0)\n"
              "print('forked a child, now failing', flush=True)\nsys.exit(5)\n")
    driver = LocalDriver(command=[sys.executable, "-c", script], log_dir=tmp_path)
    started = time.monotonic()
    with pytest.raises(KitError) as error:
        driver.start(timeout=30)
    assert time.monotonic() - started < 3.5
    assert "stopped before it was ready" in str(error.value)
    assert "exited with code 5" in str(error.value)
    assert "forked a child, now failing" in str(error.value)


def test_a_supervisor_that_is_not_ready_in_time_is_stopped(tmp_path):
    driver = LocalDriver(command=[sys.executable, "-c", "import time, sys; print('starting slowly', flush=True); "
                                  "time.sleep(60)"], log_dir=tmp_path)
    started = time.monotonic()
    with pytest.raises(KitError) as error:
        driver.start(timeout=1.5)
    assert time.monotonic() - started < 6
    assert "not ready in time" in str(error.value)
    assert "starting slowly" in str(error.value)
    assert driver.process is None


def test_unknown_environments_name_the_known_ones():
    with pytest.raises(KitError, match=r"No environment driver for 'mars'.*known now: .*local.*ENVIRONMENT_DRIVER"):
        create_driver("mars")
    with pytest.raises(KitError, match=r"module 'environments.mars.driver' of environment 'mars' does not exist"):
        create_driver("mars", module="environments.mars.driver")


def test_a_driver_module_registers_itself_when_first_asked_for(monkeypatch):
    import types

    from EnvironmentKit import drivers

    module = types.ModuleType("venus_driver")
    module.register = lambda: drivers.register_driver("venus", lambda **kw: LocalDriver(command=FAKE, **kw))
    monkeypatch.setitem(sys.modules, "venus_driver", module)
    monkeypatch.setattr(drivers, "_DRIVERS", dict(drivers._DRIVERS))
    made = create_driver("venus", module="venus_driver", api_replicas=1)
    assert isinstance(made, LocalDriver)
    assert "--api-replicas" in made.argv(7)


def test_library_stops_what_it_started_when_the_interpreter_exits(tmp_path):
    """Outside Robot (no listener calls): the atexit hook must stop the supervisor."""
    pid_file = tmp_path / "pid"
    script = textwrap.dedent(f"""
        from EnvironmentKit import EnvironmentKit, register_driver
        from EnvironmentKit.drivers import LocalDriver
        from EnvironmentKit import state
        register_driver("local", lambda **kw: LocalDriver(command={FAKE!r}, log_dir={str(tmp_path)!r}, **kw))
        lib = EnvironmentKit()
        lib.run_keyword("Start Test Environment", [], {{"timeout": "30s"}})
        open({str(pid_file)!r}, "w").write(str(state.current().driver.process.pid))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                            cwd=HERE.parent.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    pid = int(pid_file.read_text())
    assert wait_gone(pid), f"supervisor {pid} still runs after its parent exited"


def test_attach_never_stops_the_stack(fake_stack):
    data = json.loads(fake_stack.read_text())
    driver = create_driver("local")
    topology = driver.attach(data)
    assert not driver.started_here
    assert topology.control_url == data["control"]
    driver.stop(5)
    again = create_driver("local")
    again.attach(data)
    assert again.topology().api_names() == ["api-1", "api-2"]
    again.stop(5)


def test_robot_suite(fake_stack, tmp_path):
    rc, output = run_suite("environmentkit.robot", tmp_path, TOPOLOGY_FILE=str(fake_stack))
    assert rc == 0, f"{rc} Robot test(s) failed; see {tmp_path}/log.html"
    assert 'pass="6" fail="0"' in output
    log = (tmp_path / "log.html").read_text()
    for secret in ("fake-admin-secret", "fake-alice-secret", "fake-jwt-secret", "ab" * 32):
        assert secret not in output, f"a credential leaked into output.xml: {secret[:4]}..."
        assert secret not in log, f"a credential leaked into log.html: {secret[:4]}..."
    # attached, not started: the stack still answers
    assert json.loads(fake_stack.read_text())["control"]


def test_kit_topology_environment_variable_attaches(fake_stack, monkeypatch):
    from EnvironmentKit import EnvironmentKit, state

    monkeypatch.setenv("KIT_TOPOLOGY", str(fake_stack))
    library = EnvironmentKit()
    try:
        topology = library.run_keyword("Start Test Environment", [], {})
        assert topology["runId"] == "fake0001"
        assert topology["credentials"]["admin"]["password"] == "***"
        assert state.current().attached
        assert library.run_keyword("Get API Replica Names", [], {}) == ["api-1", "api-2"]
    finally:
        library.run_keyword("Stop Test Environment", [], {})
    assert state.current() is None
    # detaching never stops a stack someone else started
    control = json.loads(fake_stack.read_text())["control"]
    import requests

    assert requests.get(f"{control}/topology", timeout=5).status_code == 200
