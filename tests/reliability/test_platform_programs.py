"""A platform given as programs gets the wiring its platform file promises: addresses, links,
environment, secrets, pod names and hostnames, and the same fault hooks as the reference platform.

The programs are a probe (tests/support/platform_probe.py) that reports what it was given.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from environments.local.leaks import _podman, leftover_engine_objects
from environments.local.platforms import load_platform
from environments.local.procs import BackendError

from .stackrun import REPO, StackRun

PROBE = REPO / "tests" / "support" / "platform_probe.py"


def probe_platform(folder: Path, engine_objects: bool = False) -> Path:
    reports = folder / "reports"
    reports.mkdir(parents=True)
    common = {"PROBE_NAME": "{name}", "PROBE_POD": "{pod}", "KUBECONFIG": "{kubeconfig}"}
    spec = {
        "name": "probe",
        "seed": "reference",
        "parts": {
            "api": {
                "command": ["{python}", str(PROBE), "api", str(reports)],
                "pod": "probe-api-{index}", "health": "/health",
                "env": {**common, "PROBE_HOST": "{host}", "PROBE_PORT": "{port}", "PROBE_REDIS_HOST": "{redis_host}",
                        "PROBE_REDIS_PORT": "{redis_port}", "PROBE_DB_HOST": "{db_host}", "PROBE_DB_PORT": "{db_port}",
                        "PROBE_JWT": "{secret.jwt}", "PROBE_ADMIN": "{secret.admin}"},
            },
            "kubernetes-agent": {
                "command": ["{python}", str(PROBE), "agent", str(reports)],
                "pod": "probe-k8s-{letter}",
                "env": {**common, "PROBE_AGENT_ID": "{agent_id}", "PROBE_CONTROL_PLANE": "{api_service}",
                        "PROBE_AGENT_KEY": "{secret.agent_api_key}"},
            },
            "docker-agent": {
                "command": ["{python}", str(PROBE), "agent", str(reports)],
                "pod": "probe-docker-{letter}", "hostname": True,
                "env": {**common, "PROBE_AGENT_ID": "{agent_id}", "PROBE_CONTROL_PLANE": "{api_service}",
                        "PROBE_ENGINE": "{engine_url}",
                        **({"PROBE_NETWORK": "probe-{run_id}"} if engine_objects else {})},
            },
        },
        "leader": {"lease": "probe-lease-{agent_id}", "redisKey": "probe:leader:{agent_id}"},
        "engineObjects": {"network": "probe-{run_id}", "sessionLabel": "session-id",
                          "sessionVolumePrefix": "probe-{session}-"} if engine_objects else {},
        "timings": {"leaseDuration": 7, "heartbeatInterval": 2},
    }
    path = folder / "probe.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture(scope="module")
def probe_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StackRun, Path]]:
    folder = tmp_path_factory.mktemp("probe-platform")
    platform = probe_platform(folder)
    run = StackRun(folder / "run", ("--platform", str(platform), "--api-replicas", "2", "--k8s-agents", "1",
                                    "--docker-agents", "1"))
    run.start()
    try:
        run.wait_ready()
        yield run, folder / "reports"
    finally:
        code = run.stop()
        left = run.watch.wait_clean(20)
        assert code is not None, f"the supervisor did not stop on SIGTERM: {run.log()[-1500:]}"
        assert not left, f"the probe platform left things behind: {left}"


def reports(folder: Path) -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text()) for path in folder.glob("*.json")}


def control(run: StackRun, method: str, path: str, body: object = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{run.topology['control']}{path}", data,
                                     {"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def leftover_engine_objects_text() -> str:
    return "\n".join(leftover_engine_objects())


def sha(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def test_every_replica_gets_its_own_address_pod_name_and_links(probe_stack: tuple[StackRun, Path]) -> None:
    run, folder = probe_stack
    seen = reports(folder)
    assert sorted(seen) == ["api-1", "api-2", "docker-agent-a", "k8s-agent-a"]
    for api in run.topology["api"]:
        env = seen[api["name"]]["env"]
        assert api["url"] == f"http://{env['PROBE_HOST']}:{env['PROBE_PORT']}"
        assert env["PROBE_POD"] == api["pod"] == f"probe-api-{api['name'][-1]}"
        assert seen[api["name"]]["reaches"] == {"redis": True, "postgres": True,
                                                "kubernetes": "v1.31.0-kit-stand-in"}
        # links, not the backends themselves: that is what the fault hooks cut
        assert (env["PROBE_REDIS_HOST"], env["PROBE_REDIS_PORT"]) != tuple(
            run.topology["redis"]["url"].removeprefix("redis://").split("/")[0].split(":"))
    assert len({seen[a["name"]]["env"]["PROBE_HOST"] for a in run.topology["api"]}) == 2
    replicas = run.topology["agents"]["kubernetes"]["replicas"]
    assert [(r["name"], r["pod"]) for r in replicas] == [("k8s-agent-a", "probe-k8s-a")]
    assert run.topology["agents"]["kubernetes"]["lease"] == "probe-lease-k8s-local"
    assert run.topology["agents"]["docker"]["lockKey"] == "probe:leader:docker-local"
    assert run.topology["platform"]["name"] == "probe"


def test_the_platform_files_timings_are_the_topologys(probe_stack: tuple[StackRun, Path]) -> None:
    run, _ = probe_stack
    assert run.topology["timings"] == {"leaseDuration": 7, "heartbeatInterval": 2}


def test_a_part_marked_hostname_runs_under_its_pod_name(probe_stack: tuple[StackRun, Path]) -> None:
    _, folder = probe_stack
    seen = reports(folder)
    assert seen["docker-agent-a"]["hostname"] == "probe-docker-a"
    assert seen["k8s-agent-a"]["hostname"] == socket.gethostname()


def test_secrets_reach_the_environment_never_a_command_line_or_a_log(probe_stack: tuple[StackRun, Path]) -> None:
    run, folder = probe_stack
    seen = reports(folder)
    creds = run.topology["credentials"]
    assert seen["api-1"]["env"]["PROBE_JWT"] == sha(creds["jwtSecret"])
    assert seen["api-1"]["env"]["PROBE_ADMIN"] == sha(creds["admin"]["password"])
    # no seed issued a key of its own: the agent gets the stack's agent key
    assert seen["k8s-agent-a"]["env"]["PROBE_AGENT_KEY"] == sha(creds["agentKey"])
    for report in seen.values():
        assert not any(secret in " ".join(report["argv"])
                       for secret in (creds["jwtSecret"], creds["agentKey"], creds["admin"]["password"]))
    for log in run.component_logs.glob("*.log"):
        text = log.read_text(errors="replace")
        assert creds["jwtSecret"] not in text and creds["admin"]["password"] not in text, log.name


def test_agents_reach_the_api_through_a_service_that_survives_a_dead_replica(
        probe_stack: tuple[StackRun, Path]) -> None:
    run, folder = probe_stack
    service = reports(folder)["k8s-agent-a"]["env"]["PROBE_CONTROL_PLANE"]
    served_by = set()
    for _ in range(4):
        request = urllib.request.Request(f"http://{service}/api/v1/agents/register", b'{"agentId": "t"}',
                                         {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            served_by.add(json.loads(response.read())["servedBy"])
    assert served_by == {"probe-api-1", "probe-api-2"}  # spread over the replicas
    topology = control(run, "POST", "/components/api-2/kill")
    assert [a["running"] for a in topology["api"]] == [True, False]
    try:
        for _ in range(4):
            request = urllib.request.Request(f"http://{service}/api/v1/agents/register", b'{"agentId": "t"}',
                                             {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=5) as response:
                assert json.loads(response.read())["servedBy"] == "probe-api-1"
    finally:
        control(run, "POST", "/components/api-2/start")


def test_a_partition_cuts_the_link_the_component_was_given(probe_stack: tuple[StackRun, Path]) -> None:
    run, folder = probe_stack
    env = reports(folder)["api-1"]["env"]
    client = redis.Redis(host=env["PROBE_REDIS_HOST"], port=int(env["PROBE_REDIS_PORT"]), socket_timeout=1,
                         socket_connect_timeout=1, retry=None)
    assert client.ping()
    control(run, "POST", "/partitions", {"a": "api-1", "b": "redis"})
    try:
        with pytest.raises(redis.exceptions.TimeoutError):
            client.ping()
    finally:
        control(run, "DELETE", "/partitions")
    client.close()
    fresh = redis.Redis(host=env["PROBE_REDIS_HOST"], port=int(env["PROBE_REDIS_PORT"]), socket_timeout=2)
    deadline = time.monotonic() + 5
    assert fresh.ping() and time.monotonic() < deadline
    fresh.close()


def test_a_missing_program_is_refused_before_anything_starts(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMSPACE_PROGRAMS", raising=False)
    started = time.monotonic()
    with pytest.raises(BackendError, match=r"api program is missing.*streamspace-api is not an executable.*Fix:"):
        load_platform("streamspace", tmp_path)
    with pytest.raises(BackendError, match=r"no folder was given.*--programs DIR.*STREAMSPACE_PROGRAMS"):
        load_platform("streamspace", None)
    assert time.monotonic() - started < 1


def test_a_platform_file_that_puts_a_secret_on_a_command_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"parts": {"api": {"command": ["prog", "--jwt", "{secret.jwt}"]}}}))
    with pytest.raises(BackendError, match=r"secret on its command line.*Fix: pass secrets in the part's env"):
        load_platform(str(path))
    path.write_text(yaml.safe_dump({"parts": {"api": {"command": ["prog", "{nope}"]}}}))
    with pytest.raises(BackendError, match=r"unknown value \{nope\}.*known values:"):
        load_platform(str(path))


def test_what_the_platform_makes_in_the_engine_is_removed_when_the_stack_stops(tmp_path: Path) -> None:
    import docker

    run = StackRun(tmp_path / "run", ("--platform", str(probe_platform(tmp_path, engine_objects=True)),
                                      "--api-replicas", "1", "--k8s-agents", "0", "--docker-agents", "1")).start()
    try:
        topology = run.wait_ready()
        network = f"probe-{topology['runId']}"
        assert topology["engine"]["network"] == network
        client = docker.DockerClient(base_url=topology["engine"]["url"], timeout=30)
        deadline = time.monotonic() + 30
        while not client.containers.list(all=True, filters={"network": network}):
            assert time.monotonic() < deadline, "the probe agent made no container"
            time.sleep(0.2)
        # the stack made the session network with the run's label: the leak audit would see the container
        assert network in leftover_engine_objects_text()
        client.close()
    finally:
        code = run.stop()
    assert code == 0, run.log()[-1500:]
    # the engine's storage outlives the kit's engine service: ask the engine's own command line
    assert topology["engine"]["kind"] == "podman", "this check reads podman's storage"
    assert _podman("ps", "-a", "--filter", "label=session-id=s1", "--format", "{{.Names}}") == []
    assert "probe-s1-home" not in _podman("volume", "ls", "--format", "{{.Name}}")
    assert network not in _podman("network", "ls", "--format", "{{.Name}}")


def test_a_platform_whose_agents_all_exit_fails_at_once_with_their_log(tmp_path: Path) -> None:
    spec = yaml.safe_load(probe_platform(tmp_path).read_text())
    spec["parts"]["docker-agent"]["command"] = ["sh", "-c", "echo the agent gives up; exit 3"]
    path = tmp_path / "dying.yaml"
    path.write_text(yaml.safe_dump(spec))
    run = StackRun(tmp_path / "run", ("--platform", str(path), "--api-replicas", "1", "--k8s-agents", "0",
                                      "--docker-agents", "1")).start()
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"(?s)every docker-agent replica exited.*the agent gives up"):
        run.wait_ready()
    assert time.monotonic() - started < 30, "the stack waited for agents that had all exited"
    assert run.wait_exit(30) == 2
    run.watch.wait_clean(20)
