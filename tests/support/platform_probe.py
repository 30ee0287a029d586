"""A probe platform for the stack's own tests: programs that report the wiring they were given.

``python tests/support/platform_probe.py api REPORT_DIR`` serves what the stack asks of an API
(``/health``, ``/api/v1/auth/login``, ``/api/v1/admin/agents``, ``/api/v1/agents/register``) on
``PROBE_HOST:PROBE_PORT``; ``... agent REPORT_DIR`` registers with ``CONTROL_PLANE`` (the API service
link) every 0.2 s. Each writes ``REPORT_DIR/<PROBE_NAME>.json`` at start: its argv, its environment
(secret values replaced by their SHA-256, so the test can compare them without the report holding
them), its pid and hostname, and whether it could reach Redis, PostgreSQL and the Kubernetes API
through the addresses it was given.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SECRET_VARIABLES = ("PROBE_JWT", "PROBE_ADMIN", "PROBE_AGENT_KEY")
AGENTS: dict[str, float] = {}


def reaches(host: str, port: str) -> bool:
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except (OSError, ValueError):
        return False


def report(role: str, folder: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key.startswith("PROBE_") or key == "KUBECONFIG"}
    for key in SECRET_VARIABLES:
        if key in env:
            env[key] = "sha256:" + hashlib.sha256(env[key].encode()).hexdigest()
    kube = json.loads(Path(os.environ["KUBECONFIG"]).read_text()) if os.environ.get("KUBECONFIG") else {}
    server = kube.get("clusters", [{}])[0].get("cluster", {}).get("server", "") if kube else ""
    answers = {}
    if server:
        with urllib.request.urlopen(f"{server}/version", timeout=3) as response:
            answers["kubernetes"] = json.loads(response.read()).get("gitVersion")
    data = {"role": role, "argv": sys.argv, "env": env, "pid": os.getpid(), "hostname": socket.gethostname(),
            "reaches": {"redis": reaches(os.environ.get("PROBE_REDIS_HOST", ""),
                                         os.environ.get("PROBE_REDIS_PORT", "")),
                        "postgres": reaches(os.environ.get("PROBE_DB_HOST", ""), os.environ.get("PROBE_DB_PORT", "")),
                        **answers}}
    target = folder / f"{os.environ['PROBE_NAME']}.json"
    target.with_suffix(".tmp").write_text(json.dumps(data, indent=2))
    target.with_suffix(".tmp").replace(target)


class Api(BaseHTTPRequestHandler):
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
        if self.path == "/health":
            self._send(200, {"status": "healthy", "pod": os.environ.get("PROBE_POD")})
        elif self.path.startswith("/api/v1/admin/agents"):
            fresh = [{"agentId": agent, "status": "online"} for agent, seen in AGENTS.items() if time.time() - seen < 2]
            self._send(200, {"agents": fresh})
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if self.path == "/api/v1/auth/login":
            self._send(200, {"token": "probe-token"})
        elif self.path == "/api/v1/agents/register":
            AGENTS[str(body.get("agentId"))] = time.time()
            self._send(200, {"agentId": body.get("agentId"), "servedBy": os.environ.get("PROBE_POD")})
        else:
            self._send(404, {"error": "not found"})


def make_engine_objects() -> None:
    """As a platform's Docker agent does: a session network, a session container on it, its volume."""
    import docker

    client = docker.DockerClient(base_url=os.environ["PROBE_ENGINE"], timeout=30)
    image = next(tag for i in client.images.list() for tag in i.tags if "streamspace-kit/session" in tag)
    network = os.environ["PROBE_NETWORK"]
    if not [n for n in client.networks.list(names=[network]) if n.name == network]:  # as StreamSpace's agent does
        client.networks.create(network, driver="bridge")
    client.volumes.create("probe-s1-home")
    client.containers.create(image, ["true"], name=f"probe-s1-{os.environ['PROBE_NAME']}", labels={"session-id": "s1"},
                             network=network, volumes={"probe-s1-home": {"bind": "/home/x", "mode": "rw"}})
    client.close()


def agent() -> None:
    if os.environ.get("PROBE_NETWORK"):
        make_engine_objects()
    body = json.dumps({"agentId": os.environ["PROBE_AGENT_ID"]}).encode()
    while True:
        request = urllib.request.Request(f"http://{os.environ['PROBE_CONTROL_PLANE']}/api/v1/agents/register", body,
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                response.read()
        except OSError:
            pass
        time.sleep(0.2)


def main() -> None:
    role, folder = sys.argv[1], Path(sys.argv[2])
    report(role, folder)
    if role == "api":
        server = ThreadingHTTPServer((os.environ["PROBE_HOST"], int(os.environ["PROBE_PORT"])), Api)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        threading.Event().wait()
    else:
        agent()


if __name__ == "__main__":
    main()
