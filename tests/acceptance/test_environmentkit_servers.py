"""Small real servers the EnvironmentKit/ChaosKit/ProbesKit/LoadKit tests start as processes.

Run as a script (never imported by the tests, so it has no tests of its own):

    python test_environmentkit_servers.py http --port P [--delay-ms 20]
    python test_environmentkit_servers.py ticker --port P [--every-ms 20]
    python test_environmentkit_servers.py supervisor --ready-file F [--parent-pid PID] [--api-replicas N]
                                                      [--k8s-agents N] [--redis] [--fail-on-start]

``supervisor`` follows the control API of docs/local-stack.md with real child processes:
API replicas are ``http`` servers, agent replicas are idle processes whose leader is the first
running one, and ``redis`` (with ``--redis``) is a real redis-server. Partitions are recorded
only (the test checks the API calls, not the cut itself).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from aiohttp import web

HERE = Path(__file__).resolve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- http: health, fixed delay, sessions ---------------------------------------------------
def run_http(port: int, delay_ms: float) -> None:
    sessions: dict[str, str] = {}

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "healthy", "service": "test"})

    async def delay(request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("ms", delay_ms)) / 1000)
        return web.json_response({"ok": True})

    async def fail(_: web.Request) -> web.Response:
        return web.json_response({"error": "broken on purpose"}, status=500)

    async def get_session(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != "Bearer test-token":
            return web.json_response({"error": "Unauthorized"}, status=401)
        name = request.match_info["name"]
        if name not in sessions:
            return web.json_response({"error": "Session not found"}, status=404)
        return web.json_response({"name": name, "state": sessions[name]})

    async def set_session(request: web.Request) -> web.Response:
        sessions[request.match_info["name"]] = (await request.json())["state"]
        return web.json_response({"ok": True})

    async def ws_ticks(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("binary",))
        await ws.prepare(request)
        with contextlib.suppress(ConnectionError):
            while not ws.closed:
                await ws.send_bytes(b"tick....")
                await asyncio.sleep(0.02)
        return ws

    app = web.Application()
    app.add_routes([web.get("/ws-ticks", ws_ticks)])
    app.add_routes([web.get("/health", health), web.get("/delay", delay), web.get("/fail", fail),
                    web.get("/api/v1/sessions/{name}", get_session), web.put("/test/sessions/{name}", set_session)])
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- ticker: a TCP stream of small chunks ----------------------------------------------------
def run_ticker(port: int, every_ms: float) -> None:
    async def client(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while True:
                writer.write(b"tick....")
                await writer.drain()
                await asyncio.sleep(every_ms / 1000)

    async def main() -> None:
        server = await asyncio.start_server(client, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# -- supervisor: the control API over real child processes ----------------------------------
class Component:
    def __init__(self, name: str, argv: list[str], url: str | None = None) -> None:
        self.name, self.argv, self.url = name, argv, url
        self.proc: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running")
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

    def kill(self) -> None:
        if self.running:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)

    def stop(self) -> None:
        if self.running:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


async def wait_port(port: int, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if loop.time() > deadline:
                raise RuntimeError(f"nothing listens on {port} after {timeout} s") from None
            await asyncio.sleep(0.05)


async def supervise(args: argparse.Namespace) -> int:
    if args.fail_on_start:
        print("fake supervisor: cannot start (asked to fail)", flush=True)
        return 3
    components: dict[str, Component] = {}
    ports: dict[str, int] = {}
    for i in range(1, args.api_replicas + 1):
        port = free_port()
        name = f"api-{i}"
        ports[name] = port
        components[name] = Component(name, [sys.executable, str(HERE), "http", "--port", str(port)],
                                     f"http://127.0.0.1:{port}")
    for prefix, count in (("k8s-agent", args.k8s_agents), ("docker-agent", args.docker_agents)):
        for letter in "abc"[:count]:
            name = f"{prefix}-{letter}"
            components[name] = Component(name, [sys.executable, "-c", "import time; time.sleep(3600)"])
    workdir = Path(tempfile.mkdtemp(prefix="kit-fake-supervisor-"))
    if args.redis:
        port = free_port()
        ports["redis"] = port
        components["redis"] = Component("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                                  "--save", "", "--appendonly", "no", "--dir", str(workdir)],
                                        f"redis://127.0.0.1:{port}/0")
    for component in components.values():
        component.start()
    for port in ports.values():
        await wait_port(port)
    cuts: list[dict[str, str]] = []
    done = asyncio.Event()

    def topology() -> dict:
        def replicas_of(prefix: str) -> list[dict]:
            leader_seen = False
            replicas = []
            for c in components.values():
                if c.name.startswith(prefix):
                    leader = c.running and not leader_seen
                    leader_seen = leader_seen or leader
                    replicas.append({"name": c.name, "running": c.running, "leader": leader})
            return replicas

        data = {
            "environment": "local", "runId": "fake0001", "control": control_url,
            "api": [{"name": c.name, "url": c.url, "running": c.running, "pid": c.proc.pid if c.proc else None}
                    for c in components.values() if c.name.startswith("api-")],
            "agents": {"kubernetes": {"agentId": "k8s-local", "namespace": "streamspace",
                                      "replicas": replicas_of("k8s-agent-")},
                       "docker": {"agentId": "docker-local", "replicas": replicas_of("docker-agent-")}},
            "credentials": {"admin": {"username": "admin", "password": "fake-admin-secret"},
                            "users": [{"username": "alice", "password": "fake-alice-secret"}],
                            "agentKey": "ab" * 32, "jwtSecret": "fake-jwt-secret"},
            "timings": {"heartbeatInterval": 1.0},
        }
        if "redis" in components:
            data["redis"] = {"url": components["redis"].url, "running": components["redis"].running}
        return data

    async def get_topology(_: web.Request) -> web.Response:
        return web.json_response(topology())

    async def action(request: web.Request) -> web.Response:
        name, what = request.match_info["name"], request.match_info["action"]
        if name not in components:
            return web.json_response({"error": "unknown component", "message": f"known: {', '.join(components)}"},
                                     status=404)
        component = components[name]
        try:
            if what in ("stop", "restart"):
                component.stop()
            if what == "kill":
                component.kill()
            if what in ("start", "restart"):
                component.start()
                if name in ports:
                    await wait_port(ports[name])
        except RuntimeError as error:
            return web.json_response({"error": f"{what} failed", "message": str(error)}, status=409)
        return web.json_response(topology())

    async def partition(request: web.Request) -> web.Response:
        body = await request.json()
        for name in (body.get("a"), body.get("b")):
            if name not in components:
                return web.json_response({"error": "unknown component", "message": str(name)}, status=404)
        cuts.append({"a": body["a"], "b": body["b"]})
        return web.json_response({"partitions": cuts})

    async def heal(_: web.Request) -> web.Response:
        cuts.clear()
        return web.json_response({"partitions": cuts})

    async def list_cuts(_: web.Request) -> web.Response:
        return web.json_response({"partitions": cuts})

    async def shutdown(_: web.Request) -> web.Response:
        done.set()
        return web.json_response({"status": "stopping"})

    app = web.Application()
    app.add_routes([web.get("/topology", get_topology), web.post("/components/{name}/{action}", action),
                    web.post("/partitions", partition), web.delete("/partitions", heal),
                    web.get("/partitions", list_cuts), web.post("/shutdown", shutdown)])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    control_port = free_port()
    control_url = f"http://127.0.0.1:{control_port}"
    await web.TCPSite(runner, "127.0.0.1", control_port).start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, done.set)

    async def watch_parent() -> None:
        while args.parent_pid and not done.is_set():
            try:
                os.kill(args.parent_pid, 0)
            except ProcessLookupError:
                done.set()
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch_parent())
    if args.ready_file:
        tmp = Path(str(args.ready_file) + ".tmp")
        tmp.write_text(json.dumps(topology()))
        tmp.replace(args.ready_file)
    if args.ready_fd is not None:
        with os.fdopen(args.ready_fd, "w") as pipe:
            pipe.write(json.dumps(topology()))
    print(f"fake supervisor ready: control {control_url}", flush=True)
    await done.wait()
    watcher.cancel()
    for component in components.values():
        component.stop()
    await runner.cleanup()
    if args.ready_file:
        with contextlib.suppress(FileNotFoundError):
            Path(args.ready_file).unlink()
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)
    print("fake supervisor stopped", flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    http = sub.add_parser("http")
    http.add_argument("--port", type=int, required=True)
    http.add_argument("--delay-ms", type=float, default=20.0)
    ticker = sub.add_parser("ticker")
    ticker.add_argument("--port", type=int, required=True)
    ticker.add_argument("--every-ms", type=float, default=20.0)
    sup = sub.add_parser("supervisor")
    sup.add_argument("--ready-file", type=Path)
    sup.add_argument("--ready-fd", type=int)
    sup.add_argument("--parent-pid", type=int)
    sup.add_argument("--api-replicas", type=int, default=2)
    sup.add_argument("--k8s-agents", type=int, default=2)
    sup.add_argument("--docker-agents", type=int, default=2)
    sup.add_argument("--redis", action="store_true")
    sup.add_argument("--quiet", action="store_true")
    sup.add_argument("--fail-on-start", action="store_true")
    args = parser.parse_args()
    if args.mode == "http":
        run_http(args.port, args.delay_ms)
    elif args.mode == "ticker":
        run_ticker(args.port, args.every_ms)
    else:
        return asyncio.run(supervise(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
