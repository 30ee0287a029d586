"""A tiny Control Plane peer for the agent tests: speaks docs/contract.md §2 over a real socket.

This is a test peer, not the product: it accepts registrations with one key, holds agent
WebSockets, records every message, sends commands and VNC frames, and lets tests wait on what
it saw. It runs an aiohttp server in a thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from environments.local.platform.common.envelope import make_envelope, parse_frame
from environments.local.procs import free_port


@dataclass
class Connection:
    agent_id: str
    replica: str
    opened: float
    closed: float | None = None
    ws: web.WebSocketResponse | None = field(default=None, repr=False)


class FakeControlPlane:
    def __init__(self, agent_key: str) -> None:
        self.agent_key = agent_key
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.lock = threading.Lock()
        self.registrations: list[dict[str, Any]] = []
        self.refused = 0
        self.connections: list[Connection] = []
        self.messages: list[tuple[float, str, dict[str, Any]]] = []
        self.vnc_bytes: dict[str, bytearray] = {}
        self.ids = itertools.count(1)

    # ------------------------------------------------------------------ server
    def start(self) -> FakeControlPlane:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/api/v1/agents/register", self._register)
        app.router.add_get("/api/v1/agents/connect", self._connect)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    def stop(self) -> None:
        async def _stop() -> None:
            for conn in self.connections:
                if conn.ws is not None and not conn.ws.closed:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(conn.ws.close(), 1.0)
            if self.runner is not None:
                await self.runner.cleanup()

        if self.thread.is_alive():
            asyncio.run_coroutine_threadsafe(_stop(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)

    async def _register(self, request: web.Request) -> web.Response:
        if request.headers.get("X-Agent-API-Key") != self.agent_key:
            with self.lock:
                self.refused += 1
            return web.json_response({"error": "Invalid agent key"}, status=401)
        body = await request.json()
        with self.lock:
            self.registrations.append(body)
        return web.json_response({"agent": {**body, "status": "online"}})

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-Agent-API-Key") != self.agent_key:
            return web.json_response({"error": "Invalid agent key"}, status=401)
        agent_id = request.query.get("agent_id", "")
        replica = ""
        with self.lock:
            for body in reversed(self.registrations):
                if body.get("agentId") == agent_id:
                    replica = str((body.get("metadata") or {}).get("replica", ""))
                    break
        ws = web.WebSocketResponse(heartbeat=5.0)
        await ws.prepare(request)
        conn = Connection(agent_id, replica, time.monotonic(), ws=ws)
        with self.lock:
            self.connections.append(conn)
        try:
            async for message in ws:
                if message.type != web.WSMsgType.TEXT:
                    continue
                for envelope in parse_frame(message.data):
                    payload = envelope["payload"]
                    with self.lock:
                        self.messages.append((time.monotonic(), envelope["type"], payload | {"_replica": replica}))
                        if envelope["type"] == "vnc_data":
                            buf = self.vnc_bytes.setdefault(payload.get("streamId", ""), bytearray())
                            buf.extend(base64.b64decode(payload.get("data", "")))
        finally:
            conn.closed = time.monotonic()
        return ws

    # ------------------------------------------------------------------ test side
    def open_connections(self, agent_id: str | None = None) -> list[Connection]:
        with self.lock:
            return [c for c in self.connections if c.closed is None and (agent_id is None or c.agent_id == agent_id)]

    def send(self, kind: str, payload: dict[str, Any], agent_id: str | None = None, raw: str | None = None) -> None:
        conns = self.open_connections(agent_id)
        if not conns:
            raise AssertionError(f"no agent connected to the fake Control Plane (agent {agent_id})")
        text = raw if raw is not None else make_envelope(kind, payload)
        asyncio.run_coroutine_threadsafe(conns[-1].ws.send_str(text), self.loop).result(5)

    def command(self, action: str, payload: dict[str, Any], agent_id: str | None = None,
                command_id: str | None = None) -> str:
        command_id = command_id or f"cmd-{secrets.token_hex(4)}"
        self.send("command", {"commandId": command_id, "action": action, "payload": payload}, agent_id)
        return command_id

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [p for _, t, p in self.messages if t == kind]

    def wait(self, check: Callable[[], Any], timeout: float, what: str, poll: float = 0.05) -> Any:
        start = time.monotonic()
        last: Any = None
        while time.monotonic() - start < timeout:
            last = check()
            if last:
                return last
            time.sleep(poll)
        raise AssertionError(f"{what}: not seen within {timeout:g} s; last seen: {last!r}")

    def result(self, command_id: str, timeout: float) -> tuple[str, dict[str, Any]]:
        def find() -> tuple[str, dict[str, Any]] | None:
            with self.lock:
                for _, kind, payload in self.messages:
                    if kind in ("complete", "failed") and payload.get("commandId") == command_id:
                        return kind, payload
            return None

        return self.wait(find, timeout, f"result of {command_id}")

    def count(self, kind: str, command_id: str) -> int:
        return sum(1 for p in self.of_type(kind) if p.get("commandId") == command_id)

    def vnc_open(self, session_id: str, agent_id: str | None = None) -> str:
        stream_id = f"stream-{next(self.ids)}"
        self.send("vnc_open", {"sessionId": session_id, "streamId": stream_id}, agent_id)
        return stream_id

    def vnc_send(self, session_id: str, stream_id: str, data: bytes, agent_id: str | None = None) -> None:
        self.send("vnc_data", {"sessionId": session_id, "streamId": stream_id,
                               "data": base64.b64encode(data).decode()}, agent_id)

    def vnc_received(self, stream_id: str) -> bytes:
        with self.lock:
            return bytes(self.vnc_bytes.get(stream_id, b""))

    def dump(self) -> str:
        with self.lock:
            return json.dumps([(t, p) for _, t, p in self.messages[-30:]], default=str)[:4000]
