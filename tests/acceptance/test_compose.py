"""The compose environment: the compose file, and the driver's logic against the real container engine.

- static: compose.yaml parses, uses only the image the kit builds, and names every component;
- busybox: a small compose project of busybox containers brought up with the real compose tool
  on the real engine, then kill / stop / start / restart / partition / heal through the driver's
  code (seconds);
- slow: the whole reference stack as containers -- every API replica answers /health and the
  Kubernetes agent registers (builds the platform image the first time).
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest
import yaml

from environments.compose.stack import HERE, RUN_LABEL, ComposeSettings, ComposeStack, find_compose_tool
from kitcore import KitError

COMPOSE_FILE = HERE / "compose.yaml"
COMPONENTS = {"redis", "postgres", "kubernetes", "api-1", "api-2", "api-3", "kubelet",
              "k8s-agent-a", "k8s-agent-b", "k8s-agent-c"}


def compose_tool_or_skip() -> None:
    if not (shutil.which("docker-compose") or shutil.which("podman-compose")):
        pytest.skip("no compose tool: apt-get install docker-compose (the compose environment needs one)")


# -- static ----------------------------------------------------------------------------------------
def test_compose_file_uses_only_the_image_the_kit_builds_and_names_every_component() -> None:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    services = data["services"]
    assert set(services) == COMPONENTS
    for name, service in services.items():
        assert service["image"].startswith("${KIT_PLATFORM_IMAGE:?"), name
        assert "build" not in service, name
        assert service["restart"] == "no", name  # a killed component stays down until the test starts it
        assert service["labels"][RUN_LABEL] == "${KIT_RUN_ID:-compose}", name
        assert service["labels"]["streamspace.kit/component"] == name
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:${KIT_PORT_"), f"{name} publishes {port} beyond loopback"
    agents = [services[f"k8s-agent-{c}"]["command"] for c in "abc"]
    assert all(cmd[cmd.index("--agent-id") + 1] == "k8s-compose" for cmd in agents)  # ONE agent id
    assert not any("password" in " ".join(map(str, s.get("command", []))).lower().replace("pwfile", "")
                   .replace("pg.password", "") for s in services.values())


def test_compose_tool_validates_the_file(tmp_path: Path) -> None:
    compose_tool_or_skip()
    stack = ComposeStack(ComposeSettings(), client=None, engine_url="unix:///nowhere.sock", image="kit/platform:x")
    stack.secrets_dir = tmp_path
    config = yaml.safe_load(stack.run_tool("config", timeout=60))
    assert {s["image"] for s in config["services"].values()} == {"kit/platform:x"}
    assert set(config["networks"]) == {"hub", "db", "agents", "kube"}


def test_variables_file_selects_compose() -> None:
    data = yaml.safe_load((HERE / "variables.yaml").read_text())
    assert data["ENVIRONMENT"] == "compose"
    settings = ComposeSettings.load(data.get)
    assert settings.agent_id == "k8s-compose" and settings.test_projects == "kit-*"
    assert settings.timings["leaseDuration"] == 3.0


def test_missing_compose_tool_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _: None)
    with pytest.raises(KitError, match="apt-get install docker-compose"):
        find_compose_tool()


# -- busybox project on the real engine ----------------------------------------------------------------
BUSYBOX_COMPOSE = """\
services:
  api-1:
    image: ${KIT_PLATFORM_IMAGE}
    command: ["sh", "-c", "mkdir -p /www && echo ok > /www/health && exec httpd -f -p 8000 -h /www"]
    ports: ["127.0.0.1:${KIT_PORT_API_1}:8000"]
    networks: [hub, agents]
    labels: {streamspace.kit/run: "${KIT_RUN_ID}"}
  redis:
    image: ${KIT_PLATFORM_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    networks: [hub]
    stop_grace_period: 1s
    labels: {streamspace.kit/run: "${KIT_RUN_ID}"}
  k8s-agent-a:
    image: ${KIT_PLATFORM_IMAGE}
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"]
    networks: [agents]
    stop_grace_period: 1s
    labels: {streamspace.kit/run: "${KIT_RUN_ID}"}
networks:
  hub: {}
  agents: {}
"""


@pytest.fixture(scope="module")
def busybox_stack(engine, tmp_path_factory):
    compose_tool_or_skip()
    from environments.local.images import ensure_busybox_image

    client = engine.client()
    folder = tmp_path_factory.mktemp("compose-busybox")
    (folder / "compose.yaml").write_text(BUSYBOX_COMPOSE)
    settings = ComposeSettings(file=str(folder / "compose.yaml"), api_replicas=1, agent_replicas=1)
    stack = ComposeStack(settings, client, engine.url, ensure_busybox_image(client))
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        assert stack.containers() == {}, "down left containers behind"


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def test_busybox_project_topology_reads_published_ports(busybox_stack) -> None:
    data = busybox_stack.topology()
    (api,) = data["api"]
    assert api["running"] and api["url"].startswith("http://127.0.0.1:")
    assert http_ok(api["url"] + "/health")
    assert data["redis"]["running"] is True
    assert data["project"].startswith("kit-")
    assert all(c.labels[RUN_LABEL] == busybox_stack.run_id for c in busybox_stack.containers().values())


def test_kill_stop_start_restart_act_on_the_container(busybox_stack) -> None:
    stack = busybox_stack
    url_before = stack.topology()["api"][0]["url"]
    stack.component("api-1", "kill")
    assert stack.topology()["api"][0]["running"] is False
    assert not http_ok(url_before + "/health")
    stack.component("api-1", "start")
    data = stack.topology()
    assert data["api"][0]["running"] is True
    assert data["api"][0]["url"] == url_before  # same host port after a restart
    stack.component("redis", "stop")
    assert stack.topology()["redis"]["running"] is False
    stack.component("redis", "start")
    stack.component("redis", "restart")
    assert stack.topology()["redis"]["running"] is True
    from kitcore import Wait

    Wait("api-1 answers again", timeout=10, poll=0.2).until(lambda: http_ok(url_before + "/health"))


def test_partition_disconnects_the_shared_network_and_heal_restores_it(busybox_stack) -> None:
    stack = busybox_stack
    stack.partition("redis", "api-1")  # they share only "hub"
    cuts = stack.partitions()
    assert [c["network"].rsplit("_", 1)[-1] for c in cuts] == ["hub"]
    redis = stack.containers()["redis"]
    assert not any(n.endswith("_hub") for n in stack._networks(redis))
    assert any(n.endswith("_hub") for n in stack._networks(stack.containers()["api-1"]))
    with pytest.raises(KitError, match="share no network"):
        stack.partition("redis", "api-1")
    stack.heal()
    assert stack.partitions() == []
    assert any(n.endswith("_hub") for n in stack._networks(redis))


def test_unknown_component_and_foreign_project_are_refused(busybox_stack) -> None:
    with pytest.raises(KitError, match="known: api-1, k8s-agent-a, redis"):
        busybox_stack.component("api-9", "kill")
    with pytest.raises(KitError, match="Unknown component action"):
        busybox_stack.component("api-1", "explode")
    saved = busybox_stack.guard.patterns
    busybox_stack.guard.patterns = ["prod-*"]
    try:
        with pytest.raises(KitError, match="not allow-listed"):
            busybox_stack.component("api-1", "kill")
    finally:
        busybox_stack.guard.patterns = saved
    assert busybox_stack.topology()["api"][0]["running"] is True


# -- the whole stack (slow) -------------------------------------------------------------------------------
@pytest.mark.slow
def test_whole_stack_comes_up_answers_health_and_the_agent_registers(engine) -> None:
    compose_tool_or_skip()
    from environments.compose.driver import ComposeDriver

    driver = ComposeDriver(engine_url=engine.url)
    try:
        topology = driver.start(timeout=240)
        data = topology.data
        assert [r["name"] for r in data["api"] if r["running"]] == ["api-1", "api-2", "api-3"]
        for url in topology.api_urls():
            with urllib.request.urlopen(f"{url}/health", timeout=3) as answer:
                assert json.loads(answer.read())["status"] == "healthy"
        assert driver.stack.online_agents(data["api"][0]["url"]) == ["k8s-compose"]
        assert topology.agent_leader("kubernetes") in {"k8s-agent-a", "k8s-agent-b", "k8s-agent-c"}
        assert "passfile=" in data["postgres"]["dsn"]
        # a crash of one API replica: the others keep answering, and it comes back on the same URL
        url = topology.api_replica("api-2")["url"]
        assert driver.kill("api-2").is_running("api-2") is False
        assert urllib.request.urlopen(f"{topology.api_urls()[0]}/health", timeout=3).status == 200
        assert driver.start_component("api-2").api_replica("api-2")["url"] == url
    finally:
        driver.stop()
    assert driver.stack is None


def test_readiness_says_what_is_missing_and_which_containers_stopped(busybox_stack) -> None:
    ready, seen = busybox_stack.readiness()
    assert ready is False  # httpd answers /health, but no agent can be online on busybox
    assert seen == "all API replicas healthy; agents online: none"
    busybox_stack.component("api-1", "stop")
    try:
        ready, seen = busybox_stack.readiness()
        assert ready is False
        assert seen.startswith("API replicas answering /health: none of 1; not running: api-1 exited")
    finally:
        busybox_stack.component("api-1", "start")
