"""A minimal agent of the tests' own, written against docs/contract.md §2 (not the stack's agents).

It registers, connects to the first reachable replica of its list, heartbeats, acks and completes
commands (in one frame, two messages separated by ``\\n``), and tunnels VNC streams to a real Xvnc.
It runs an asyncio loop in a thread; the tests drive it with plain method calls.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp

STATE_AFTER = {"start_session": "running", "stop_session": "terminated", "hibernate_session": "hibernated",
               "wake_session": "running"}


def envelope(type_: str, payload: dict[str, Any]) -> str:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return json.dumps({"type": type_, "timestamp": stamp, "payload": payload})


@dataclass
class ContractAgent:
    agent_id: str
    platform: str
    urls: list[str]
    key: str
    vnc_port: int = 0
    heartbeat: float = 0.3
    answer: bool = True  # False: ack commands but never complete them
    commands: list[dict[str, Any]] = field(default_factory=list)
    connected_to: str | None = None
    connects: int = 0
    heartbeats_paused: bool = False
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _ws: aiohttp.ClientWebSocketResponse | None = field(default=None, repr=False)
    _stop: bool = False
    _streams: dict[str, asyncio.StreamWriter] = field(default_factory=dict, repr=False)
    _pumps: set[asyncio.Task[None]] = field(default_factory=set, repr=False)

    # -- driven from the tests -------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> ContractAgent:
        self._thread = threading.Thread(target=self._run_loop, name=f"agent-{self.agent_id}", daemon=True)
        self._thread.start()
        self.wait(lambda: self.connected_to is not None, timeout, "the test agent did not connect")
        return self

    def stop(self) -> None:
        self._stop = True
        alive = self._thread is not None and self._thread.is_alive()
        if self._loop is not None and alive and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError, TimeoutError):
                asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(5)
        if self._thread is not None:
            self._thread.join(10)

    def drop_connection(self) -> None:
        """Close the WebSocket (the agent reconnects to the next URL of its list)."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._close(), self._loop).result(5)

    def send(self, type_: str, payload: dict[str, Any]) -> None:
        """Send one message on the current connection (for duplicates and other odd cases)."""
        assert self._loop is not None and self._ws is not None, "the test agent is not connected"
        asyncio.run_coroutine_threadsafe(self._ws.send_str(envelope(type_, payload)), self._loop).result(5)

    def prefer(self, urls: list[str]) -> None:
        self.urls = list(urls)

    def received(self, action: str | None = None) -> list[dict[str, Any]]:
        return [c for c in list(self.commands) if action is None or c["action"] == action]

    @staticmethod
    def wait(check: Callable[[], bool], timeout: float, what: str, poll: float = 0.05) -> float:
        start = time.monotonic()
        while not check():
            if time.monotonic() - start > timeout:
                raise AssertionError(f"{what} within {timeout:g} s")
            time.sleep(poll)
        return time.monotonic() - start

    # -- the agent --------------------------------------------------------------------------------
    def _run_loop(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def _main(self) -> None:
        timeout = aiohttp.ClientTimeout(total=5)
        headers = {"X-Agent-API-Key": self.key}
        attempt = 0
        async with aiohttp.ClientSession(timeout=timeout) as http:
            while not self._stop:
                url = self.urls[attempt % len(self.urls)]
                attempt += 1
                try:
                    body = {"agentId": self.agent_id, "platform": self.platform, "region": "local",
                            "capacity": {"maxSessions": 20, "cpu": "8000m", "memory": "16Gi"},
                            "metadata": {"kind": "contract-test-agent"}}
                    async with http.post(f"{url}/api/v1/agents/register", json=body, headers=headers) as response:
                        response.raise_for_status()
                    ws_url = url.replace("http://", "ws://") + f"/api/v1/agents/connect?agent_id={self.agent_id}"
                    async with http.ws_connect(ws_url, headers=headers, heartbeat=None,
                                               timeout=aiohttp.ClientWSTimeout(ws_close=2)) as ws:
                        self._ws = ws
                        self.connected_to = url
                        self.connects += 1
                        beat = asyncio.create_task(self._heartbeats(ws))
                        try:
                            await self._read(ws)
                        finally:
                            beat.cancel()
                            self.connected_to = None
                            self._ws = None
                            attempt = 0  # after a disconnect, try the list from its first replica
                except (TimeoutError, aiohttp.ClientError, OSError):
                    pass
                if not self._stop:
                    await asyncio.sleep(0.2)

    async def _heartbeats(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        while not ws.closed:
            if not self.heartbeats_paused:
                await ws.send_str(envelope("heartbeat", {"status": "online", "activeSessions": 0,
                                                         "capacity": {"maxSessions": 20}}))
            await asyncio.sleep(self.heartbeat)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            for line in msg.data.split("\n"):
                if line.strip():
                    await self._on(ws, json.loads(line))

    async def _on(self, ws: aiohttp.ClientWebSocketResponse, message: dict[str, Any]) -> None:
        kind, payload = message["type"], message["payload"]
        if kind == "command":
            self.commands.append(payload)
            command_id, action = payload["commandId"], payload["action"]
            session_id = payload["payload"]["sessionId"]
            frame = [envelope("ack", {"commandId": command_id})]
            if self.answer:
                frame.append(envelope("complete", {"commandId": command_id, "result": {
                    "sessionId": session_id, "state": STATE_AFTER[action], "podName": session_id,
                    "vncReady": action in ("start_session", "wake_session")}}))
                if action == "start_session":
                    frame.append(envelope("status", {"sessionId": session_id, "state": "running", "vncReady": True,
                                                     "vncPort": 5900, "platformMetadata": {
                                                         "podName": f"{session_id}-pod", "agent": self.agent_id}}))
            await ws.send_str("\n".join(frame))
        elif kind == "vnc_open":
            stream_id = payload["streamId"]
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.vnc_port), 5)
            except (TimeoutError, OSError) as error:
                await ws.send_str(envelope("vnc_error", {"sessionId": payload["sessionId"], "streamId": stream_id,
                                                         "error": str(error)}))
                return
            self._streams[stream_id] = writer
            await ws.send_str(envelope("vnc_ready", {"sessionId": payload["sessionId"], "streamId": stream_id}))
            self._pumps.add(asyncio.create_task(self._pump(ws, payload["sessionId"], stream_id, reader)))
        elif kind == "vnc_data":
            writer = self._streams.get(payload["streamId"])
            if writer is not None:
                writer.write(base64.b64decode(payload["data"]))
        elif kind == "vnc_close":
            writer = self._streams.pop(payload["streamId"], None)
            if writer is not None:
                writer.close()

    async def _pump(self, ws: aiohttp.ClientWebSocketResponse, session_id: str, stream_id: str,
                    reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                await ws.send_str(envelope("vnc_data", {"sessionId": session_id, "streamId": stream_id,
                                                        "data": base64.b64encode(data).decode()}))
        self._streams.pop(stream_id, None)
        self._pumps.discard(asyncio.current_task())  # type: ignore[arg-type]
