"""LoadKit on Locust in distributed mode against the local reference stack: a master and two workers
on loopback list sessions through the platform API with a real token; the figures come back from
both workers; a wrong token and a stopped API show up as failures; missing workers are named; an
interrupted or killed run leaves no process behind; the token reaches no log or CSV file."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from robot.api.types import Secret

from kitcore import CleanupListener, KitError
from LoadKit import LoadKit
from LoadKit.distributed import GeneratorSettings, run_distributed, to_result
from LoadKit.operations import HttpOperation
from LoadKit.summary import summarise
from tests.support.stack import local_stack

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 150.0

pytestmark = [pytest.mark.engine]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The local stack with one replica of each program (load needs the API, not the HA topology)."""
    work = tmp_path_factory.mktemp("loadkit-distributed-stack")
    with local_stack(work, START_TIMEOUT, api_replicas=1, k8s_agents=1, docker_agents=1) as topology:
        yield topology


@pytest.fixture(scope="module")
def api(stack: dict[str, Any]) -> tuple[str, str]:
    """The API's URL and an admin token from a real login."""
    url = stack["api"][0]["url"]
    admin = stack["credentials"]["admin"]
    answer = requests.post(f"{url}/api/v1/auth/login", json={"username": admin["username"],
                                                            "password": admin["password"]}, timeout=10)
    assert answer.status_code == 200, f"admin login failed: {answer.status_code} {answer.text[:200]}"
    return url, answer.json()["token"]


def call(lib: LoadKit, name: str, *args: Any, **kwargs: Any) -> Any:
    return lib.run_keyword(name, list(args), kwargs)


def node_processes() -> list[psutil.Process]:
    """The Locust master and worker processes this test process started (directly)."""
    found = []
    for child in psutil.Process().children():
        try:
            if any("locust_node.py" in part for part in child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_two_workers_list_sessions_and_the_figures_come_back(api, tmp_path, monkeypatch):
    url, token = api
    monkeypatch.chdir(tmp_path)  # outside Robot, Locust's logs and CSV go under results/ here
    lib = LoadKit(engine="locust", workers=2)
    call(lib, "Define HTTP Operation", "list-sessions", "GET", f"{url}/api/v1/sessions", token=Secret(token))
    summary = call(lib, "Run Load", "list-sessions", count=300, concurrency=4, plot=False)
    assert summary["generator"] == "locust"
    assert summary["count"] == 300 and summary["failed"] == 0, summary
    assert summary["workers"] == 2
    per_worker = summary["requests_per_worker"]
    assert sorted(per_worker) == ["1", "2"] and all(n > 0 for n in per_worker.values()), per_worker
    assert sum(per_worker.values()) == 300
    assert summary["locust"]["requests"] == 300 and summary["locust"]["failures"] == 0, summary["locust"]
    assert summary["throughput_per_s"] > 0 and 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["max_ms"]
    assert call(lib, "Get Load Figure", "count") == 300
    assert not node_processes(), "the master and workers must be gone after the run"
    written = files_under(tmp_path / "results" / "locust")
    assert any(p.name.endswith("_stats.csv") for p in written), written
    assert any(p.name == "worker-2.log" for p in written), written
    for path in written:
        assert token not in path.read_text(errors="replace"), f"the token is in {path.name}"


def test_a_wrong_token_shows_up_as_failures(api, tmp_path):
    url, _ = api
    operation = HttpOperation("GET", f"{url}/api/v1/sessions", token="not-a-valid-token")
    result = run_distributed(operation, "wrong token", 40, 2, None, 60.0, GeneratorSettings("locust", 2),
                             CleanupListener("test"), tmp_path)
    errors = [s.error for s in result.samples]
    assert len(errors) == 40 and all(e == "OperationFailed: HTTP 401" for e in errors), set(errors)
    figures = result.extra["figures"]
    assert figures["locust"]["failures"] == 40, figures["locust"]
    assert all(n > 0 for n in figures["requests_per_worker"].values()), figures
    for path in files_under(tmp_path):
        assert "not-a-valid-token" not in path.read_text(errors="replace"), f"the token is in {path.name}"


def test_a_stopped_api_shows_up_as_failures(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with socket.socket() as sock:  # a port nothing listens on: the API as it is once stopped
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    lib = LoadKit(engine="locust", workers=2)
    summary = call(lib, "Run Load", f"GET http://127.0.0.1:{port}/api/v1/sessions", count=20, concurrency=2,
                   plot=False)
    assert summary["failed"] == 20 and summary["success_rate"] == 0.0, summary
    refused = ("NewConnectionError", "MaxRetryError", "ProtocolError")
    assert all(kind.startswith(refused) for kind in summary["errors"]), summary["errors"]


def test_missing_workers_are_named(tmp_path):
    # room for two local workers to start on a busy machine; the third never comes
    settings = GeneratorSettings("locust", workers=3, local_workers=2, worker_timeout=10.0)
    operation = HttpOperation("GET", "http://127.0.0.1:9/never")
    with pytest.raises(KitError, match=r"Only 2 of 3 Locust workers connected to the master within 10 s"):
        run_distributed(operation, "short of workers", 10, 3, None, 30.0, settings, CleanupListener("test"), tmp_path)
    assert not node_processes()


def test_an_interrupted_run_leaves_no_process(api, tmp_path):
    url, token = api
    listener = CleanupListener("test")
    operation = HttpOperation("GET", f"{url}/api/v1/sessions", token=token)
    failure: list[BaseException] = []

    def long_run() -> None:
        try:
            run_distributed(operation, "interrupted", 10**7, 2, 20.0, 120.0, GeneratorSettings("locust", 2),
                            listener, tmp_path)
        except BaseException as error:  # noqa: BLE001 - kept for the assertion below
            failure.append(error)

    thread = threading.Thread(target=long_run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while len(node_processes()) < 3:
        assert time.monotonic() < deadline, f"the master and two workers did not start: {node_processes()}"
        time.sleep(0.1)
    started = node_processes()
    listener.run_all()  # what Robot's end of test (or interpreter exit) does for an interrupted run
    _, alive = psutil.wait_procs(started, timeout=20)
    assert not alive, f"still running after the cleanup: {alive}"
    thread.join(30)
    assert not thread.is_alive(), "the interrupted run did not return"
    assert failure and isinstance(failure[0], KitError), failure


def test_a_killed_test_run_takes_its_locust_processes_with_it(api, tmp_path):
    """Even a test run that is killed outright (no cleanup can run) leaves no master or worker behind."""
    url, _ = api
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(ROOT / 'libraries')!r}]\n"
        "from pathlib import Path\n"
        "from kitcore import CleanupListener\n"
        "from LoadKit.distributed import GeneratorSettings, run_distributed\n"
        "from LoadKit.operations import HttpOperation\n"
        f"run_distributed(HttpOperation('GET', {url + '/api/v1/health'!r}), 'killed', 10**7, 2, 20.0, 120.0,\n"
        f"                GeneratorSettings('locust', 2), CleanupListener('test'), Path({str(tmp_path)!r}))\n")
    runner = psutil.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while len(nodes := [c for c in runner.children() if "locust_node.py" in " ".join(c.cmdline())]) < 3:
            assert runner.poll() is None, "the run ended before its workers started"
            assert time.monotonic() < deadline, "the master and two workers did not start"
            time.sleep(0.1)
        runner.kill()
        runner.wait(10)
        _, alive = psutil.wait_procs(nodes, timeout=20)
        assert not alive, f"left behind by a killed run: {alive}"
    finally:
        if runner.poll() is None:
            runner.kill()


def test_the_operation_travels_to_a_worker_unchanged():
    operation = HttpOperation("POST", "http://api.test/api/v1/sessions", body={"user": "u"},
                              headers={"X-Trace": "1"}, token="t0ken", expect_status=[202], timeout=3.0)
    again = HttpOperation.from_spec(json.loads(json.dumps(operation.spec())))
    assert (again.method, again.url, again.body, again.expect, again.timeout_s) == \
        ("POST", "http://api.test/api/v1/sessions", b'{"user": "u"}', {202}, 3.0)
    assert again.headers == operation.headers and again.headers["Authorization"] == "Bearer t0ken"


def test_only_http_operations_and_enough_users_run_on_locust(tmp_path):
    settings = GeneratorSettings("locust", 2)
    with pytest.raises(KitError, match="cannot run on Locust workers"):
        run_distributed(lambda: None, "callable", 10, 2, None, 10.0, settings, CleanupListener("test"), tmp_path)
    with pytest.raises(KitError, match="Concurrency 1 is lower than the 2 Locust workers"):
        run_distributed(HttpOperation("GET", "http://127.0.0.1:9/"), "one user", 10, 1, None, 10.0, settings,
                        CleanupListener("test"), tmp_path)
    with pytest.raises(KitError, match="No load generator 'pabot'"):
        GeneratorSettings("pabot")
    with pytest.raises(KitError, match="local_workers=3 is not between 0 and workers=2"):
        GeneratorSettings("locust", 2, local_workers=3)


def test_results_become_the_kits_figures():
    data = {"started": 100.0, "stopped_early": "", "locust": {"requests": 3, "failures": 1},
            "samples": [[1, 100.5, 0.010, None, None], [2, 100.6, 0.030, None, None],
                        [2, 100.7, 0.002, "OperationFailed: HTTP 401", "no"]],
            "workers": {"1": {"cpu_s": 0.1, "wall_s": 1.0}, "2": {"cpu_s": 0.5, "wall_s": 1.0}}}
    result = to_result(data, 2, None)
    assert [round(s.start, 3) for s in result.samples] == [0.0, 0.1, 0.2]
    assert round(result.wall, 3) == 0.202
    summary = summarise(result, "x")
    assert (summary["count"], summary["failed"], summary["errors"]) == (3, 1, {"OperationFailed: HTTP 401": 1})
    assert summary["requests_per_worker"] == {"1": 1, "2": 2} and summary["workers"] == 2
    assert summary["client_cpu_percent"] == 50.0  # the busiest worker, not the sum
    assert summary["p50_ms"] == 10.0 and summary["max_ms"] == 30.0


def test_a_worker_started_elsewhere_is_attached(api, tmp_path):
    """One worker started by the kit, one started by hand (as on another machine) with the documented
    command, before the master listens: both take part."""
    url, token = api
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    elsewhere = subprocess.Popen([sys.executable, str(ROOT / "libraries" / "LoadKit" / "locust_node.py"), "worker",
                                  "--master-host", "127.0.0.1", "--master-port", str(port)],
                                 stdout=subprocess.DEVNULL, stderr=(tmp_path / "elsewhere.log").open("w"),
                                 start_new_session=True)
    try:
        settings = GeneratorSettings("locust", workers=2, local_workers=1, master_port=port, worker_timeout=20.0)
        result = run_distributed(HttpOperation("GET", f"{url}/api/v1/sessions", token=token), "attached", 100, 2,
                                 None, 60.0, settings, CleanupListener("test"), tmp_path / "run")
        figures = result.extra["figures"]
        assert figures["requests_per_worker"] == {"1": 50, "2": 50}, figures
        assert all(s.ok for s in result.samples) and len(result.samples) == 100
        elsewhere.wait(20)  # the master tells every worker to quit at the end
    finally:
        if elsewhere.poll() is None:
            os.killpg(elsewhere.pid, signal.SIGKILL)
            elsewhere.wait(10)
    assert token not in (tmp_path / "elsewhere.log").read_text()


def test_a_robot_run_stopped_by_a_signal_stops_its_locust_processes(stack, tmp_path):
    """SIGTERM (as a CI system cancels a job) during a Locust run: Robot stops the keyword, the master and
    the workers end with it."""
    suite = tmp_path / "long_load.robot"
    suite.write_text(
        "*** Settings ***\nLibrary    LoadKit    engine=locust    workers=2\n\n"
        "*** Test Cases ***\nLong Load\n"
        f"    Run Load    GET {stack['api'][0]['url']}/api/v1/health    count=10000000    concurrency=2"
        "    rate=20    max_duration=120s    plot=${False}\n")
    robot = psutil.Popen([sys.executable, "-m", "robot", "--pythonpath", str(ROOT / "libraries"), "--outputdir",
                          str(tmp_path / "out"), "--console", "none", str(suite)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(nodes := [c for c in robot.children() if "locust_node.py" in " ".join(c.cmdline())]) < 3:
            assert robot.poll() is None, "Robot ended before the workers started"
            assert time.monotonic() < deadline, "the master and two workers did not start"
            time.sleep(0.1)
        robot.send_signal(signal.SIGTERM)
        assert robot.wait(30) != 0
        _, alive = psutil.wait_procs(nodes, timeout=20)
        assert not alive, f"left behind by a stopped Robot run: {alive}"
    finally:
        if robot.poll() is None:
            robot.kill()


def test_a_target_rate_paces_the_calls_and_max_duration_ends_the_run(api, tmp_path):
    url, token = api
    operation = HttpOperation("GET", f"{url}/api/v1/sessions", token=token)
    settings = GeneratorSettings("locust", 2)
    paced = summarise(run_distributed(operation, "paced", 21, 2, 20.0, 60.0, settings, CleanupListener("test"),
                                      tmp_path / "paced"), "paced")
    # 2 users at 20/s together: each starts a call every 0.1 s, so 11 calls on one worker take at least 1 s
    assert paced["count"] == 21 and paced["duration_s"] >= 0.95 and paced["throughput_per_s"] <= 22, paced
    began = time.monotonic()
    capped = run_distributed(operation, "capped", 10**6, 2, 20.0, 2.0, settings, CleanupListener("test"),
                             tmp_path / "capped")
    assert time.monotonic() - began < 20, "max_duration did not end the run"
    assert capped.stopped_early == "stopped after max_duration 2 s"
    assert 20 <= len(capped.samples) <= 60, len(capped.samples)
