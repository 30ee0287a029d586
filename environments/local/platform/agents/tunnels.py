"""VNC tunnels: one TCP connection to a session's VNC server per ``vnc_open`` (docs/contract.md §6).

Bytes travel base64 in ``vnc_data`` both ways. The agent answers ``vnc_ready`` once the TCP
connection is open and ``vnc_error`` when it cannot connect or the VNC server closes the stream.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("streamspace.agent")

CHUNK = 64 * 1024


@dataclass
class Tunnel:
    session_id: str
    stream_id: str
    writer: asyncio.StreamWriter | None = None
    pending: list[bytes] = field(default_factory=list)
    task: asyncio.Task | None = None
    closed: bool = False


class TunnelSet:
    def __init__(self, send: Callable[[str, dict[str, Any]], Awaitable[bool]],
                 address: Callable[[str], Awaitable[tuple[str, int]]], timeout: float) -> None:
        self.send = send
        self.address = address
        self.timeout = timeout
        self.tunnels: dict[str, Tunnel] = {}

    def open(self, payload: dict[str, Any]) -> None:
        session_id, stream_id = str(payload.get("sessionId", "")), str(payload.get("streamId", ""))
        if not stream_id:
            log.warning("vnc_open without streamId ignored")
            return
        if stream_id in self.tunnels:
            return
        tunnel = Tunnel(session_id, stream_id)
        self.tunnels[stream_id] = tunnel
        tunnel.task = asyncio.ensure_future(self._pump(tunnel))

    def data(self, payload: dict[str, Any]) -> None:
        tunnel = self.tunnels.get(str(payload.get("streamId", "")))
        if tunnel is None or tunnel.closed:
            return
        try:
            chunk = base64.b64decode(payload.get("data") or "", validate=True)
        except (binascii.Error, ValueError):
            log.warning("vnc_data with invalid base64 dropped (stream %s)", tunnel.stream_id)
            return
        if tunnel.writer is None:
            tunnel.pending.append(chunk)
        else:
            tunnel.writer.write(chunk)

    async def close(self, stream_id: str, reason: str) -> None:
        tunnel = self.tunnels.pop(stream_id, None)
        if tunnel is None:
            return
        tunnel.closed = True
        if tunnel.task is not None and tunnel.task is not asyncio.current_task():
            tunnel.task.cancel()
            await asyncio.wait({tunnel.task}, timeout=1.0)
        if tunnel.writer is not None:
            tunnel.writer.close()
        log.info("VNC stream %s of %s closed: %s", stream_id, tunnel.session_id, reason)

    async def close_all(self, reason: str) -> None:
        for stream_id in list(self.tunnels):
            await self.close(stream_id, reason)

    async def _pump(self, tunnel: Tunnel) -> None:
        ids = {"sessionId": tunnel.session_id, "streamId": tunnel.stream_id}
        try:
            host, port = await asyncio.wait_for(self.address(tunnel.session_id), self.timeout)
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), self.timeout)
        except Exception as error:  # noqa: BLE001 - reported to the Control Plane
            await self.send("vnc_error", {**ids, "error": f"cannot reach the session's VNC server: {error}"})
            self.tunnels.pop(tunnel.stream_id, None)
            return
        tunnel.writer = writer
        for chunk in tunnel.pending:
            writer.write(chunk)
        tunnel.pending.clear()
        log.info("VNC stream %s of %s open to %s:%d", tunnel.stream_id, tunnel.session_id, host, port)
        await self.send("vnc_ready", {**ids, "vncPort": port})
        reason = "VNC server closed the connection"
        try:
            while True:
                chunk = await reader.read(CHUNK)
                if not chunk:
                    break
                if not await self.send("vnc_data", {**ids, "data": base64.b64encode(chunk).decode("ascii")}):
                    reason = "Control Plane connection lost"
                    break
        except (ConnectionError, OSError) as error:
            reason = f"VNC connection failed: {error}"
        if not tunnel.closed:
            self.tunnels.pop(tunnel.stream_id, None)
            tunnel.closed = True
            writer.close()
            await self.send("vnc_error", {**ids, "error": reason})
