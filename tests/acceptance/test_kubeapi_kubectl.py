"""kubectl, an independent client, against the stand-in: apply twice (client-side apply computes a
strategic merge patch with ``$setElementOrder``), get (server-side Tables), strategic patch, custom
resources (merge patches), and port-forward (SPDY, tunnelled in a WebSocket by kubectl 1.31+).

The kubectl on PATH is used (``./kit setup`` installs Debian's ``kubernetes-client``); ``KUBECTL`` names
another. Without kubectl these tests fail: they are the proof that kubectl is served."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from environments.local.procs import free_port

POD_IP = "127.0.205.7"
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: session
        image: IMAGE
        command: ["serve", "--port", "3000"]
        ports: [{name: vnc, containerPort: 3000}]
        env: [{name: TZ, value: UTC}]
      - name: sidecar
        image: sidecar:1
        command: ["relay"]
        ports: [{containerPort: 9000}]
"""
SESSION = """apiVersion: stream.space/v1alpha1
kind: Session
metadata: {name: alice-1, labels: {user: alice}}
spec: {user: alice, template: firefox, state: STATE}
"""


@pytest.fixture(scope="module")
def kubectl_binary() -> str:
    found = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl is not installed. Fix: ./kit setup (installs Debian's kubernetes-client) or "
                    "'apt-get install kubernetes-client'.")
    return found


@pytest.fixture
def kubectl(kubectl_binary, kube_api, tmp_path):
    namespace = f"kubectl-{uuid.uuid4().hex[:6]}"
    config = tmp_path / "kubeconfig"
    config.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
        "clusters": [{"name": "stand-in", "cluster": {"server": kube_api.url}}],
        "users": [{"name": "kit", "user": {}}],
        "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "kit", "namespace": namespace}}]}))

    def run(*args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([kubectl_binary, "--kubeconfig", str(config), "--cache-dir", str(tmp_path / "cache"),
                               *args], input=stdin, capture_output=True, text=True, timeout=60)
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)}: {done.stderr}"
        return done

    run("create", "namespace", namespace)
    run.argv = [kubectl_binary, "--kubeconfig", str(config)]  # type: ignore[attr-defined]
    yield run
    run("delete", "namespace", namespace, "--wait=false", check=False)


def containers(kubectl) -> dict[str, dict]:
    obj = json.loads(kubectl("get", "deployment", "web", "-o", "json").stdout)
    return {c["name"]: c for c in obj["spec"]["template"]["spec"]["containers"]}


def test_apply_twice_changes_one_image_and_keeps_the_other_container_whole(kubectl):
    assert "created" in kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("IMAGE", "firefox:1")).stdout
    before = containers(kubectl)
    assert "configured" in kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("IMAGE", "firefox:2")).stdout
    after = containers(kubectl)
    assert after["session"] == {**before["session"], "image": "firefox:2"}
    assert after["sidecar"] == before["sidecar"] == {"name": "sidecar", "image": "sidecar:1", "command": ["relay"],
                                                     "ports": [{"containerPort": 9000}]}
    stored = kubectl("get", "deployment", "web", "-o", "json").stdout
    assert "$setElementOrder" not in stored and "$patch" not in stored
    last_applied = json.loads(stored)["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    assert "firefox:2" in last_applied
    assert "unchanged" in kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("IMAGE", "firefox:2")).stdout


def test_get_prints_the_server_table(kubectl):
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("IMAGE", "firefox:1"))
    table = kubectl("get", "deployments").stdout.splitlines()
    assert table[0].split() == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert table[1].split()[:2] == ["web", "0/1"]
    wide = kubectl("get", "deployment", "web", "-o", "wide").stdout
    assert "session,sidecar" in wide and "firefox:1,sidecar:1" in wide


def test_strategic_patch_merges_env_by_name(kubectl):
    kubectl("apply", "-f", "-", stdin=DEPLOYMENT.replace("IMAGE", "firefox:1"))
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "session", "env": [
        {"name": "TZ", "value": "Europe/Paris"}, {"name": "USER", "value": "alice"}]}]}}}}
    kubectl("patch", "deployment", "web", "--type", "strategic", "-p", json.dumps(patch))
    after = containers(kubectl)
    assert {e["name"]: e["value"] for e in after["session"]["env"]} == {"TZ": "Europe/Paris", "USER": "alice"}
    assert after["session"]["ports"] == [{"name": "vnc", "containerPort": 3000}]
    assert after["sidecar"]["command"] == ["relay"]


def test_custom_resources_apply_with_merge_patches_and_refuse_strategic_ones(kubectl):
    assert "created" in kubectl("apply", "-f", "-", stdin=SESSION.replace("STATE", "running")).stdout
    assert "configured" in kubectl("apply", "-f", "-", stdin=SESSION.replace("STATE", "hibernated")).stdout
    assert kubectl("get", "sessions", "alice-1", "-o", "jsonpath={.spec.state}").stdout == "hibernated"
    header = kubectl("get", "sessions").stdout.splitlines()[0].split()
    assert header[:4] == ["NAME", "USER", "TEMPLATE", "STATE"]
    refused = kubectl("patch", "session", "alice-1", "--type", "strategic", "-p", '{"spec":{"state":"x"}}',
                      check=False)
    said = refused.stderr + refused.stdout
    assert refused.returncode != 0 and ("415" in said or "media type" in said), said


@pytest.fixture
def echo():
    server = socket.create_server((POD_IP, free_port(POD_IP)))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    server.close()


def test_port_forward_reaches_the_pod(kubectl, kube_api, echo, tmp_path):
    kubectl("run", "echo", "--image=echo", "--restart=Never")
    namespace = json.loads(kubectl("get", "pod", "echo", "-o", "json").stdout)["metadata"]["namespace"]
    with client.ApiClient(client.Configuration(host=kube_api.url)) as api:  # a kubelet would report this
        client.CoreV1Api(api).patch_namespaced_pod_status(
            "echo", namespace, {"status": {"phase": "Running", "podIP": POD_IP}}, _request_timeout=5)
    local = free_port()
    log = Path(tmp_path / "port-forward.log")
    with open(log, "w") as out:
        forward = subprocess.Popen([*kubectl.argv, "-v=4", "port-forward", "pod/echo", f"{local}:{echo}"], stdout=out,
                                   stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while "Forwarding from" not in log.read_text():
            assert forward.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        for round_trip in range(2):
            with socket.create_connection(("127.0.0.1", local), timeout=5) as conn:
                message = b"via kubectl %d" % round_trip
                conn.sendall(message)
                assert conn.recv(100) == message
    finally:
        forward.terminate()
        forward.wait(10)
    if "tunneling_dialer" in log.read_text():  # kubectl 1.31+ tunnels SPDY in a WebSocket: served, no fallback
        served = kube_api.process.log.read_text()
        assert f"port-forward WebSocket (SPDY/3.1+portforward.k8s.io) to pod echo ({POD_IP}) opened" in served
        assert f"port-forward session to pod echo ({POD_IP}) opened" not in served  # the plain SPDY fallback
