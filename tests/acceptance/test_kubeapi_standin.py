"""The Kubernetes API stand-in keeps the semantics the kit relies on, seen through the official client."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from kubernetes import client, watch

from environments.local.kubeapi import ROOT, KubeApiStandIn
from environments.local.procs import free_port

TIMEOUT = 5


@pytest.fixture
def api(kube_client):
    return kube_client


@pytest.fixture
def core(api):
    return client.CoreV1Api(api)


@pytest.fixture
def namespace(core):
    name = f"kit-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}}, _request_timeout=TIMEOUT)
    yield name
    try:
        core.delete_namespace(name, _request_timeout=TIMEOUT)
    except client.ApiException as error:
        assert error.status == 404


def pod(name: str, **labels: str) -> dict:
    return {"metadata": {"name": name, "labels": labels}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def deployment(name: str, replicas: int = 1) -> dict:
    labels = {"app": name}
    return {"metadata": {"name": name}, "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}}


def status_of(call, *args, **kwargs) -> int:
    try:
        call(*args, **kwargs)
    except client.ApiException as error:
        return error.status
    return 200


# -- the process ---------------------------------------------------------------------------------
def test_runs_as_its_own_process_and_says_it_is_a_stand_in(kube_api, api):
    assert kube_api.running() and kube_api.process.pid != os.getpid()
    version = client.VersionApi(api).get_code(_request_timeout=TIMEOUT)
    assert "stand-in" in version.git_version
    assert version.major == "1"


def test_stop_ends_the_process(tmp_path):
    server = KubeApiStandIn(tmp_path).start()
    assert server.healthy()
    server.stop()
    assert not server.running()


def test_a_busy_port_is_refused_with_a_clear_message(kube_api):
    done = subprocess.run([sys.executable, "-m", "environments.local.kubeapi", "--port", str(kube_api.port)],
                          cwd=ROOT, capture_output=True, text=True, timeout=20)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{kube_api.port}" in done.stderr


def test_command_line_serves_on_the_given_port(tmp_path):
    port = free_port()
    server = KubeApiStandIn(tmp_path, port=port).start()
    try:
        assert server.url == f"http://127.0.0.1:{port}"
        assert server.version()["gitVersion"].endswith("stand-in")
    finally:
        server.stop()


# -- discovery -----------------------------------------------------------------------------------
def test_discovery_answers_the_client(api):
    assert client.CoreApi(api).get_api_versions(_request_timeout=TIMEOUT).versions == ["v1"]
    groups = {g.name for g in client.ApisApi(api).get_api_versions(_request_timeout=TIMEOUT).groups}
    assert {"apps", "coordination.k8s.io", "events.k8s.io", "stream.space"} <= groups
    leases = client.CoordinationV1Api(api).get_api_resources(_request_timeout=TIMEOUT)
    assert [r.name for r in leases.resources] == ["leases"]
    core_names = {r.name for r in client.CoreV1Api(api).get_api_resources(_request_timeout=TIMEOUT).resources}
    assert {"namespaces", "pods", "pods/status", "services", "persistentvolumeclaims", "events"} <= core_names
    apps_names = {r.name for r in client.AppsV1Api(api).get_api_resources(_request_timeout=TIMEOUT).resources}
    assert {"deployments", "deployments/scale", "deployments/status"} <= apps_names


# -- namespaces and the basic verbs --------------------------------------------------------------
def test_namespaces_are_cluster_scoped(core):
    name = f"kit-{uuid.uuid4().hex[:8]}"
    created, code, _headers = core.create_namespace_with_http_info({"metadata": {"name": name}},
                                                                   _request_timeout=TIMEOUT)
    assert code == 201
    assert created.metadata.namespace is None
    assert created.status.phase == "Active"
    assert core.read_namespace(name).metadata.uid == created.metadata.uid
    assert name in [n.metadata.name for n in core.list_namespace().items]
    core.delete_namespace(name)
    assert status_of(core.read_namespace, name) == 404
    assert status_of(core.delete_namespace, name) == 404
    assert name not in [n.metadata.name for n in core.list_namespace().items]


def test_create_answers_201_with_server_fields(core, namespace):
    created, code, _headers = core.create_namespaced_pod_with_http_info(namespace, pod("p1"),
                                                                        _request_timeout=TIMEOUT)
    assert code == 201
    meta = created.metadata
    assert meta.uid and meta.resource_version and meta.creation_timestamp is not None
    assert meta.namespace == namespace
    assert created.status.phase == "Pending"
    assert created.kind == "Pod" and created.api_version == "v1"


def test_missing_objects_answer_404(core, namespace):
    assert status_of(core.read_namespaced_pod, "nope", namespace) == 404
    assert status_of(core.delete_namespaced_pod, "nope", namespace) == 404
    assert status_of(core.replace_namespaced_pod, "nope", namespace, pod("nope")) == 404
    assert status_of(core.patch_namespaced_pod, "nope", namespace, {"metadata": {"labels": {"a": "b"}}}) == 404
    assert status_of(core.create_namespaced_pod, "no-such-namespace", pod("p")) == 404
    try:
        core.read_namespaced_pod("nope", namespace)
    except client.ApiException as error:
        assert json.loads(error.body)["message"] == 'pods "nope" not found'


def test_creating_twice_answers_409_already_exists(core, namespace):
    core.create_namespaced_pod(namespace, pod("p1"))
    try:
        core.create_namespaced_pod(namespace, pod("p1"))
    except client.ApiException as error:
        assert error.status == 409 and "AlreadyExists" in error.body
    else:
        pytest.fail("a second create of the same pod succeeded")


def test_resource_version_increments_on_every_write(core, namespace):
    versions = []
    versions.append(core.create_namespaced_pod(namespace, pod("p1")).metadata.resource_version)
    versions.append(core.patch_namespaced_pod("p1", namespace, {"metadata": {"labels": {"x": "1"}}})
                    .metadata.resource_version)
    current = core.read_namespaced_pod("p1", namespace)
    current.metadata.labels["x"] = "2"
    versions.append(core.replace_namespaced_pod("p1", namespace, current).metadata.resource_version)
    versions.append(core.patch_namespaced_pod_status("p1", namespace, {"status": {"phase": "Running"}})
                    .metadata.resource_version)
    versions.append(core.delete_namespaced_pod("p1", namespace).metadata.resource_version)
    numbers = [int(v) for v in versions]
    assert all(b > a for a, b in itertools.pairwise(numbers)), numbers


def test_stale_resource_version_is_a_conflict(core, namespace):
    first = core.create_namespaced_pod(namespace, pod("p1"))
    core.patch_namespaced_pod("p1", namespace, {"metadata": {"labels": {"moved": "on"}}})
    first.metadata.labels = {"stale": "yes"}
    assert status_of(core.replace_namespaced_pod, "p1", namespace, first) == 409
    stale = {"metadata": {"resourceVersion": first.metadata.resource_version, "labels": {"stale": "yes"}}}
    assert status_of(core.patch_namespaced_pod, "p1", namespace, stale) == 409
    assert status_of(core.patch_namespaced_pod_status, "p1", namespace,
                     {"metadata": {"resourceVersion": first.metadata.resource_version}}) == 409
    assert core.read_namespaced_pod("p1", namespace).metadata.labels == {"moved": "on"}


def test_merge_strategic_and_json_patches(api, core, namespace):
    core.create_namespaced_pod(namespace, pod("p1", app="a", tier="web"))
    # the client sends a dict as a strategic merge patch; the stand-in merges it
    patched = core.patch_namespaced_pod("p1", namespace, {"metadata": {"labels": {"tier": None, "new": "1"}}})
    assert patched.metadata.labels == {"app": "a", "new": "1"}
    json_patched = core.patch_namespaced_pod(
        "p1", namespace, [{"op": "replace", "path": "/metadata/labels/app", "value": "b"}])
    assert json_patched.metadata.labels["app"] == "b"
    merged = api.call_api(*api.param_serialize(
        "PATCH", "/api/v1/namespaces/{namespace}/pods/{name}", path_params={"namespace": namespace, "name": "p1"},
        header_params={"Content-Type": "application/merge-patch+json"}, body={"metadata": {"labels": {"m": "1"}}}))
    merged.read()
    assert merged.status == 200
    assert core.read_namespaced_pod("p1", namespace).metadata.labels == {"app": "b", "new": "1", "m": "1"}


# -- label selectors ----------------------------------------------------------------------------
SELECTORS = {
    "app=web": {"a", "b"},
    "app==web,tier=front": {"a"},
    "app!=web": {"c", "d"},
    "tier in (front,back)": {"a", "b", "c"},
    "tier notin (front)": {"b", "c", "d"},
    "tier": {"a", "b", "c"},
    "!tier": {"d"},
}


@pytest.mark.parametrize(("selector", "expected"), SELECTORS.items())
def test_label_selectors_on_list(core, namespace, selector, expected):
    for name, labels in {"a": {"app": "web", "tier": "front"}, "b": {"app": "web", "tier": "back"},
                         "c": {"app": "db", "tier": "back"}, "d": {"app": "db"}}.items():
        core.create_namespaced_pod(namespace, pod(name, **labels))
    found = core.list_namespaced_pod(namespace, label_selector=selector, _request_timeout=TIMEOUT)
    assert {p.metadata.name for p in found.items} == expected


def test_field_selector_on_list(core, namespace):
    core.create_namespaced_pod(namespace, pod("a"))
    core.create_namespaced_pod(namespace, pod("b"))
    found = core.list_namespaced_pod(namespace, field_selector="metadata.name=b")
    assert [p.metadata.name for p in found.items] == ["b"]


def test_a_bad_selector_answers_400(core, namespace):
    assert status_of(core.list_namespaced_pod, namespace, label_selector="a in b c") == 400


# -- watches ------------------------------------------------------------------------------------
def _collect(core, namespace, events, **kwargs):
    for event in watch.Watch().stream(core.list_namespaced_pod, namespace, _request_timeout=TIMEOUT, **kwargs):
        events.append((event["type"], event["object"].metadata.name))


def test_live_watch_sees_added_modified_deleted_for_its_selector(core, namespace):
    events: list[tuple[str, str]] = []
    watcher = threading.Thread(target=_collect, args=(core, namespace, events),
                               kwargs={"label_selector": "app=web", "timeout_seconds": 2})
    watcher.start()
    time.sleep(0.3)  # let the watch connect (the events below must arrive live)
    core.create_namespaced_pod(namespace, pod("web-1", app="web"))
    core.create_namespaced_pod(namespace, pod("db-1", app="db"))
    core.patch_namespaced_pod("web-1", namespace, {"metadata": {"labels": {"seen": "yes"}}})
    core.patch_namespaced_pod("db-1", namespace, {"metadata": {"labels": {"app": "web"}}})
    core.delete_namespaced_pod("web-1", namespace)
    watcher.join(TIMEOUT)
    assert not watcher.is_alive()
    assert events == [("ADDED", "web-1"), ("MODIFIED", "web-1"), ("ADDED", "db-1"), ("DELETED", "web-1")]


def test_watch_ends_after_timeout_seconds(core, namespace):
    start = time.monotonic()
    events: list[tuple[str, str]] = []
    _collect(core, namespace, events, timeout_seconds=1)
    elapsed = time.monotonic() - start
    assert 0.9 <= elapsed < 2.5, elapsed
    assert events == []


def test_watch_resumes_from_a_resource_version(core, namespace):
    core.create_namespaced_pod(namespace, pod("before"))
    mark = core.list_namespaced_pod(namespace).metadata.resource_version
    core.create_namespaced_pod(namespace, pod("after"))
    core.delete_namespaced_pod("before", namespace)
    events: list[tuple[str, str]] = []
    _collect(core, namespace, events, resource_version=mark, timeout_seconds=1)
    assert events == [("ADDED", "after"), ("DELETED", "before")]
    listed: list[tuple[str, str]] = []
    _collect(core, namespace, listed, timeout_seconds=1)  # no resourceVersion: the current state first
    assert listed == [("ADDED", "after")]


# -- kinds --------------------------------------------------------------------------------------
def test_services_pvcs_and_events(api, core, namespace):
    svc = core.create_namespaced_service(namespace, {"metadata": {"name": "s"}, "spec": {
        "selector": {"app": "x"}, "ports": [{"name": "vnc", "port": 5900}]}})
    assert svc.spec.ports[0].name == "vnc"
    pvc = core.create_namespaced_persistent_volume_claim(namespace, {"metadata": {"name": "s-home"}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}})
    assert pvc.metadata.uid
    core.create_namespaced_event(namespace, {"metadata": {"name": "e1"}, "reason": "Started",
                                             "involvedObject": {"kind": "Pod", "name": "s"}})
    found = core.list_namespaced_event(namespace, field_selector="involvedObject.name=s")
    assert [e.reason for e in found.items] == ["Started"]
    events_v1 = client.EventsV1Api(api)
    events_v1.create_namespaced_event(namespace, {"metadata": {"name": "e2"}, "reason": "Pulled", "action": "x",
                                                  "eventTime": "2026-01-01T00:00:00.000000Z"})
    assert events_v1.read_namespaced_event("e2", namespace).reason == "Pulled"
    assert [s.metadata.name for s in core.list_namespaced_service(namespace).items] == ["s"]
    core.delete_namespaced_service("s", namespace)
    core.delete_namespaced_persistent_volume_claim("s-home", namespace)
    assert core.list_namespaced_persistent_volume_claim(namespace).items == []


def test_deployment_scale_subresource(api, namespace):
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment("d", 1))
    scale = apps.read_namespaced_deployment_scale("d", namespace)
    assert scale.spec.replicas == 1 and scale.status.selector == "app=d"
    assert apps.patch_namespaced_deployment_scale("d", namespace, {"spec": {"replicas": 3}}).spec.replicas == 3
    scale = apps.read_namespaced_deployment_scale("d", namespace)
    scale.spec.replicas = 0
    assert apps.replace_namespaced_deployment_scale("d", namespace, scale).spec.replicas == 0
    assert apps.read_namespaced_deployment("d", namespace).spec.replicas == 0
    assert status_of(apps.replace_namespaced_deployment_scale, "d", namespace, scale) == 409  # stale now
    assert status_of(apps.read_namespaced_deployment_scale, "nope", namespace) == 404


def test_status_subresource_for_pods_and_deployments(api, core, namespace):
    apps = client.AppsV1Api(api)
    apps.create_namespaced_deployment(namespace, deployment("d", 2))
    apps.patch_namespaced_deployment_status("d", namespace, {"status": {"readyReplicas": 2, "replicas": 2}})
    current = apps.read_namespaced_deployment("d", namespace)
    assert current.status.ready_replicas == 2
    current.status.ready_replicas = 0  # a write to the main resource keeps the status
    assert apps.replace_namespaced_deployment("d", namespace, current).status.ready_replicas == 2
    core.create_namespaced_pod(namespace, pod("p1"))
    running = core.patch_namespaced_pod_status("p1", namespace, {
        "metadata": {"labels": {"ignored": "yes"}},
        "status": {"phase": "Running", "podIP": "10.0.0.7",
                   "conditions": [{"type": "Ready", "status": "True"}]}})
    assert running.status.phase == "Running" and running.status.pod_ip == "10.0.0.7"
    assert not running.metadata.labels or "ignored" not in running.metadata.labels


def test_pod_logs_and_exec_say_there_is_no_kubelet_and_portforward_wants_an_upgrade(api, core, namespace):
    core.create_namespaced_pod(namespace, pod("p1"))
    answer = api.call_api(*api.param_serialize("GET", f"/api/v1/namespaces/{namespace}/pods/p1/exec"),
                          _request_timeout=TIMEOUT)
    assert answer.status == 501 and b"no kubelet" in answer.read()
    plain = api.call_api(*api.param_serialize("POST", f"/api/v1/namespaces/{namespace}/pods/p1/portforward"),
                         _request_timeout=TIMEOUT)
    body = plain.read()
    assert plain.status == 400 and b"SPDY/3.1" in body and b"WebSocket" in body
    websocket = api.call_api(*api.param_serialize(
        "GET", f"/api/v1/namespaces/{namespace}/pods/p1/portforward", query_params=[("ports", "5900")],
        header_params={"Connection": "Upgrade", "Upgrade": "websocket"}), _request_timeout=TIMEOUT)
    assert websocket.status == 400 and b"not running" in websocket.read()  # served, but p1 has no podIP yet
    try:
        core.read_namespaced_pod_log("p1", namespace, _request_timeout=TIMEOUT)
    except client.ApiException as error:
        assert error.status == 501 and "stand-in" in error.body and "kubelet" in error.body
    else:
        pytest.fail("pod logs answered on a stand-in without kubelet")


def test_custom_objects_sessions_and_templates(api, namespace):
    custom = client.CustomObjectsApi(api)
    group, version = "stream.space", "v1alpha1"
    body = {"apiVersion": f"{group}/{version}", "kind": "Session",
            "metadata": {"name": "alice-firefox-1", "labels": {"user": "alice"}}, "spec": {"user": "alice"}}
    created = custom.create_namespaced_custom_object(group, version, namespace, "sessions", body)
    assert created["metadata"]["uid"] and created["metadata"]["namespace"] == namespace
    custom.create_namespaced_custom_object(group, version, namespace, "sessions", {
        "apiVersion": f"{group}/{version}", "kind": "Session",
        "metadata": {"name": "bob-1", "labels": {"user": "bob"}}})
    custom.create_namespaced_custom_object(group, version, namespace, "templates", {
        "apiVersion": f"{group}/{version}", "kind": "Template", "metadata": {"name": "firefox"}, "spec": {}})
    found = custom.list_namespaced_custom_object(group, version, namespace, "sessions", label_selector="user=alice")
    assert [o["metadata"]["name"] for o in found["items"]] == ["alice-firefox-1"]
    patched = custom.patch_namespaced_custom_object_status(group, version, namespace, "sessions", "alice-firefox-1",
                                                           {"status": {"state": "running"}})
    assert patched["status"] == {"state": "running"}
    assert custom.get_namespaced_custom_object(group, version, namespace, "templates", "firefox")["kind"] == "Template"
    custom.delete_namespaced_custom_object(group, version, namespace, "sessions", "alice-firefox-1")
    assert status_of(custom.get_namespaced_custom_object, group, version, namespace, "sessions",
                     "alice-firefox-1") == 404


def test_deleting_a_namespace_deletes_what_is_in_it(api, core):
    name = f"kit-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    core.create_namespaced_pod(name, pod("p1"))
    client.CoordinationV1Api(api).create_namespaced_lease(name, {"metadata": {"name": "l"}, "spec": {}})
    client.CustomObjectsApi(api).create_namespaced_custom_object("stream.space", "v1alpha1", name, "sessions", {
        "apiVersion": "stream.space/v1alpha1", "kind": "Session", "metadata": {"name": "s"}})
    core.delete_namespace(name)
    assert status_of(core.read_namespaced_pod, "p1", name) == 404
    assert status_of(client.CoordinationV1Api(api).read_namespaced_lease, "l", name) == 404
    left = client.CustomObjectsApi(api).list_cluster_custom_object("stream.space", "v1alpha1", "sessions")
    assert [o["metadata"]["name"] for o in left["items"] if o["metadata"]["namespace"] == name] == []
    assert status_of(core.create_namespaced_pod, name, pod("p2")) == 404


# -- leases and optimistic concurrency ----------------------------------------------------------
def test_two_candidates_racing_for_one_lease_exactly_one_wins(kube_api, namespace):
    clients = [client.ApiClient(client.Configuration(host=kube_api.url)) for _ in range(2)]
    try:
        leases = [client.CoordinationV1Api(c) for c in clients]
        leases[0].create_namespaced_lease(namespace, {"metadata": {"name": "leader"},
                                                      "spec": {"holderIdentity": "nobody"}})
        for _round in range(5):
            seen = [api.read_namespaced_lease("leader", namespace) for api in leases]
            assert seen[0].metadata.resource_version == seen[1].metadata.resource_version
            barrier = threading.Barrier(2)
            outcomes: dict[str, int] = {}

            def take(index: int, seen=seen, barrier=barrier, outcomes=outcomes) -> None:
                lease = seen[index]
                lease.spec.holder_identity = f"candidate-{index}"
                barrier.wait(TIMEOUT)
                outcomes[f"candidate-{index}"] = status_of(leases[index].replace_namespaced_lease, "leader",
                                                           namespace, lease, _request_timeout=TIMEOUT)

            threads = [threading.Thread(target=take, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(TIMEOUT)
            assert sorted(outcomes.values()) == [200, 409], outcomes
            winner = next(name for name, code in outcomes.items() if code == 200)
            assert leases[0].read_namespaced_lease("leader", namespace).spec.holder_identity == winner
    finally:
        for c in clients:
            c.close()
