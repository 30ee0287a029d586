"""A real client-go program (tests/clientgo, client-go v0.34 like StreamSpace's agent and API) against
the stand-in: discovery, OpenAPI, typed Deployment CRUD with protobuf bodies and a strategic merge
checked against client-go's own, the dynamic client on Sessions, informers, Lease leader election with
three candidates, and an SPDY port-forward built exactly as StreamSpace's VNC tunnel builds it.

Go is required: without it these tests fail (they are the proof that client-go is served)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from environments.local.kubeapi import ROOT, KubeApiStandIn
from tests.support.echo import echo_server, free_pair

pytestmark = pytest.mark.slow

PROGRAM = ROOT / "tests" / "clientgo"
SCHEMA = ROOT / "environments" / "local" / "kubeapi" / "protoschema.json"
POD_IP = "127.0.205.3"


def go() -> str:
    found = shutil.which("go")
    if not found:
        pytest.fail("Go is not installed, and these tests build a client-go program. Fix: install Go 1.24 or "
                    "newer and put 'go' on PATH.")
    return found


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    binary = tmp_path_factory.mktemp("clientgo") / "clientgo-check"
    started = time.monotonic()
    built = subprocess.run([go(), "build", "-buildvcs=false", "-o", str(binary), "."], cwd=PROGRAM,
                           capture_output=True, text=True, timeout=900)
    if built.returncode != 0:
        pytest.fail(f"go build of tests/clientgo failed:\n{built.stderr[-3000:]}\nFix: check that the Go module "
                    "proxy is reachable (GOPROXY) or that the module cache holds k8s.io/client-go v0.34.2.")
    print(f"clientgo-check built in {time.monotonic() - started:.1f} s")
    return binary


@pytest.fixture
def echo():
    """The pod's echo on port P; the program expects nothing to listen on P + 1 (a forward to a closed port)."""
    with echo_server(POD_IP, free_pair(POD_IP)) as (_, port):
        yield port


@pytest.fixture
def kube_api(tmp_path):
    """A stand-in of its own: its log must show no request it could not serve."""
    with KubeApiStandIn(tmp_path / "kubeapi", access_log=True) as server:
        yield server


def test_a_client_go_program_does_everything_streamspace_asks(program, kube_api, echo):
    namespace = f"clientgo-{uuid.uuid4().hex[:6]}"
    started = time.monotonic()
    done = subprocess.run([str(program), "-server", kube_api.url, "-namespace", namespace, "-pod-ip", POD_IP,
                           "-echo-port", str(echo)], capture_output=True, text=True, timeout=180)
    print(done.stdout, f"ran in {time.monotonic() - started:.1f} s")
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr[-3000:]}"
    steps = {line.split()[1] for line in done.stdout.splitlines() if line.startswith("ok ")}
    assert {"discovery", "namespace", "deployment", "custom-resource", "informers", "leader-election",
            "port-forward"} <= steps
    assert done.stdout.rstrip().endswith("PASS")
    log = kube_api.process.log.read_text()
    assert "application/vnd.kubernetes.protobuf" in log, "client-go sent no protobuf body: the check is weaker"
    assert "unserved" not in log, log


def test_the_protobuf_schema_matches_the_kubernetes_types_client_go_is_built_with():
    generated = subprocess.run([go(), "run", "-buildvcs=false", "./protoschema"], cwd=PROGRAM, capture_output=True,
                               text=True, timeout=900)
    assert generated.returncode == 0, generated.stderr[-2000:]
    assert generated.stdout == SCHEMA.read_text(), ("environments/local/kubeapi/protoschema.json is stale. Fix: cd "
                                                    "tests/clientgo && go run ./protoschema > "
                                                    "../../environments/local/kubeapi/protoschema.json")
