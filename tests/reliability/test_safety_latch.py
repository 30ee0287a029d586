"""The safety latch: every destructive keyword refuses a target that is not allow-listed, and the
target is left as it was.

``DESTRUCTIVE`` are the keyword-name prefixes that mean "this breaks or removes something". Every
keyword of every library whose name starts with one of them must either have a refusal test
here (``REFUSALS``) or a written reason why it needs none (``EXEMPT``) -- so a new destructive
keyword that forgets the latch fails :func:`test_every_destructive_keyword_is_covered`.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .kits import end_of_test, kw, new
from .stackrun import REPO, StackRun

LIBRARIES = ("KubeKit", "DockerKit", "RedisKit", "DatabaseKit", "VncKit", "PlatformKit", "EnvironmentKit",
             "ChaosKit", "ProbesKit", "LoadKit")
DESTRUCTIVE = ("Delete", "Kill", "Remove", "Stop", "Scale", "Disconnect", "Pause", "Partition", "Lose",
               "Migrate Down", "Restart", "Force", "Rollback", "Terminate", "Hibernate")
NOT_ALLOWED = "10.99.*"  # an allow-list that matches none of the local servers
MIGRATIONS = REPO / "tests" / "data" / "migrations" / "streamspace_updown"

EXEMPT = {
    ("PlatformKit", "Terminate Session"): "a platform API call as a logged-in user; the platform's own "
                                          "authorization (owner or admin) decides",
    ("PlatformKit", "Terminate Sessions"): "as Terminate Session",
    ("PlatformKit", "Hibernate Session"): "as Terminate Session (the session is kept)",
    ("EnvironmentKit", "Stop Test Environment"): "stops only what this run started; an environment it attached "
                                                 "to is left running (tested below)",
    ("ProbesKit", "Stop Probe"): "stops the library's own background probe",
    ("ProbesKit", "Stop All Probes"): "stops the library's own background probes",
    ("LoadKit", "Stop Resource Sampling"): "stops the library's own sampling",
}


def destructive_keywords() -> set[tuple[str, str]]:
    found = set()
    for name in LIBRARIES:
        for keyword in new(name).get_keyword_names():
            if keyword.startswith(DESTRUCTIVE):
                found.add((name, keyword))
    return found


def refused(action: Callable[[], Any], *fragments: str) -> str:
    """Run ``action``; it must raise the latch's refusal naming ``fragments`` and a fix."""
    from kitcore import TargetRefused

    with pytest.raises(TargetRefused) as caught:
        action()
    message = str(caught.value)
    assert "refused" in message and "Fix:" in message, message
    for fragment in fragments:
        assert fragment in message, f"no '{fragment}' in: {message}"
    return message


# ------------------------------------------------------------------------------ Kubernetes
@pytest.fixture(scope="module")
def kube(stack: StackRun) -> Iterator[dict[str, Any]]:
    """A namespace that is not allow-listed, with a pod and a deployment in it (made with the plain client)."""
    from kubernetes import client

    url = stack.topology["kubernetes"]["url"]
    namespace = f"prod-{uuid.uuid4().hex[:6]}"
    api = client.ApiClient(client.Configuration(host=url))
    core, apps = client.CoreV1Api(api), client.AppsV1Api(api)
    core.create_namespace({"metadata": {"name": namespace}}, _request_timeout=5)
    core.create_namespaced_pod(namespace, {"metadata": {"name": "web-0", "labels": {"app": "web"}},
                                           "spec": {"containers": [{"name": "web", "image": "web"}]}},
                               _request_timeout=5)
    apps.create_namespaced_deployment(namespace, {
        "metadata": {"name": "web"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "web"}]}}}}, _request_timeout=5)
    try:
        yield {"url": url, "namespace": namespace, "core": core, "apps": apps}
    finally:
        with contextlib.suppress(Exception):
            core.delete_namespace(namespace, _request_timeout=5)
        api.close()


def kube_lib(kube: dict[str, Any], *args: Any) -> Any:
    library = new("KubeKit", *args)
    kw(library, "Connect To Kubernetes", api_url=kube["url"])
    return library


def kube_untouched(kube: dict[str, Any]) -> None:
    ns = kube["namespace"]
    assert kube["core"].read_namespaced_pod("web-0", ns, _request_timeout=5).metadata.name == "web-0"
    assert kube["apps"].read_namespaced_deployment("web", ns, _request_timeout=5).spec.replicas == 1
    assert kube["core"].read_namespace(ns, _request_timeout=5).metadata.name == ns


def _manifest(kube: dict[str, Any], tmp: Path) -> str:
    path = tmp / "pod.yaml"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "Pod",
                                "metadata": {"name": "web-0", "namespace": kube["namespace"]}}))
    return str(path)


KUBE_ACTIONS: dict[str, Callable[[Any, dict[str, Any], Path], Any]] = {
    "Delete Pod": lambda lb, k, t: kw(lb, "Delete Pod", "web-0", k["namespace"], force=True),
    "Delete Namespace": lambda lb, k, t: kw(lb, "Delete Namespace", k["namespace"], wait=False),
    "Scale Deployment": lambda lb, k, t: kw(lb, "Scale Deployment", "web", k["namespace"], 0),
    "Delete Custom Object": lambda lb, k, t: kw(lb, "Delete Custom Object", "Session", "alice-1", k["namespace"]),
    "Delete Manifest Objects": lambda lb, k, t: kw(lb, "Delete Manifest Objects", _manifest(k, t)),
}


@pytest.mark.parametrize("keyword", list(KUBE_ACTIONS))
def test_kubekit_refuses_a_namespace_not_allowed(keyword: str, kube: dict[str, Any], tmp_path: Path) -> None:
    library = kube_lib(kube)
    try:
        refused(lambda: KUBE_ACTIONS[keyword](library, kube, tmp_path), kube["namespace"], "KIT_TEST_NAMESPACES")
    finally:
        kw(library, "Close All Kubernetes Connections")
    kube_untouched(kube)


def test_kubekit_refuses_a_context_not_allowed(kube: dict[str, Any]) -> None:
    """An allow-listed namespace is not enough: the kubeconfig context must be allow-listed too."""
    library = kube_lib(kube, "prod-*", "kind-*")
    try:
        refused(lambda: kw(library, "Delete Pod", "web-0", kube["namespace"]), "context", "KIT_TEST_CONTEXTS")
    finally:
        kw(library, "Close All Kubernetes Connections")
    kube_untouched(kube)


def test_kubekit_scaling_up_is_not_latched(kube: dict[str, Any]) -> None:
    """Only scaling to 0 is destructive; the latch must not get in the way of scaling to 1."""
    library = kube_lib(kube)
    try:
        kw(library, "Scale Deployment", "web", kube["namespace"], 1)
    finally:
        kw(library, "Close All Kubernetes Connections")
    kube_untouched(kube)


# ------------------------------------------------------------------------------ containers
@pytest.fixture(scope="module")
def engine_objects(stack: StackRun) -> Iterator[dict[str, Any]]:
    """A running container on a network, and a volume -- none carries a kit label."""
    import docker

    from environments.local.images import ensure_busybox_image

    url = stack.topology["engine"]["url"]
    client = docker.DockerClient(base_url=url, timeout=60, version="1.41")
    tag = uuid.uuid4().hex[:6]
    network = client.networks.create(f"prod-net-{tag}", internal=True)
    volume = client.volumes.create(name=f"prod-vol-{tag}")
    container = client.containers.run(ensure_busybox_image(client), ["sleep", "300"], name=f"prod-ctr-{tag}",
                                      network=network.name, detach=True)
    try:
        yield {"url": url, "client": client, "container": container.name, "network": network.name,
               "volume": volume.name}
    finally:
        with contextlib.suppress(Exception):
            container.remove(force=True)
        with contextlib.suppress(Exception):
            volume.remove(force=True)
        with contextlib.suppress(Exception):
            network.remove()
        client.close()


def engine_untouched(objects: dict[str, Any]) -> None:
    client = objects["client"]
    container = client.containers.get(objects["container"])
    assert container.status == "running", container.status
    assert objects["network"] in container.attrs["NetworkSettings"]["Networks"]
    client.networks.get(objects["network"])
    client.volumes.get(objects["volume"])


DOCKER_ACTIONS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "Stop Container": lambda lb, o: kw(lb, "Stop Container", o["container"]),
    "Kill Container": lambda lb, o: kw(lb, "Kill Container", o["container"]),
    "Pause Container": lambda lb, o: kw(lb, "Pause Container", o["container"]),
    "Restart Container": lambda lb, o: kw(lb, "Restart Container", o["container"]),
    "Remove Container": lambda lb, o: kw(lb, "Remove Container", o["container"]),
    "Disconnect Container From Network": lambda lb, o: kw(lb, "Disconnect Container From Network",
                                                          o["container"], o["network"]),
    "Remove Network": lambda lb, o: kw(lb, "Remove Network", o["network"]),
    "Remove Volume": lambda lb, o: kw(lb, "Remove Volume", o["volume"]),
}


@pytest.mark.engine
@pytest.mark.parametrize("keyword", list(DOCKER_ACTIONS))
def test_dockerkit_refuses_an_unlabelled_object(keyword: str, engine_objects: dict[str, Any]) -> None:
    library = new("DockerKit")
    kw(library, "Connect To Container Engine", engine_objects["url"], timeout="20s")
    try:
        refused(lambda: DOCKER_ACTIONS[keyword](library, engine_objects), "KIT_TEST_LABELS", "none of the allow-listed")
    finally:
        kw(library, "Close All Container Engine Connections")
    engine_untouched(engine_objects)


# ------------------------------------------------------------------------------ Redis
REDIS_ACTIONS: dict[str, Callable[[Any], Any]] = {
    "Pause Redis Clients": lambda lb: kw(lb, "Pause Redis Clients", "5s"),
    "Disconnect Redis Clients": lambda lb: kw(lb, "Disconnect Redis Clients"),
    "Delete Keys": lambda lb: kw(lb, "Delete Keys", "kit:latch:kept"),
    "Remove From Set": lambda lb: kw(lb, "Remove From Set", "kit:latch:set", "kept"),
}


@pytest.mark.parametrize("keyword", list(REDIS_ACTIONS))
def test_rediskit_refuses_a_server_not_allowed(keyword: str, redis_server: Any) -> None:
    import redis

    bystander = redis.Redis(host=redis_server.host, port=redis_server.port, socket_timeout=2)
    bystander.ping()
    bystander.set("kit:latch:kept", "1")
    bystander.sadd("kit:latch:set", "kept")
    library = new("RedisKit", NOT_ALLOWED)
    kw(library, "Connect To Redis Server", host=redis_server.host, port=redis_server.port, timeout="2s")
    try:
        refused(lambda: REDIS_ACTIONS[keyword](library), f"{redis_server.host}:{redis_server.port}",
                "REDISKIT_TEST_TARGETS")
        assert bystander.ping()  # no pause in force, the other client still connected
        assert bystander.set("kit:latch", "1") and bystander.delete("kit:latch") == 1
        assert bystander.get("kit:latch:kept") == b"1" and bystander.sismember("kit:latch:set", "kept")
    finally:
        bystander.delete("kit:latch:kept", "kit:latch:set")
        kw(library, "Close All Redis Connections")
        bystander.close()


# ------------------------------------------------------------------------------ PostgreSQL
DB_ACTIONS: dict[str, Callable[[Any], Any]] = {
    "Migrate Down": lambda lb: kw(lb, "Migrate Down", str(MIGRATIONS), steps=1),
    "Force Schema Version": lambda lb: kw(lb, "Force Schema Version", 1),
    "Rollback Should Restore Schema And Data": lambda lb: kw(lb, "Rollback Should Restore Schema And Data",
                                                             str(MIGRATIONS)),
}


@pytest.mark.parametrize("keyword", list(DB_ACTIONS))
def test_databasekit_refuses_a_database_not_allowed(keyword: str, postgres_server: Any) -> None:
    setup = new("DatabaseKit")
    kw(setup, "Connect To PostgreSQL", host=postgres_server.host, port=postgres_server.port, user="postgres",
       dbname="postgres")
    database = kw(setup, "Create Test Database")
    try:
        kw(setup, "Migrate Up", str(MIGRATIONS))
        before = kw(setup, "Get Schema Version")
        library = new("DatabaseKit", NOT_ALLOWED)
        kw(library, "Connect To PostgreSQL", host=postgres_server.host, port=postgres_server.port, user="postgres",
           dbname=database)
        try:
            refused(lambda: DB_ACTIONS[keyword](library), "DATABASEKIT_TEST_TARGETS")
        finally:
            kw(library, "Close All Database Connections")
        assert kw(setup, "Get Schema Version") == before
    finally:
        end_of_test(setup)
        kw(setup, "Close All Database Connections")


# ------------------------------------------------------------------------------ chaos
@pytest.fixture
def production(stack: StackRun, tmp_path: Path) -> Iterator[None]:
    """The running stack, seen through a driver that is *not* a test target (as a real cluster would be)."""
    from EnvironmentKit import state
    from EnvironmentKit.drivers import LocalDriver, register_driver

    class ProductionDriver(LocalDriver):
        name = "kit-production"
        test_target = False

    register_driver("kit-production", ProductionDriver)
    path = tmp_path / "topology.json"
    path.write_text(json.dumps({**stack.topology, "environment": "kit-production"}))
    active = state.attach_file(path)
    try:
        yield
    finally:
        state.set_current(None)
        active.driver.stop(5)


CHAOS_ACTIONS: dict[str, Callable[[Any], Any]] = {
    "Kill API Replica": lambda lb: kw(lb, "Kill API Replica", "1"),
    "Kill Random API Replica": lambda lb: kw(lb, "Kill Random API Replica", seed=1),
    "Stop API Replica": lambda lb: kw(lb, "Stop API Replica", "1"),
    "Restart API Replica": lambda lb: kw(lb, "Restart API Replica", "1"),
    "Kill Agent Leader": lambda lb: kw(lb, "Kill Agent Leader", "docker"),
    "Kill Docker Agent": lambda lb: kw(lb, "Kill Docker Agent"),
    "Kill Component": lambda lb: kw(lb, "Kill Component", "postgres"),
    "Lose Redis": lambda lb: kw(lb, "Lose Redis"),
    "Lose The Database": lambda lb: kw(lb, "Lose The Database"),
    "Partition": lambda lb: kw(lb, "Partition", "api-1", "redis"),
}


def running_components(stack: StackRun) -> dict[str, bool]:
    from EnvironmentKit.drivers import ControlClient

    control = ControlClient(stack.topology["control"])
    try:
        topology = control.topology()
    finally:
        control.close()
    running = {api["name"]: api["running"] for api in topology["api"]}
    running |= {key: topology[key]["running"] for key in ("redis", "postgres")}
    running |= {r["name"]: r["running"] for r in topology["agents"]["docker"]["replicas"]}
    running["partitions"] = not topology.get("partitions")
    return running


@pytest.mark.parametrize("keyword", list(CHAOS_ACTIONS))
def test_chaoskit_refuses_an_environment_not_marked_as_test_target(keyword: str, stack: StackRun,
                                                                  production: None) -> None:
    library = new("ChaosKit")
    try:
        refused(lambda: CHAOS_ACTIONS[keyword](library), "kit-production/", "CHAOS_TEST_TARGETS")
    finally:
        end_of_test(library)
    assert all(running_components(stack).values()), running_components(stack)


def test_stop_test_environment_leaves_an_attached_stack_running(stack: StackRun, tmp_path: Path) -> None:
    path = tmp_path / "topology.json"
    path.write_text(json.dumps(stack.topology))
    library = new("EnvironmentKit")
    kw(library, "Start Test Environment", topology_file=str(path))
    kw(library, "Stop Test Environment")
    assert stack.process.poll() is None
    assert all(running_components(stack).values())


# ------------------------------------------------------------------------------ coverage
REFUSALS = {
    **{("KubeKit", k): "test_kubekit_refuses_a_namespace_not_allowed" for k in KUBE_ACTIONS},
    **{("DockerKit", k): "test_dockerkit_refuses_an_unlabelled_object" for k in DOCKER_ACTIONS},
    **{("RedisKit", k): "test_rediskit_refuses_a_server_not_allowed" for k in REDIS_ACTIONS},
    **{("DatabaseKit", k): "test_databasekit_refuses_a_database_not_allowed" for k in DB_ACTIONS},
    **{("ChaosKit", k): "test_chaoskit_refuses_an_environment_not_marked_as_test_target" for k in CHAOS_ACTIONS},
}


def test_every_destructive_keyword_is_covered() -> None:
    found = destructive_keywords()
    missing = sorted(found - set(REFUSALS) - set(EXEMPT))
    assert not missing, f"destructive keywords with no refusal test and no stated exemption: {missing}"
    stale = sorted((set(REFUSALS) | set(EXEMPT)) - found)
    assert not stale, f"listed here but no such keyword any more: {stale}"
    assert len(REFUSALS) >= 25
