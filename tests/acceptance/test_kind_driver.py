"""The kind driver's logic against the Kubernetes API stand-in (no kind cluster can run here).

The stand-in has no controllers and no kubelet, so each test creates the pods, Lease and
Secrets a Helm install would have, and plays the ReplicaSet's part where a test needs a
replacement pod. The pods have loopback addresses, so the driver's port-forwards (the Python
client's, over WebSocket) really reach what listens there: a fake StreamSpace API on the API pods,
nothing on the backends. What cannot be checked here: NetworkPolicy enforcement (the stand-in does
not serve networking.k8s.io).
"""

from __future__ import annotations

import base64
import http.server
import io
import json
import socket
import socketserver
import threading
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest
import robot
from kubernetes import client
from robot.api import ExecutionResult

from EnvironmentKit.drivers import create_driver, register_driver
from environments.kind.cluster import DELETION_COST, Slots
from environments.kind.driver import KindDriver, register
from environments.kind.forward import SocketChannel, StableForward
from environments.kind.netpol import cut_label, policies
from kitcore import KitError, TargetRefused, Wait

REPO = Path(__file__).resolve().parents[2]
FAKE_API_NET = "127.0.61"
TIMEOUT = 5
RELEASE = "streamspace"
AGENT_ID = "k8s-kind"


@pytest.fixture(scope="module")
def api(kube_api):
    with client.ApiClient(client.Configuration(host=kube_api.url)) as api_client:
        yield api_client


@pytest.fixture
def namespace(api):
    core = client.CoreV1Api(api)
    name = f"kit-kind-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}}, _request_timeout=TIMEOUT)
    yield name
    core.delete_namespace(name, _request_timeout=TIMEOUT)


def labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": RELEASE, "app.kubernetes.io/component": component}


def make_pod(api, namespace: str, name: str, component: str, ip: str = "127.0.60.1", ready: bool = True) -> None:
    core = client.CoreV1Api(api)
    core.create_namespaced_pod(namespace, {"metadata": {"name": name, "labels": labels(component)},
                                           "spec": {"containers": [{"name": "c", "image": "x"}]}},
                               _request_timeout=TIMEOUT)
    status = {"phase": "Running", "podIP": ip,
              "containerStatuses": [{"name": "c", "ready": ready, "restartCount": 0, "image": "x", "imageID": ""}]}
    core.patch_namespaced_pod_status(name, namespace, {"status": status}, _request_timeout=TIMEOUT)


def make_deployment(api, namespace: str, name: str, component: str, replicas: int) -> None:
    body = {"metadata": {"name": name, "labels": labels(component)},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels(component)},
                     "template": {"metadata": {"labels": labels(component)},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
    client.AppsV1Api(api).create_namespaced_deployment(namespace, body, _request_timeout=TIMEOUT)


def set_leader(api, namespace: str, holder: str) -> None:
    coordination = client.CoordinationV1Api(api)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    body = {"metadata": {"name": f"streamspace-agent-{AGENT_ID}"},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 15, "renewTime": now}}
    try:
        coordination.create_namespaced_lease(namespace, body, _request_timeout=TIMEOUT)
    except client.ApiException as error:
        assert error.status == 409
        coordination.patch_namespaced_lease(body["metadata"]["name"], namespace, {"spec": body["spec"]},
                                            _request_timeout=TIMEOUT)


def install(api, namespace: str, admin_secret: str = "streamspace-admin-credentials") -> None:
    """What `helm install` plus the controllers would leave in the namespace."""
    for i in range(3):
        # pod addresses on loopback: a port-forward through the stand-in really connects to them
        make_pod(api, namespace, f"streamspace-api-{i}", "api", ip=f"{FAKE_API_NET}.{i + 1}")
        make_pod(api, namespace, f"streamspace-k8s-agent-{i}", "k8s-agent", ip=f"127.0.62.{i + 1}")
    make_pod(api, namespace, "streamspace-redis-0", "redis", ip="127.0.63.1")
    make_pod(api, namespace, "streamspace-postgres-0", "database", ip="127.0.63.2")
    make_deployment(api, namespace, "streamspace-api", "api", 3)
    make_deployment(api, namespace, "streamspace-k8s-agent", "k8s-agent", 3)
    make_deployment(api, namespace, "streamspace-redis", "redis", 1)
    set_leader(api, namespace, "streamspace-k8s-agent-1")
    core = client.CoreV1Api(api)
    for component, port in (("redis", 6379), ("postgres", 5432), ("api", 8000)):
        core.create_namespaced_service(namespace, {
            "metadata": {"name": f"streamspace-{component}", "labels": labels(component)},
            "spec": {"selector": labels(component), "ports": [{"port": port, "targetPort": port}]}},
            _request_timeout=TIMEOUT)

    def secret(name: str, data: dict[str, str]) -> None:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        core.create_namespaced_secret(namespace, {"metadata": {"name": name}, "data": encoded},
                                      _request_timeout=TIMEOUT)

    secret("streamspace-secrets", {"agent-bootstrap-key": "ab" * 32, "jwt-secret": "jwt-s3cret",
                                   "postgres-password": "pg-s3cret"})
    secret(admin_secret, {"username": "admin", "password": "admin-s3cret"})


class FakeApi(http.server.BaseHTTPRequestHandler):
    """What the kind driver asks of StreamSpace's API: admin login, the agents, approval."""

    approved: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: object) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def do_GET(self) -> None:
        state = "approved" if AGENT_ID in self.approved else "pending"
        self._send(200, {"agents": [{"agentId": AGENT_ID, "approvalStatus": state}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/api/v1/auth/login":
            self._send(200, {"token": "t"})
        elif self.path == f"/api/v1/admin/agents/{AGENT_ID}/approve":
            self.approved.append(AGENT_ID)
            self._send(200, {"agentId": AGENT_ID, "apiKey": "k" * 64})
        else:
            self._send(404, {})


@pytest.fixture(scope="module")
def fake_api():
    servers = [http.server.ThreadingHTTPServer((f"{FAKE_API_NET}.{i + 1}", 8000), FakeApi) for i in range(3)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield FakeApi
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def driver(kube_api, namespace, api, fake_api):
    fake_api.approved.clear()
    install(api, namespace)
    driver = KindDriver(api_url=kube_api.url, namespace=namespace, test_contexts="stand-in",
                        agent_id=AGENT_ID, release=RELEASE)
    yield driver
    driver.stop()


def scale_of(api, namespace: str, name: str) -> int:
    apps = client.AppsV1Api(api)
    return apps.read_namespaced_deployment_scale(name, namespace, _request_timeout=TIMEOUT).spec.replicas


def test_kind_driver_registers_by_name(kube_api, namespace) -> None:
    register()
    made = create_driver("kind", api_url=kube_api.url, namespace=namespace)
    assert isinstance(made, KindDriver)
    assert made.settings.namespace == namespace
    register_driver("kind", KindDriver)


def test_settings_come_from_robot_style_lookup_then_environment(monkeypatch) -> None:
    from environments.kind.settings import KindSettings

    monkeypatch.setenv("KIND_NAMESPACE", "from-env")
    monkeypatch.setenv("KIND_API_REPLICAS", "5")
    settings = KindSettings.load(lambda key: {"KIND_AGENT_ID": "from-robot"}.get(key))
    assert (settings.agent_id, settings.namespace, settings.api_replicas) == ("from-robot", "from-env", 5)
    assert settings.lease_name == "streamspace-agent-from-robot"
    monkeypatch.setenv("KIND_API_REPLICAS", "three")
    with pytest.raises(KitError, match="KIND_API_REPLICAS"):
        KindSettings.load()


def test_start_reads_topology_from_the_kubernetes_api(driver, namespace) -> None:
    topology = driver.start(timeout=10)
    data = topology.data
    assert topology.environment == "kind"
    assert topology.api_names() == ["api-1", "api-2", "api-3"]
    assert [r["pod"] for r in data["api"]] == ["streamspace-api-0", "streamspace-api-1", "streamspace-api-2"]
    assert all(url.startswith("http://127.0.0.1:") for url in topology.api_urls())
    agents = data["agents"]["kubernetes"]
    assert agents["agentId"] == AGENT_ID and agents["lease"] == f"streamspace-agent-{AGENT_ID}"
    assert topology.agent_leader("kubernetes") == "k8s-agent-b"  # holder streamspace-k8s-agent-1
    assert data["redis"]["running"] and data["redis"]["url"].startswith("redis://127.0.0.1:")
    assert data["redis"]["service"] == {"name": "streamspace-redis", "host": f"streamspace-redis.{namespace}.svc",
                                        "ports": [6379]}
    assert data["postgres"]["service"]["ports"] == [5432]
    assert data["apiService"]["name"] == "streamspace-api"
    assert "passfile=" in data["postgres"]["dsn"] and "pg-s3cret" not in data["postgres"]["dsn"]
    assert topology.credentials["admin"] == {"username": "admin", "password": "admin-s3cret"}
    assert topology.credentials["agentKey"] == "ab" * 32
    assert "admin-s3cret" not in str(topology.public())
    assert driver.test_target is True
    assert driver.started_here
    assert FakeApi.approved == [AGENT_ID]  # a fresh install's pending agent, approved once by the admin


def test_start_waits_and_says_what_is_missing(api, kube_api, namespace) -> None:
    make_pod(api, namespace, "streamspace-api-0", "api")
    make_pod(api, namespace, "streamspace-api-1", "api", ready=False)
    driver = KindDriver(api_url=kube_api.url, namespace=namespace, test_contexts="stand-in")
    with pytest.raises(KitError) as caught:
        driver.start(timeout=1.5)
    text = str(caught.value)
    assert "not ready in time" in text and "API replicas running: ['api-1']" in text and "lease holder: none" in text
    assert "kubectl" in text
    assert driver.cluster is None  # stopped after the failure: no forwards left open


def test_start_waits_while_the_api_does_not_answer_and_says_so(api, kube_api, namespace) -> None:
    """The API pods run but nothing answers on their port yet: approving the agent is "not yet", not a crash."""
    install(api, namespace)
    core = client.CoreV1Api(api)
    for i in range(3):  # addresses where no fake API listens
        core.patch_namespaced_pod_status(f"streamspace-api-{i}", namespace, {"status": {"podIP": f"127.0.64.{i + 1}"}},
                                         _request_timeout=TIMEOUT)
    driver = KindDriver(api_url=kube_api.url, namespace=namespace, test_contexts="stand-in", agent_id=AGENT_ID)
    with pytest.raises(KitError) as caught:
        driver.start(timeout=2.5)
    text = str(caught.value)
    assert "not ready in time" in text and f"agent {AGENT_ID} not approved yet: the API did not answer" in text
    assert driver.cluster is None


def test_leader_follows_the_lease(driver, api, namespace) -> None:
    driver.start(timeout=10)
    set_leader(api, namespace, "streamspace-k8s-agent-2_4f1c")  # client-go style identity: <pod>_<uuid>
    assert driver.agent_leader("kubernetes") == "k8s-agent-c"


def test_kill_deletes_the_pod_and_the_replacement_takes_its_slot(driver, api, namespace) -> None:
    first = driver.start(timeout=10)
    url = first.api_replica("api-2")["url"]
    after = driver.kill("api-2")
    assert after.is_running("api-2") is False
    assert after.api_replica("api-2")["pod"] is None
    pods = [p.metadata.name for p in client.CoreV1Api(api).list_namespaced_pod(namespace).items]
    assert "streamspace-api-1" not in pods
    make_pod(api, namespace, "streamspace-api-7f9c2", "api")  # what the ReplicaSet would do
    later = driver.topology()
    assert later.api_replica("api-2")["pod"] == "streamspace-api-7f9c2"
    assert later.api_replica("api-2")["url"] == url  # same local URL as before the kill
    assert later.is_running("api-2") is True


def test_stop_marks_the_pod_to_go_first_and_scales_down_then_start_scales_up(driver, api, namespace) -> None:
    driver.start(timeout=10)
    driver.stop_component("k8s-agent-a")
    pod = client.CoreV1Api(api).read_namespaced_pod("streamspace-k8s-agent-0", namespace, _request_timeout=TIMEOUT)
    assert pod.metadata.annotations[DELETION_COST] == "-2147483647"
    assert scale_of(api, namespace, "streamspace-k8s-agent") == 2
    client.CoreV1Api(api).delete_namespaced_pod("streamspace-k8s-agent-0", namespace)  # the ReplicaSet's part
    stopped = driver.topology()
    assert stopped.is_running("k8s-agent-a") is False
    driver.start_component("k8s-agent-a")
    assert scale_of(api, namespace, "streamspace-k8s-agent") == 3
    make_pod(api, namespace, "streamspace-k8s-agent-new", "k8s-agent")
    assert driver.topology().agent_replicas("kubernetes")[0]["pod"] == "streamspace-k8s-agent-new"


def test_backends_stop_and_start_by_scaling_to_zero_and_one(driver, api, namespace) -> None:
    driver.start(timeout=10)
    driver.stop_component("redis")
    assert scale_of(api, namespace, "streamspace-redis") == 0
    driver.start_component("redis")
    assert scale_of(api, namespace, "streamspace-redis") == 1


def test_restart_deletes_the_pod_gracefully(driver, api, namespace) -> None:
    driver.start(timeout=10)
    driver.restart_component("redis")
    assert driver.topology().is_running("redis") is False


def test_destructive_actions_refuse_a_context_not_allow_listed(api, kube_api, namespace) -> None:
    install(api, namespace)
    driver = KindDriver(api_url=kube_api.url, namespace=namespace)  # default allow-list: kind-* contexts only
    try:
        driver.start(timeout=10)
        assert driver.test_target is False
        with pytest.raises(TargetRefused, match="context 'stand-in' is not allow-listed"):
            driver.kill("api-1")
        assert driver.topology().is_running("api-1") is True
    finally:
        driver.stop()


def test_destructive_actions_refuse_a_namespace_not_allow_listed(api, kube_api) -> None:
    core = client.CoreV1Api(api)
    other = f"prod-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": other}}, _request_timeout=TIMEOUT)
    driver = KindDriver(api_url=kube_api.url, namespace=other, test_contexts="stand-in")
    try:
        install(api, other)
        driver.start(timeout=10)
        with pytest.raises(TargetRefused, match=f"namespace '{other}'"):
            driver.stop_component("redis")
        assert scale_of(api, other, "streamspace-redis") == 1
    finally:
        driver.stop()
        core.delete_namespace(other, _request_timeout=TIMEOUT)


def test_unknown_components_and_actions_are_clear_errors(driver) -> None:
    driver.start(timeout=10)
    with pytest.raises(KitError, match="known: api-1, api-2, api-3, k8s-agent-a"):
        driver.kill("api-9")
    with pytest.raises(KitError, match="does not act on the Kubernetes API"):
        driver.kill("kubernetes")
    with pytest.raises(KitError, match="Unknown component action"):
        driver.component("api-1", "explode")


def test_partition_without_networkpolicies_is_a_clear_error_and_leaves_nothing(driver, api, namespace) -> None:
    driver.start(timeout=10)
    with pytest.raises(KitError, match="does not serve NetworkPolicies") as caught:
        driver.partition("api-1", "redis")
    assert "kind v0.24" in str(caught.value)
    assert driver.partitions() == []
    pod = client.CoreV1Api(api).read_namespaced_pod("streamspace-api-0", namespace, _request_timeout=TIMEOUT)
    assert not any(k.startswith("streamspace.kit/cut-") for k in (pod.metadata.labels or {}))


def test_partition_policies_cut_both_ways_and_nothing_else() -> None:
    a_policy, b_policy = policies("c1", "run1", ("api-1", "redis"), ["10.0.1.1"], ["10.0.3.1"])
    label = cut_label("c1")
    assert a_policy["spec"]["podSelector"] == {"matchLabels": {label: "a"}}
    assert b_policy["spec"]["podSelector"] == {"matchLabels": {label: "b"}}
    for body, other, other_ip in ((a_policy, "b", "10.0.3.1/32"), (b_policy, "a", "10.0.1.1/32")):
        assert body["spec"]["policyTypes"] == ["Ingress", "Egress"]
        for peers in (body["spec"]["ingress"][0]["from"], body["spec"]["egress"][0]["to"]):
            expression = peers[0]["podSelector"]["matchExpressions"][0]
            assert expression == {"key": label, "operator": "NotIn", "values": [other]}
            assert peers[1]["ipBlock"] == {"cidr": "0.0.0.0/0", "except": [other_ip]}
    assert a_policy["metadata"]["labels"] == {"streamspace.kit/partition": "run1"}
    # the bodies are valid NetworkPolicy objects for the official client
    model = client.ApiClient()._ApiClient__deserialize(a_policy, "V1NetworkPolicy")
    assert model.spec.ingress[0]._from[0].pod_selector.match_expressions[0].operator == "NotIn"


def test_slots_keep_names_and_stopped_slots_wait_for_their_start() -> None:
    slots = Slots(["api-1", "api-2", "api-3"])
    slots.reconcile(["p1", "p2", "p3"], lambda i: f"api-{i + 1}")
    assert slots.pods == {"api-1": "p1", "api-2": "p2", "api-3": "p3"}
    slots.stopped.add("api-2")
    slots.reconcile(["p1", "p3", "p4"], lambda i: f"api-{i + 1}")  # p2 gone, p4 new: goes to api-2 (only free)
    assert slots.pod("api-2") == "p4" and "api-2" not in slots.stopped
    slots.reconcile(["p1", "p3", "p4", "p5"], lambda i: f"api-{i + 1}")
    assert slots.pod("api-4") == "p5"


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(1024):
            self.request.sendall(data.upper())


def test_stable_forward_relays_to_whatever_connect_returns_now() -> None:
    servers = [socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    target = {"port": servers[0].server_address[1]}
    forward = StableForward("api-1", lambda: SocketChannel(socket.create_connection(("127.0.0.1", target["port"]),
                                                                                    timeout=2)))
    try:
        with socket.create_connection(forward.address, timeout=2) as conn:
            conn.sendall(b"hello")
            assert conn.recv(16) == b"HELLO"
        target["port"] = servers[1].server_address[1]  # the pod was replaced: same local port, new target
        with socket.create_connection(forward.address, timeout=2) as conn:
            conn.sendall(b"again")
            assert conn.recv(16) == b"AGAIN"
        target["port"] = 1  # nothing listens: the client sees the connection closed, the failure is kept
        with socket.create_connection(forward.address, timeout=2) as conn:
            conn.settimeout(2)
            assert conn.recv(16) == b""
        assert forward.failures == 1 and "ConnectionRefusedError" in forward.last_error
    finally:
        forward.close()
        for server in servers:
            server.shutdown()
            server.server_close()


# -- through Robot Framework: robot -V environments/kind/variables.yaml, EnvironmentKit and ChaosKit ------
SUITE = """\
*** Settings ***
Library             EnvironmentKit
Library             ChaosKit
Suite Setup         Start The Kind Environment
Suite Teardown      Stop Test Environment


*** Test Cases ***
Topology Comes From The Cluster
    ${name} =    Get Environment Name
    Should Be Equal    ${name}    kind
    ${names} =    Get API Replica Names
    Should Be Equal    ${names}    ${{["api-1", "api-2", "api-3"]}}
    Get Agent Leader    kubernetes    ==    k8s-agent-b
    ${admin} =    Get Credentials    admin
    Should Be Equal    ${admin}[username]    admin
    ${topology} =    Get Topology
    Should Be Equal    ${topology}[credentials][admin][password]    ***

Killing An API Replica Deletes Its Pod
    ${killed} =    Kill API Replica    2
    Should Be Equal    ${killed}    api-2
    ${topology} =    Get Topology
    Should Be Equal    ${topology}[api][1][running]    ${False}


*** Keywords ***
Start The Kind Environment
    Start Test Environment    timeout=20s
"""


def test_suites_reach_the_kind_driver_through_the_variable_file(kube_api, namespace, api, fake_api, tmp_path) -> None:
    fake_api.approved.clear()
    install(api, namespace, admin_secret="kit-admin-credentials")  # the name variables.yaml gives
    (tmp_path / "kind.robot").write_text(SUITE)
    robot.run(str(tmp_path / "kind.robot"), outputdir=str(tmp_path), report="NONE", log="NONE",
              variablefile=[str(REPO / "environments/kind/variables.yaml")],
              variable=[f"KIND_API_URL:{kube_api.url}", f"KIND_NAMESPACE:{namespace}", "KIND_TEST_CONTEXTS:stand-in"],
              stdout=io.StringIO(), stderr=io.StringIO())
    result = ExecutionResult(str(tmp_path / "output.xml"))
    verdicts = {t.name: (t.status, t.message) for t in result.suite.all_tests}
    assert verdicts == {"Topology Comes From The Cluster": ("PASS", ""),
                        "Killing An API Replica Deletes Its Pod": ("PASS", "")}


def test_port_forward_endpoints_reach_the_pods_through_the_kubernetes_api(driver) -> None:
    """Each API replica's local URL is a port-forward (WebSocket, through the stand-in) to its pod."""
    topology = driver.start(timeout=10)
    for name in topology.api_names():
        with urllib.request.urlopen(f"{topology.api_replica(name)['url']}/api/v1/admin/agents", timeout=5) as answer:
            assert json.loads(answer.read())["agents"][0]["agentId"] == AGENT_ID
    assert driver.cluster.forwards["api-1"].failures == 0


def test_a_forward_the_pod_refuses_closes_cleanly_and_keeps_the_reason(driver, api, namespace) -> None:
    """Nothing listens on the Redis pod's port: the client sees a closed connection and the forward
    keeps the kubelet's error (what a test's error can show)."""
    topology = driver.start(timeout=10)
    port = int(topology.data["redis"]["url"].rsplit(":", 1)[1].split("/")[0])
    forward = driver.cluster.forwards["redis"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.settimeout(5)
        assert conn.recv(16) == b""
    Wait("the forward records the failure", timeout=5, poll=0.05).until(lambda: forward.failures == 1)
    assert "error forwarding port 6379" in forward.last_error, forward.last_error


def test_a_pod_off_loopback_is_refused_by_the_stand_in_naming_the_rule(driver, api, namespace) -> None:
    """The stand-in forwards to loopback pod addresses only: a pod at 10.0.3.1 is refused before any traffic."""
    topology = driver.start(timeout=10)
    client.CoreV1Api(api).patch_namespaced_pod_status("streamspace-redis-0", namespace,
                                                      {"status": {"podIP": "10.0.3.1"}}, _request_timeout=TIMEOUT)
    port = int(topology.data["redis"]["url"].rsplit(":", 1)[1].split("/")[0])
    forward = driver.cluster.forwards["redis"]
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.settimeout(5)
        assert conn.recv(16) == b""
    Wait("the forward records the refusal", timeout=5, poll=0.05).until(lambda: forward.failures == 1)
    assert "403" in forward.last_error and "loopback" in forward.last_error, forward.last_error
