"""What the stand-in learned to serve real client-go programs and kubectl: aggregated discovery, OpenAPI
(JSON and protobuf), Tables, watch bookmarks and watch-list, paging, status on create, protobuf request
bodies, strategic merge on the right kinds, and SPDY port-forward. Raw HTTP, so each answer is seen
as a client sees it; client-go and kubectl themselves are driven in their own tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from environments.local.kubeapi import openapi
from environments.local.procs import free_port
from tests.support.echo import echo_server
from tests.support.spdy_forward import forward, upgrade

AGGREGATED = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
TIMEOUT = 5


def call(base: str, method: str, path: str, body: object = None, content_type: str = "application/json",
         accept: str = "application/json") -> tuple[int, dict[str, str], bytes]:
    data = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method,
                                     headers={"Content-Type": content_type, "Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.fixture
def base(kube_api) -> str:
    return kube_api.url


@pytest.fixture
def ns(base):
    name = f"proto-{uuid.uuid4().hex[:8]}"
    assert call(base, "POST", "/api/v1/namespaces", {"metadata": {"name": name}})[0] == 201
    yield name
    call(base, "DELETE", f"/api/v1/namespaces/{name}")


def jget(base: str, path: str, accept: str = "application/json") -> tuple[dict[str, str], dict]:
    status, headers, body = call(base, "GET", path, accept=accept)
    assert status == 200, body[:300]
    return headers, json.loads(body)


# -- discovery and OpenAPI --------------------------------------------------------------------------------
def test_aggregated_discovery_when_asked_and_the_legacy_documents_otherwise(base):
    headers, doc = jget(base, "/apis", AGGREGATED)
    assert headers["Content-Type"] == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    groups = {item["metadata"]["name"]: item for item in doc["items"]}
    deployments = next(r for r in groups["apps"]["versions"][0]["resources"] if r["resource"] == "deployments")
    assert deployments["scope"] == "Namespaced" and deployments["responseKind"]["kind"] == "Deployment"
    assert {s["subresource"]: s["responseKind"]["kind"] for s in deployments["subresources"]} == \
        {"status": "Deployment", "scale": "Scale"}
    _, core = jget(base, "/api", AGGREGATED)
    pods = next(r for r in core["items"][0]["versions"][0]["resources"] if r["resource"] == "pods")
    assert "portforward" in {s["subresource"] for s in pods["subresources"]} and pods["categories"] == ["all"]
    _, legacy = jget(base, "/apis")
    assert legacy["kind"] == "APIGroupList"
    _, v2beta1 = jget(base, "/apis", AGGREGATED.replace("v=v2;", "v=v2beta1;"))
    assert v2beta1["apiVersion"] == "apidiscovery.k8s.io/v2beta1"


def test_openapi_v2_in_json_and_in_protobuf_and_v3_per_group_version(base):
    _, doc = jget(base, "/openapi/v2")
    assert doc["swagger"] == "2.0" and "/apis/apps/v1/namespaces/{namespace}/deployments/{name}" in doc["paths"]
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}
    status, headers, body = call(base, "GET", "/openapi/v2", accept=openapi.PROTOBUF_V2[0])
    assert status == 200 and headers["Content-Type"] == openapi.PROTOBUF_V2[1]
    assert body[:1] == b"\x0a" and b"2.0" in body[:8] and b"/apis/apps/v1/namespaces/{namespace}/deployments" in body
    _, index = jget(base, "/openapi/v3")
    url = index["paths"]["apis/stream.space/v1alpha1"]["serverRelativeURL"]
    _, v3 = jget(base, url)
    assert v3["openapi"].startswith("3.")
    assert "/apis/stream.space/v1alpha1/namespaces/{namespace}/sessions" in v3["paths"]


# -- reading: Tables, paging, watches ------------------------------------------------------------------------
def test_kubectl_gets_a_table_with_the_columns_of_a_real_server(base, ns):
    call(base, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", {"metadata": {"name": "web"}, "spec": {
        "replicas": 2, "template": {"spec": {"containers": [{"name": "a", "image": "img"}]}}}})
    headers, table = jget(base, f"/apis/apps/v1/namespaces/{ns}/deployments", TABLE)
    assert headers["Content-Type"].startswith("application/json;as=Table")
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == \
        ["Name", "Ready", "Up-to-date", "Available", "Age"]
    assert table["rows"][0]["cells"][:2] == ["web", "0/2"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    _, one = jget(base, f"/apis/apps/v1/namespaces/{ns}/deployments/web?includeObject=Object", TABLE)
    assert one["rows"][0]["object"]["spec"]["replicas"] == 2


def test_lists_page_with_limit_and_continue(base, ns):
    for index in range(5):
        call(base, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": f"c{index}"}})
    names, token, pages = [], "", 0
    while True:
        _, page = jget(base, f"/api/v1/namespaces/{ns}/configmaps?limit=2" + (f"&continue={token}" if token else ""))
        names += [item["metadata"]["name"] for item in page["items"]]
        pages += 1
        token = page["metadata"].get("continue")
        if not token:
            break
        assert page["metadata"]["remainingItemCount"] == 5 - len(names)
    assert names == [f"c{i}" for i in range(5)] and pages == 3


def watch_lines(base: str, path: str) -> list[dict]:
    with urllib.request.urlopen(base + path, timeout=TIMEOUT) as answer:
        return [json.loads(line) for line in answer.read().splitlines() if line.strip()]


def test_watch_list_sends_the_state_then_an_initial_events_end_bookmark(base, ns):
    call(base, "POST", f"/api/v1/namespaces/{ns}/configmaps", {"metadata": {"name": "a"}})
    events = watch_lines(base, f"/api/v1/namespaces/{ns}/configmaps?watch=1&sendInitialEvents=true"
                               "&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1")
    assert [e["type"] for e in events][:2] == ["ADDED", "BOOKMARK"]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert events[1]["object"]["kind"] == "ConfigMap"
    status, _, body = call(base, "GET", f"/api/v1/namespaces/{ns}/configmaps?watch=1&sendInitialEvents=true")
    assert status == 422 and b"resourceVersionMatch" in body


def test_a_watch_with_bookmarks_ends_with_a_bookmark_to_resume_from(base, ns):
    _, listed = jget(base, f"/api/v1/namespaces/{ns}/configmaps")
    events = watch_lines(base, f"/api/v1/namespaces/{ns}/configmaps?watch=1&allowWatchBookmarks=true"
                               f"&resourceVersion={listed['metadata']['resourceVersion']}&timeoutSeconds=2")
    assert [e["type"] for e in events] == ["BOOKMARK"]
    assert int(events[0]["object"]["metadata"]["resourceVersion"]) >= int(listed["metadata"]["resourceVersion"])


# -- writing: status on create, protobuf bodies, patches -------------------------------------------------------
def test_create_drops_the_status_where_status_is_a_subresource(base, ns):
    status, _, body = call(base, "POST", f"/apis/stream.space/v1alpha1/namespaces/{ns}/sessions", {
        "apiVersion": "stream.space/v1alpha1", "kind": "Session", "metadata": {"name": "s1"},
        "spec": {"user": "alice"}, "status": {"phase": "Running"}})
    assert status == 201 and "status" not in json.loads(body)
    _, _, body = call(base, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments",
                      {"metadata": {"name": "d"}, "spec": {}, "status": {"readyReplicas": 3}})
    assert json.loads(body)["status"] == {}
    _, _, body = call(base, "POST", "/api/v1/nodes", {"metadata": {"name": f"n-{ns}"}, "status": {"capacity": {
        "pods": "10"}}})
    assert json.loads(body)["status"] == {"capacity": {"pods": "10"}}  # a kubelet registers its node with status
    call(base, "DELETE", f"/api/v1/nodes/n-{ns}")


def pb_field(number: int, payload: bytes | str | int) -> bytes:
    if isinstance(payload, int):
        return bytes([number << 3]) + bytes([payload])  # small varints only
    data = payload.encode() if isinstance(payload, str) else payload
    return bytes([number << 3 | 2, len(data)]) + data


def protobuf_body(api_version: str, kind: str, raw: bytes) -> bytes:
    return b"k8s\x00" + pb_field(1, pb_field(1, api_version) + pb_field(2, kind)) + pb_field(2, raw)


def test_protobuf_bodies_as_client_go_sends_them(base, ns):
    meta = pb_field(1, pb_field(1, "pb") + pb_field(11, pb_field(1, "app") + pb_field(2, "x")))
    configmap = meta + pb_field(2, pb_field(1, "k") + pb_field(2, "v"))
    status, _, body = call(base, "POST", f"/api/v1/namespaces/{ns}/configmaps",
                           protobuf_body("v1", "ConfigMap", configmap), "application/vnd.kubernetes.protobuf")
    created = json.loads(body)
    assert status == 201 and created["metadata"]["labels"] == {"app": "x"} and created["data"] == {"k": "v"}
    deployment = pb_field(1, pb_field(1, "zero")) + pb_field(2, pb_field(1, 0))  # spec.replicas: a pointer, 0
    status, _, body = call(base, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments",
                           protobuf_body("apps/v1", "Deployment", deployment), "application/vnd.kubernetes.protobuf")
    assert status == 201 and json.loads(body)["spec"] == {"replicas": 0}
    options = pb_field(2, pb_field(2, created["metadata"]["resourceVersion"]))  # preconditions.resourceVersion
    call(base, "PUT", f"/api/v1/namespaces/{ns}/configmaps/pb", {**created, "data": {"k": "w"}})
    status, _, _ = call(base, "DELETE", f"/api/v1/namespaces/{ns}/configmaps/pb",
                        protobuf_body("v1", "DeleteOptions", options), "application/vnd.kubernetes.protobuf")
    assert status == 409  # the precondition was read from the protobuf DeleteOptions


def test_strategic_merge_patch_merges_by_key_and_custom_resources_refuse_it(base, ns):
    call(base, "POST", f"/apis/apps/v1/namespaces/{ns}/deployments", {"metadata": {"name": "d"}, "spec": {
        "template": {"spec": {"containers": [{"name": "a", "image": "1", "ports": [{"containerPort": 3000}]},
                                             {"name": "b", "image": "1", "command": ["keep"]}]}}}})
    patch = {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                                            "containers": [{"name": "a", "image": "2"}]}}}}
    status, _, body = call(base, "PATCH", f"/apis/apps/v1/namespaces/{ns}/deployments/d", patch,
                           "application/strategic-merge-patch+json")
    containers = json.loads(body)["spec"]["template"]["spec"]["containers"]
    assert status == 200 and containers == [{"name": "a", "image": "2", "ports": [{"containerPort": 3000}]},
                                            {"name": "b", "image": "1", "command": ["keep"]}]
    assert b"$setElementOrder" not in body
    call(base, "POST", f"/apis/stream.space/v1alpha1/namespaces/{ns}/templates", {"metadata": {"name": "t"}})
    status, _, body = call(base, "PATCH", f"/apis/stream.space/v1alpha1/namespaces/{ns}/templates/t",
                           {"spec": {"x": 1}}, "application/strategic-merge-patch+json")
    assert status == 415 and b"application/merge-patch+json" in body


def test_nodes_and_application_installs_are_served(base, ns):
    assert call(base, "GET", "/api/v1/nodes")[0] == 200
    assert call(base, "POST", f"/apis/stream.space/v1alpha1/namespaces/{ns}/applicationinstalls",
                {"metadata": {"name": "a"}, "spec": {"templateName": "firefox"}})[0] == 201


def test_what_is_not_served_is_logged_as_a_gap(base, kube_api):
    assert call(base, "GET", "/apis/metrics.k8s.io/v1beta1/nodes")[0] == 404
    log = kube_api.process.log.read_text()
    assert "unserved: GET /apis/metrics.k8s.io/v1beta1/nodes -> 404" in log


# -- port-forward over SPDY ----------------------------------------------------------------------------------
@pytest.fixture
def echo():
    """A TCP echo on a loopback address of its own (the 'pod')."""
    with echo_server("127.0.204.9") as address:
        yield address


def running_pod(base: str, ns: str, name: str, ip: str) -> None:
    call(base, "POST", f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": name},
                                                         "spec": {"containers": [{"name": "c", "image": "i"}]}})
    call(base, "PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status", {"status": {"phase": "Running", "podIP": ip}},
         "application/merge-patch+json")


def test_spdy_port_forward_copies_bytes_both_ways_and_answers_pings(base, ns, echo):
    host, port = echo
    running_pod(base, ns, "echo", host)
    payload = b"RFB 003.008\n" * 20000  # 240 kB, several frames each way
    result = forward(base, ns, "echo", port, payload, want=len(payload), ping=True)
    assert result.data == payload and result.error == "" and result.pings_answered == 1


def test_spdy_port_forward_reports_a_closed_port_on_the_error_stream(base, ns, echo):
    host, _port = echo
    running_pod(base, ns, "echo", host)
    closed = free_port(host)
    result = forward(base, ns, "echo", closed, want=0)
    assert f"error forwarding port {closed}" in result.error and result.data_closed


def test_port_forward_refuses_an_unknown_protocol_and_a_pod_that_is_not_running(base, ns, echo):
    host, _ = echo
    running_pod(base, ns, "echo", host)
    sock, status, rest = upgrade(base, ns, "echo", protocol="v4.channel.k8s.io")
    sock.close()
    assert status == 403 and b"portforward.k8s.io" in rest
    call(base, "POST", f"/api/v1/namespaces/{ns}/pods", {"metadata": {"name": "pending"}, "spec": {}})
    sock, status, rest = upgrade(base, ns, "pending")
    sock.close()
    assert status == 400 and b"not running" in rest


def test_broken_spdy_input_closes_that_connection_only(base, ns, echo):
    host, port = echo
    running_pod(base, ns, "echo", host)
    sock, status, _rest = upgrade(base, ns, "echo")
    with sock:
        assert status == 101
        sock.sendall(b"\x80\x02\x00\x01\x00\x00\x00\x00")  # a control frame of SPDY version 2
        goaway = sock.recv(64)
        assert goaway[:4] == b"\x80\x03\x00\x07"  # GOAWAY, then the server closes
        assert sock.recv(64) == b""
    assert forward(base, ns, "echo", port, b"still here", want=10).data == b"still here"
