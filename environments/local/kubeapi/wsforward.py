"""``GET /api/v1/namespaces/<ns>/pods/<name>/portforward?ports=P1&ports=P2`` over WebSocket.

Two clients use it, with two different protocols on the same URL:

- The channel protocol of the kubelet (``v4.channel.k8s.io``, ``v4.base64.channel.k8s.io``, or no
  subprotocol at all), spoken by the official Python client (``kubernetes.stream.portforward``, which
  offers ``v5.channel.k8s.io,v4.channel.k8s.io``: the kubelet, and the stand-in, take ``v4``; v5 and
  the pre-v4 ``channel.k8s.io`` are exec/attach protocols the kubelet does not serve for port-forward,
  so an offer of only those is refused with 403). Port number ``i`` of the query (``ports`` repeated
  or comma-separated) has the data channel ``2*i`` and the error channel ``2*i+1``. Each channel's
  first message from the server is the port as two bytes, little-endian; then every message is the
  channel number (one byte; an ASCII digit and base64 text for the base64 protocol) and bytes. One
  TCP connection per port is made at once; a failure to connect is written to that port's error
  channel. The protocol cannot end one channel alone: like the kubelet, the connection closes when
  every port's connection has ended (the pod closed it, with a one second grace for the other
  direction), or when the client closes it.
- kubectl 1.31+'s tunnel (``SPDY/3.1+portforward.k8s.io``, the API server's ``PortForwardWebsockets``):
  the SPDY/3.1 port-forward session of :mod:`.portforward`, its bytes carried in binary messages.

Both variants go to the pod's ``status.podIP`` only when it is a loopback address (see
:mod:`.portforward`); the checks before the upgrade answer as the API server does (404 for a missing
pod, 400 for a pod that is not running or a bad ``ports``, 403 for a protocol it cannot speak).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import struct
from collections.abc import Iterable
from typing import Any

from aiohttp import WSMsgType, web

from environments.local.kubeapi.portforward import PROTOCOL, Session, UpgradeError, connect, forward_error

log = logging.getLogger("kubeapi.portforward")

V4_BINARY, V4_BASE64 = "v4.channel.k8s.io", "v4.base64.channel.k8s.io"
TUNNEL = f"SPDY/3.1+{PROTOCOL}"
SERVED = (V4_BINARY, V4_BASE64, TUNNEL)
MAX_MESSAGE = 16 << 20
GRACE = 1.0  # after one direction of a connection ends, how long the other may go on (as the kubelet)
CLOSE_TIMEOUT = 5.0  # how long a close waits for the client's close message


def is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").strip().lower() == "websocket"


def negotiate(request: web.Request) -> str:
    """The subprotocol to answer with (``""`` when the client offered none), in the client's order of preference."""
    offered = [p.strip() for v in request.headers.getall("Sec-WebSocket-Protocol", []) for p in v.split(",")
               if p.strip()]
    if not offered:
        return ""
    for protocol in offered:
        if protocol in SERVED:
            return protocol
    raise UpgradeError(403, "Forbidden", f"unable to upgrade: requested WebSocket subprotocols {offered} are not "
                       f"supported for pods/portforward; supported: {list(SERVED)}")


def requested_ports(request: web.Request) -> list[int]:
    """The ``ports`` of the query (repeated or comma-separated), each 1..65535."""
    ports: list[int] = []
    for value in request.query.getall("ports", []):
        for text in value.split(","):
            try:
                port = int(text)
            except ValueError:
                port = 0
            if not 0 < port < 65536:
                raise UpgradeError(400, "BadRequest", f"invalid port {text.strip()!r} in the query: a port-forward "
                                   "port is a number from 1 to 65535")
            ports.append(port)
    if not ports:
        raise UpgradeError(400, "BadRequest", 'query parameter "ports" is required for port-forward over WebSocket')
    return ports


def check(request: web.Request) -> tuple[str, list[int]]:
    """What to check before the upgrade: the subprotocol, and the ports unless it is the SPDY tunnel."""
    if request.method != "GET":
        raise UpgradeError(400, "BadRequest", "a WebSocket upgrade of pods/portforward must be a GET")
    protocol = negotiate(request)
    return protocol, ([] if protocol == TUNNEL else requested_ports(request))


async def _upgrade(request: web.Request, protocol: str) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(protocols=(protocol,) if protocol else (), compress=False, max_msg_size=MAX_MESSAGE,
                               timeout=CLOSE_TIMEOUT)
    await ws.prepare(request)
    return ws


class ChannelForward:
    """One WebSocket of the channel protocol: one TCP connection to the pod per requested port."""

    def __init__(self, ws: web.WebSocketResponse, pod: str, ip: str, ports: list[int], text: bool) -> None:
        self.ws, self.pod, self.ip, self.ports, self.text = ws, pod, ip, ports, text
        self.inbound: list[asyncio.Queue[bytes | None]] = [asyncio.Queue() for _ in ports]

    async def send(self, channel: int, payload: bytes) -> None:
        if self.text:
            await self.ws.send_str(chr(ord("0") + channel) + base64.b64encode(payload).decode())
        else:
            await self.ws.send_bytes(bytes((channel,)) + payload)

    def _decode(self, message: Any) -> tuple[int, bytes] | None:
        if message.type == WSMsgType.BINARY and not self.text and message.data:
            return message.data[0], bytes(message.data[1:])
        if message.type == WSMsgType.TEXT and self.text and message.data:
            try:
                return ord(message.data[0]) - ord("0"), base64.b64decode(message.data[1:])
            except ValueError:
                return None
        return None

    async def _read(self) -> None:
        """The client's messages to the data channels; the client closing ends every port's input."""
        try:
            async for message in self.ws:
                decoded = self._decode(message)
                if decoded is None:
                    continue
                channel, payload = decoded
                if channel % 2 == 0 and channel // 2 < len(self.ports) and payload:
                    self.inbound[channel // 2].put_nowait(payload)
                # the error channels are the server's to write; anything else is ignored, as the kubelet does
        finally:
            for queue in self.inbound:
                queue.put_nowait(None)

    async def _forward(self, index: int, port: int) -> None:
        try:
            reader, writer = await connect(self.ip, port)
        except (OSError, TimeoutError) as problem:
            message = forward_error(port, self.pod, self.ip, problem)
            log.info("port-forward to %s: %s", self.pod, message)
            with contextlib.suppress(OSError):
                await self.send(2 * index + 1, message.encode())
            return
        log.info("port-forward (WebSocket) to pod %s (%s) port %d: connected", self.pod, self.ip, port)
        inbound = asyncio.create_task(self._to_pod(self.inbound[index], writer))
        outbound = asyncio.create_task(self._from_pod(2 * index, reader))
        try:
            _done, pending = await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
            if pending:
                await asyncio.wait(pending, timeout=GRACE)
        finally:
            for task in (inbound, outbound):
                task.cancel()
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    @staticmethod
    async def _to_pod(queue: asyncio.Queue[bytes | None], writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):  # the pod went away: nothing more to write
            while (chunk := await queue.get()) is not None:
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()

    async def _from_pod(self, channel: int, reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(OSError):  # the client went away: nothing more to send
            while chunk := await reader.read(65536):
                await self.send(channel, chunk)

    async def run(self) -> None:
        try:
            for index, port in enumerate(self.ports):  # every channel starts with its port number
                for channel in (2 * index, 2 * index + 1):
                    await self.send(channel, struct.pack("<H", port))
        except OSError:  # the client left at once
            await self.ws.close()
            return
        reader = asyncio.create_task(self._read())
        forwards = [asyncio.create_task(self._forward(i, port)) for i, port in enumerate(self.ports)]
        try:
            await asyncio.gather(*forwards)
        finally:
            for task in forwards:
                task.cancel()
            await self.ws.close()
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


class TunnelOutlet:
    """A :class:`~.portforward.Session`'s bytes, sent in order as binary WebSocket messages."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)
        self.queue.put_nowait(data)

    def buffered(self) -> int:
        return self.size

    def closing(self) -> bool:
        return self.ws.closed

    async def pump(self) -> None:
        with contextlib.suppress(OSError):
            while (data := await self.queue.get()) is not None:
                self.size -= len(data)
                await self.ws.send_bytes(data)


async def _tunnel(ws: web.WebSocketResponse, name: str, ip: str) -> None:
    out = TunnelOutlet(ws)
    session = Session(out, name, ip)
    pump = asyncio.create_task(out.pump())

    async def read() -> None:
        try:
            async for message in ws:
                if message.type == WSMsgType.BINARY:
                    session.feed_data(message.data)
        finally:
            session.feed_eof()

    reader = asyncio.create_task(read())
    try:
        await session.run()
        out.queue.put_nowait(None)  # flush what the session wrote last (FINs, GOAWAY), then close
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(pump), GRACE)
    finally:
        pump.cancel()
        await ws.close()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(reader, pump, return_exceptions=True)


async def serve(request: web.Request, pod: dict[str, Any], ip: str, protocol: str,
                ports: Iterable[int]) -> web.StreamResponse:
    """Upgrade ``request`` to a WebSocket (``protocol`` as :func:`check` chose it) and forward to ``ip``."""
    name = pod["metadata"]["name"]
    ws = await _upgrade(request, protocol)
    log.info("port-forward WebSocket (%s) to pod %s (%s) opened", protocol or "no subprotocol", name, ip)
    try:
        if protocol == TUNNEL:
            await _tunnel(ws, name, ip)
        else:
            await ChannelForward(ws, name, ip, list(ports), text=protocol == V4_BASE64).run()
    finally:
        log.info("port-forward WebSocket to pod %s closed", name)
    return ws
