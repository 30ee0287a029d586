"""KubeKit's keywords against the Kubernetes API stand-in (a separate process started by a fixture).

The "other side" — a kubelet making pods ready, candidates taking a lease — is played with the
official ``kubernetes`` client, as the reference stack's components do.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
import yaml
from kubernetes import client

from kitcore import KitError, TargetRefused, WaitTimeout
from KubeKit import KubeKit
from tests.support.echo import echo_server

TIMEOUT = 5
POD_IP = "127.0.209.3"  # the loopback address a pod of the local stack gets


@pytest.fixture
def kit(kube_api):
    library = KubeKit()
    library.connect_to_kubernetes(api_url=kube_api.url, timeout="5s")
    yield library
    library.cleanup.run_all()  # what the listener does at the end of a test
    library.close_all_kubernetes_connections()


@pytest.fixture
def ns(kit):
    return kit.create_test_namespace()


def later(delay: float, action) -> threading.Thread:
    """Run ``action`` after ``delay`` seconds in a thread (the other side of a wait)."""
    thread = threading.Thread(target=lambda: (time.sleep(delay), action()))
    thread.start()
    return thread


def make_pod(kube_client, namespace: str, name: str, **labels: str) -> None:
    client.CoreV1Api(kube_client).create_namespaced_pod(namespace, {
        "metadata": {"name": name, "labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}})


def make_ready(kube_client, namespace: str, name: str, ip: str = "10.1.0.9") -> None:
    client.CoreV1Api(kube_client).patch_namespaced_pod_status(name, namespace, {"status": {
        "phase": "Running", "podIP": ip, "conditions": [{"type": "Ready", "status": "True"}]}})


def take_lease(kube_client, namespace: str, name: str, holder: str) -> None:
    """A candidate takes the lease the way client-go's leader election does: read, then replace."""
    leases = client.CoordinationV1Api(kube_client)
    lease = leases.read_namespaced_lease(name, namespace)
    changed = holder != (lease.spec.holder_identity or "")
    lease.spec.holder_identity = holder
    lease.spec.lease_transitions = (lease.spec.lease_transitions or 0) + (1 if changed else 0)
    leases.replace_namespaced_lease(name, namespace, lease)


# -- connections --------------------------------------------------------------------------------
def test_connect_to_the_stand_in_and_read_its_version(kit, kube_api):
    assert kit.get_kubernetes_version("contains", "stand-in").endswith("stand-in")
    with pytest.raises(AssertionError, match="Kubernetes version"):
        kit.get_kubernetes_version("==", "v1.99.0")


def test_unreachable_api_fails_fast_naming_the_url():
    library = KubeKit()
    start = time.monotonic()
    with pytest.raises(KitError, match=r"Cannot reach the Kubernetes API at http://127\.0\.0\.1:9") as error:
        library.connect_to_kubernetes(api_url="http://127.0.0.1:9", timeout="2s")
    assert time.monotonic() - start < 3
    assert "Fix:" in str(error.value)


def _kubeconfig(path, url: str) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kit-local",
        "clusters": [{"name": "standin", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "kit-local", "context": {"cluster": "standin", "user": "tester"}},
                     {"name": "production", "context": {"cluster": "standin", "user": "tester"}}]}))
    return str(path)


def test_kubeconfig_context_and_a_missing_context(kube_api, tmp_path):
    config = _kubeconfig(tmp_path / "kubeconfig", kube_api.url)
    library = KubeKit()
    assert library.connect_to_kubernetes(kubeconfig=config, context="kit-local") == kube_api.url
    assert library.connect_to_kubernetes(kubeconfig=config) == kube_api.url  # the current context
    with pytest.raises(KitError, match="no context 'nope'") as error:
        library.connect_to_kubernetes(kubeconfig=config, context="nope")
    assert "kit-local, production" in str(error.value)
    with pytest.raises(KitError, match="does not exist"):
        library.connect_to_kubernetes(kubeconfig=str(tmp_path / "missing"))
    library.close_all_kubernetes_connections()


def test_in_cluster_outside_a_cluster_says_so():
    with pytest.raises(KitError, match="inside the cluster"):
        KubeKit().connect_to_kubernetes(in_cluster=True)


def test_switch_and_close_all_connections(kube_api):
    library = KubeKit()
    library.connect_to_kubernetes(api_url=kube_api.url, alias="first")
    library.connect_to_kubernetes(api_url=kube_api.url, alias="second")
    assert library.switch_kubernetes_connection("first") == kube_api.url
    with pytest.raises(KitError, match="No Kubernetes connection named 'third'"):
        library.switch_kubernetes_connection("third")
    library.close_all_kubernetes_connections()
    with pytest.raises(KitError, match="Connect To Kubernetes"):
        library.get_kubernetes_version()


# -- the safety latch ---------------------------------------------------------------------------
def test_destructive_keywords_refuse_namespaces_not_allow_listed(kit, kube_client):
    client.CoreV1Api(kube_client).create_namespace({"metadata": {"name": "team-prod"}})
    try:
        with pytest.raises(TargetRefused, match="namespace 'team-prod'") as error:
            kit.delete_namespace("team-prod")
        assert "test_namespaces=team-prod" in str(error.value)
        assert "KIT_TEST_NAMESPACES=team-prod" in str(error.value)
        for refused in (lambda: kit.delete_pod("p", "team-prod", force=True),
                        lambda: kit.scale_deployment("d", "team-prod", 0),
                        lambda: kit.delete_custom_object("Session", "s", "team-prod"),
                        lambda: kit.delete_manifest_objects(
                            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}, "team-prod"),
                        lambda: kit.create_test_namespace("team-tmp")):
            with pytest.raises(TargetRefused):
                refused()
        client.CoreV1Api(kube_client).read_namespace("team-prod")  # still there
    finally:
        client.CoreV1Api(kube_client).delete_namespace("team-prod")


def test_allow_list_from_the_environment_and_the_import_argument(kube_api, kube_client, monkeypatch):
    monkeypatch.setenv("KIT_TEST_NAMESPACES", "qa-*")
    library = KubeKit(test_namespaces="scratch")
    library.connect_to_kubernetes(api_url=kube_api.url)
    try:
        created = [library.create_test_namespace("qa-1"), library.create_test_namespace("scratch")]
        library.delete_namespace("qa-1")
        assert created == ["qa-1", "scratch"]
    finally:
        library.cleanup.run_all()
    names = {n.metadata.name for n in client.CoreV1Api(kube_client).list_namespace().items}
    assert not names & {"qa-1", "scratch"}


def test_a_context_not_allow_listed_is_refused(kube_api, tmp_path):
    library = KubeKit()
    library.connect_to_kubernetes(kubeconfig=_kubeconfig(tmp_path / "kubeconfig", kube_api.url), context="production")
    with pytest.raises(TargetRefused, match="context 'production'") as error:
        library.delete_pod("p", "kit-x")
    assert "test_contexts=production" in str(error.value)


# -- namespaces ---------------------------------------------------------------------------------
def test_test_namespace_is_removed_by_the_cleanup_listener(kit):
    name = kit.create_test_namespace()
    assert name.startswith("kit-")
    kit.namespace_should_exist(name)
    kit.cleanup.end_test(None, None)
    kit.namespace_should_not_exist(name)
    with pytest.raises(KitError, match=f"Namespace '{name}' should exist"):
        kit.namespace_should_exist(name, timeout="0.3s")


def test_create_test_namespace_never_takes_over_an_existing_one(kit, ns):
    with pytest.raises(KitError, match="exists already"):
        kit.create_test_namespace(ns)


def test_delete_namespace_and_its_objects(kit, kube_client):
    name = kit.create_test_namespace("kit-delete-me")
    make_pod(kube_client, name, "p1")
    kit.delete_namespace(name, timeout="5s")
    kit.namespace_should_not_exist(name)
    assert kit.cleanup.pending() == []  # forgotten: nothing left to undo
    with pytest.raises(KitError, match="404"):
        kit.delete_namespace(name)


# -- manifests and objects ----------------------------------------------------------------------
MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: busybox}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{name: vnc, port: 5900}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: test}
"""


def test_apply_get_and_delete_a_manifest(kit, ns, tmp_path):
    assert kit.apply_manifest(MANIFEST, namespace=ns) == ["Deployment/web", "Service/web", "ConfigMap/settings"]
    first = kit.get_object("Deployment", "web", ns)
    assert first["spec"]["replicas"] == 2 and first["metadata"]["namespace"] == ns
    changed = tmp_path / "web.yaml"
    changed.write_text(MANIFEST.replace("replicas: 2", "replicas: 4"))
    kit.apply_manifest(str(changed), namespace=ns)  # exists: replaced
    again = kit.get_object("deployments", "web", ns)
    assert again["spec"]["replicas"] == 4
    assert int(again["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert kit.get_object("Service", "web", ns)["spec"]["ports"][0]["name"] == "vnc"
    assert kit.delete_manifest_objects(MANIFEST, namespace=ns) == ["ConfigMap/settings", "Service/web",
                                                                   "Deployment/web"]
    with pytest.raises(KitError, match=r"404.*deployments.apps \"web\" not found"):
        kit.get_object("Deployment", "web", ns)
    assert kit.delete_manifest_objects(MANIFEST, namespace=ns) == []  # already gone: fine
    with pytest.raises(KitError, match="404"):
        kit.delete_manifest_objects(MANIFEST, namespace=ns, missing_ok=False)


def test_apply_manifest_cleans_up_what_it_created(kit, ns, kube_client):
    kit.apply_manifest(MANIFEST, namespace=ns)
    kit.cleanup.end_test(None, None)  # the manifest's objects, then the namespace
    assert client.AppsV1Api(kube_client).list_namespaced_deployment(ns).items == []


def test_manifest_errors_are_clear(kit, ns):
    with pytest.raises(KitError, match="not valid YAML"):
        kit.apply_manifest("kind: [unclosed", namespace=ns)
    with pytest.raises(KitError, match="does not exist"):
        kit.apply_manifest("missing-file.yaml", namespace=ns)
    with pytest.raises(KitError, match="serves no kind 'Gizmo'"):
        kit.apply_manifest("apiVersion: v1\nkind: Gizmo\nmetadata: {name: g}\n", namespace=ns)


def test_custom_objects_sessions_and_templates(kit, ns):
    session = kit.create_custom_object("Session", "alice-firefox-1", ns, spec={"user": "alice"},
                                       labels={"user": "alice"})
    assert session["kind"] == "Session" and session["metadata"]["uid"]
    kit.create_custom_object("sessions", "bob-firefox-1", ns, labels={"user": "bob"})
    kit.create_custom_object("Template", "firefox", ns, spec={"image": "firefox"})
    assert kit.list_custom_objects("Session", ns) == ["alice-firefox-1", "bob-firefox-1"]
    assert kit.list_custom_objects("Session", ns, selector="user=alice") == ["alice-firefox-1"]
    assert kit.get_custom_object("Template", "firefox", ns)["spec"] == {"image": "firefox"}
    kit.delete_custom_object("Session", "alice-firefox-1", ns)
    with pytest.raises(KitError, match="404"):
        kit.get_custom_object("Session", "alice-firefox-1", ns)
    kit.cleanup.end_test(None, None)
    assert kit.cleanup.pending() == []


# -- pods ---------------------------------------------------------------------------------------
def test_pod_getters_assert(kit, ns, kube_client):
    make_pod(kube_client, ns, "web-1", app="web")
    make_pod(kube_client, ns, "db-1", app="db")
    assert kit.get_pods(ns) == ["db-1", "web-1"]
    assert kit.get_pods(ns, "app in (web)", "==", ["web-1"]) == ["web-1"]
    assert kit.get_pod_phase("web-1", ns) == "Pending"
    with pytest.raises(AssertionError, match=r"it was still 'Pending' after .* s of 0.5 s \(\d+ tries\)"):
        kit.get_pod_phase("web-1", ns, "==", "Running", timeout="0.5s")
    assert kit.get_pod_ip("web-1", ns) == ""
    later(0.3, lambda: make_ready(kube_client, ns, "web-1"))
    assert kit.get_pod_phase("web-1", ns, "==", "Running", timeout="5s") == "Running"
    assert kit.get_pod_ip("web-1", ns, "==", "10.1.0.9") == "10.1.0.9"
    with pytest.raises(KitError, match="404"):
        kit.get_pod_phase("nope", ns)


def test_pod_should_be_ready(kit, ns, kube_client):
    make_pod(kube_client, ns, "p1")
    with pytest.raises(KitError, match=r"is not ready.*phase Pending"):
        kit.pod_should_be_ready("p1", ns, timeout="0.3s")
    make_ready(kube_client, ns, "p1")
    kit.pod_should_be_ready("p1", ns)


def test_wait_until_pods_are_ready(kit, ns, kube_client):
    for name in ("s-1", "s-2", "other"):
        make_pod(kube_client, ns, name, app="session" if name != "other" else "other")
    make_ready(kube_client, ns, "other")
    threads = [later(0.2, lambda: make_ready(kube_client, ns, "s-1")),
               later(0.4, lambda: make_ready(kube_client, ns, "s-2"))]
    start = time.monotonic()
    assert kit.wait_until_pods_are_ready(ns, "app=session", count=2, timeout="5s") == ["s-1", "s-2"]
    assert time.monotonic() - start < 2
    for thread in threads:
        thread.join(TIMEOUT)
    with pytest.raises(WaitTimeout, match=r"3 ready pod\(s\).*last seen: .*s-1: Running ready"):
        kit.wait_until_pods_are_ready(ns, "app=session", count=3, timeout="0.5s")


def test_delete_pod_graceful_and_forced(kit, ns, kube_client):
    make_pod(kube_client, ns, "p1")
    make_pod(kube_client, ns, "p2")
    kit.delete_pod("p1", ns)
    kit.delete_pod("p2", ns, force=True)
    assert kit.get_pods(ns) == []
    with pytest.raises(KitError, match="404"):
        kit.delete_pod("p1", ns)


def test_logs_and_exec_say_the_stand_in_cannot(kit, ns, kube_client):
    make_pod(kube_client, ns, "p1")
    for call in (lambda: kit.get_logs_of_pod("p1", ns, since="1 min"),
                 lambda: kit.exec_in_pod("p1", ns, "cat /etc/hostname")):
        with pytest.raises(KitError, match=r"Kubernetes API stand-in .* runs no kubelet"):
            call()


@pytest.fixture
def echo_pod_port():
    """A TCP echo on a loopback address: what a pod of the local stack listens on."""
    with echo_server(POD_IP) as (_, port):
        yield port


def test_port_forward_reaches_the_pod_and_cleanup_closes_it(kit, ns, kube_client, echo_pod_port):
    make_pod(kube_client, ns, "vnc")
    make_ready(kube_client, ns, "vnc", ip=POD_IP)
    local = kit.port_forward_to_pod("vnc", ns, echo_pod_port)
    for round_trip in range(2):  # each connection is its own port-forward through the stand-in
        with socket.create_connection(("127.0.0.1", local), timeout=TIMEOUT) as conn:
            conn.settimeout(TIMEOUT)
            conn.sendall(b"RFB %d" % round_trip)
            assert conn.recv(16) == b"RFB %d" % round_trip
    kit.cleanup.run_all()  # the end of the test
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", local), timeout=TIMEOUT).close()


def test_port_forward_refuses_a_pod_not_running_or_off_loopback_at_once(kit, ns, kube_client):
    make_pod(kube_client, ns, "pending")
    with pytest.raises(KitError, match=r"not possible: the pod is not running \(phase Pending"):
        kit.port_forward_to_pod("pending", ns, 5900)
    make_pod(kube_client, ns, "remote")
    make_ready(kube_client, ns, "remote", ip="10.1.0.9")
    with pytest.raises(KitError, match=r"forwards only to loopback pod addresses .*this pod's IP is 10\.1\.0\.9"):
        kit.port_forward_to_pod("remote", ns, 5900)
    with pytest.raises(KitError, match="404"):
        kit.port_forward_to_pod("missing", ns, 5900)


# -- deployments --------------------------------------------------------------------------------
def test_scale_and_wait_for_ready_replicas(kit, ns, kube_client):
    kit.apply_manifest(MANIFEST, namespace=ns)
    assert kit.scale_deployment("web", ns, 3) == 2
    assert kit.get_object("Deployment", "web", ns)["spec"]["replicas"] == 3
    assert kit.get_ready_replicas("web", ns, "==", 0) == 0
    apps = client.AppsV1Api(kube_client)
    later(0.3, lambda: apps.patch_namespaced_deployment_status("web", ns, {"status": {"readyReplicas": 3}}))
    assert kit.wait_until_deployment_has_ready_replicas("web", ns, timeout="5s") == 3
    assert kit.get_ready_replicas("web", ns, ">=", 3) == 3
    with pytest.raises(WaitTimeout, match="last seen: 3 ready of 5 wanted"):
        kit.wait_until_deployment_has_ready_replicas("web", ns, replicas=5, timeout="0.5s")
    assert kit.scale_deployment("web", ns, 0) == 3
    with pytest.raises(KitError, match="404"):
        kit.scale_deployment("nope", ns, 1)


# -- leases -------------------------------------------------------------------------------------
@pytest.fixture
def lease(kube_client, ns):
    client.CoordinationV1Api(kube_client).create_namespaced_lease(ns, {"metadata": {"name": "agent"}, "spec": {
        "holderIdentity": "agent-a", "leaseDurationSeconds": 3, "leaseTransitions": 0}})
    return "agent"


def test_lease_holder_and_transitions(kit, ns, kube_client, lease):
    assert kit.get_lease_holder(lease, ns) == "agent-a"
    assert kit.get_lease_transitions(lease, ns, "==", 0) == 0
    take_lease(kube_client, ns, lease, "agent-b")
    assert kit.get_lease_holder(lease, ns, "==", "agent-b") == "agent-b"
    assert kit.get_lease_transitions(lease, ns) == 1
    with pytest.raises(AssertionError, match="Holder of lease agent"):
        kit.get_lease_holder(lease, ns, "==", "agent-a", timeout="0.3s")
    with pytest.raises(KitError, match="404"):
        kit.get_lease_holder("nope", ns)


def test_wait_until_lease_has_a_holder(kit, ns, kube_client):
    later(0.3, lambda: client.CoordinationV1Api(kube_client).create_namespaced_lease(
        ns, {"metadata": {"name": "late"}, "spec": {}}))
    later(0.6, lambda: take_lease(kube_client, ns, "late", "agent-a"))
    assert kit.wait_until_lease_has_a_holder("late", ns, timeout="5s") == "agent-a"
    with pytest.raises(WaitTimeout, match="last seen: no such lease"):
        kit.wait_until_lease_has_a_holder("never", ns, timeout="0.4s")


def test_wait_until_lease_holder_changes_measures_the_failover(kit, ns, kube_client, lease):
    thread = later(0.5, lambda: take_lease(kube_client, ns, lease, "agent-b"))
    holder, seconds = kit.wait_until_lease_holder_changes(lease, ns, timeout="5s")
    thread.join(TIMEOUT)
    assert holder == "agent-b"
    assert 0.4 <= seconds < 1.5, seconds
    # from a given moment, and when the holder changed before the wait began
    since = time.time() - 2.0
    holder, seconds = kit.wait_until_lease_holder_changes(lease, ns, from_holder="agent-a", since=since)
    assert holder == "agent-b" and 2.0 <= seconds < 2.5


def test_wait_until_lease_holder_changes_times_out(kit, ns, lease):
    with pytest.raises(WaitTimeout, match=r"change holder from 'agent-a'.*last seen: holder still 'agent-a'"):
        kit.wait_until_lease_holder_changes(lease, ns, timeout="0.5s")


def test_a_flapping_holder_fails_the_stable_for_window(kit, ns, kube_client, lease):
    later(0.2, lambda: take_lease(kube_client, ns, lease, "agent-b"))
    later(0.5, lambda: take_lease(kube_client, ns, lease, "agent-c"))
    with pytest.raises(KitError, match=r"flapped between holders.*'agent-a' -> 'agent-b' -> 'agent-c'"):
        kit.wait_until_lease_holder_changes(lease, ns, timeout="5s", stable_for="2s")


def test_a_stable_new_holder_passes_the_stable_for_window(kit, ns, kube_client, lease):
    later(0.2, lambda: take_lease(kube_client, ns, lease, "agent-b"))
    later(0.5, lambda: take_lease(kube_client, ns, lease, "agent-b"))  # a renewal is not a flap
    start = time.monotonic()
    holder, _seconds = kit.wait_until_lease_holder_changes(lease, ns, timeout="5s", stable_for="1s")
    assert holder == "agent-b"
    assert time.monotonic() - start >= 1.1


def test_two_candidates_race_and_the_keyword_reports_the_winner(kit, ns, kube_api, lease):
    def candidate(identity: str) -> None:
        with client.ApiClient(client.Configuration(host=kube_api.url)) as own:
            leases = client.CoordinationV1Api(own)
            for _ in range(20):
                current = leases.read_namespaced_lease(lease, ns)
                if current.spec.holder_identity not in ("agent-a", None, ""):
                    return
                current.spec.holder_identity = identity
                try:
                    leases.replace_namespaced_lease(lease, ns, current)
                    return
                except client.ApiException as error:
                    assert error.status == 409

    threads = [later(0.3, lambda i=i: candidate(f"agent-{i}")) for i in ("b", "c")]
    holder, _seconds = kit.wait_until_lease_holder_changes(lease, ns, timeout="5s", stable_for="0.5s")
    for thread in threads:
        thread.join(TIMEOUT)
    assert holder in ("agent-b", "agent-c")
    assert kit.get_lease_holder(lease, ns) == holder


# -- events -------------------------------------------------------------------------------------
def test_wait_until_event(kit, ns, kube_client):
    def report() -> None:
        client.CoreV1Api(kube_client).create_namespaced_event(ns, {
            "metadata": {"name": f"web-1.{uuid.uuid4().hex[:6]}"}, "reason": "Started", "message": "Started web",
            "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": ns}})

    later(0.3, report)
    assert kit.wait_until_event("Started", "web-1", ns, kind="Pod", timeout="5s") == "Started web"
    with pytest.raises(WaitTimeout, match=r"Event 'Killing'.*last seen: events with reasons Started"):
        kit.wait_until_event("Killing", "web-1", ns, timeout="0.4s")


# -- polling where the API cannot watch ---------------------------------------------------------
def test_waits_poll_where_the_api_cannot_watch(kit, ns, kube_client, lease):
    from KubeKit.watching import ListWatch, holder_of

    conn = kit.ctx.conn()
    original = conn.coordination.list_namespaced_lease
    calls = {"watch": 0, "list": 0}

    @functools.wraps(original)
    def list_without_watch(*args, **kwargs):
        if kwargs.get("watch"):
            calls["watch"] += 1
            raise client.ApiException(status=405, reason="Method Not Allowed")
        calls["list"] += 1
        return original(*args, **kwargs)

    later(0.5, lambda: take_lease(kube_client, ns, lease, "agent-b"))
    watcher = ListWatch(conn, list_without_watch, ns, field_selector=f"metadata.name={lease}")
    holder = watcher.until("holder b", lambda s: holder_of(s, lease) if holder_of(s, lease) == "agent-b" else None,
                           lambda s: holder_of(s, lease), timeout=5, poll=0.1)
    assert holder == "agent-b"
    assert calls["watch"] == 1 and calls["list"] >= 3  # one refused watch, then polling


def renew_every(kube_client, namespace: str, name: str, holder: str, period: float, stop: threading.Event) -> None:
    """A replica that believes it leads: it writes the lease in its own name every ``period``, as client-go's
    leader renews (read, set holder and renewTime, replace; a conflict is retried at the next period)."""
    leases = client.CoordinationV1Api(kube_client)
    while not stop.wait(period):
        lease = leases.read_namespaced_lease(name, namespace)
        lease.spec.holder_identity = holder
        lease.spec.renew_time = datetime.now(UTC)
        try:
            leases.replace_namespaced_lease(name, namespace, lease)
        except client.ApiException as error:
            assert error.status == 409


def renewing(kube_api, namespace: str, name: str, holders: list[str], period: float = 0.2):
    stop = threading.Event()

    def run(holder: str) -> None:
        with client.ApiClient(client.Configuration(host=kube_api.url)) as own:
            renew_every(own, namespace, name, holder, period, stop)

    threads = [threading.Thread(target=run, args=(h,), daemon=True) for h in holders]
    for thread in threads:
        thread.start()
    return stop, threads


@pytest.mark.parametrize("holders", [["agent-a"], ["agent-a", "agent-b"]], ids=["one-leader", "split-brain"])
def test_lease_claims_name_every_replica_that_renews(kit, ns, kube_api, lease, holders):
    stop, threads = renewing(kube_api, ns, lease, holders)
    try:
        claims = kit.get_lease_claims(lease, ns, during="1.5s")
    finally:
        stop.set()
        for thread in threads:
            thread.join(TIMEOUT)
    assert sorted(claims) == holders, claims
    assert all(count >= 2 for count in claims.values()), claims


def test_lease_claims_of_a_quiet_lease_are_its_holder_once(kit, ns, lease):
    started = time.monotonic()
    assert kit.get_lease_claims(lease, ns, during="0.5s") == {"agent-a": 1}
    assert 0.5 <= time.monotonic() - started < 0.5 + TIMEOUT


def test_object_names_by_kind_selector_and_prefix(kit, ns, kube_client):
    make_pod(kube_client, ns, "alice-desktop-1a2b-0", session="alice-desktop-1a2b")
    make_pod(kube_client, ns, "bob-desktop-3c4d-0", session="bob-desktop-3c4d")
    assert kit.get_object_names("Pod", ns) == ["alice-desktop-1a2b-0", "bob-desktop-3c4d-0"]
    assert kit.get_object_names("pods", ns, selector="session=bob-desktop-3c4d") == ["bob-desktop-3c4d-0"]
    assert kit.get_object_names("Pod", ns, starting_with=["alice-desktop-1a2b"]) == ["alice-desktop-1a2b-0"]
    assert kit.get_object_names("PersistentVolumeClaim", ns, starting_with=["alice"], assertion_operator="==",
                                assertion_expected=[]) == []
    with pytest.raises(AssertionError, match=r"Pod objects in .*alice-desktop-1a2b-0"):
        kit.get_object_names("Pod", ns, starting_with=["alice-desktop-1a2b"], assertion_operator="==",
                             assertion_expected=[], timeout="0.3s")
