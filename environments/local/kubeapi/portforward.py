"""``POST /api/v1/namespaces/<ns>/pods/<name>/portforward`` over SPDY/3.1, as the kubelet serves it,
and what both port-forward variants share (the pod's address, the loopback rule, errors).

The client (client-go's ``portforward`` with the SPDY dialer; kubectl) upgrades the request
(``Connection: Upgrade``, ``Upgrade: SPDY/3.1``, ``X-Stream-Protocol-Version: portforward.k8s.io``).
Then, per local connection, it opens two streams with the headers ``streamtype`` (``error`` and
``data``), ``port`` and ``requestid``. When both streams of a request are there, the stand-in
connects to the pod's IP (``status.podIP``: the loopback address the kubelet stand-in gave the pod)
on that port and copies bytes both ways; a failure is written to the error stream. Either side
ending ends the request: both streams are closed (FIN) and the socket too.

The same SPDY session also runs inside a WebSocket (kubectl 1.31+'s ``SPDY/3.1+portforward.k8s.io``
tunnel, :mod:`.wsforward`): :class:`Session` writes to an :class:`Outlet`, a socket or a WebSocket.

The loopback rule: port-forward connects only to a pod IP in 127.0.0.0/8 (or ``::1``). The machine
the stand-in runs on may send traffic to loopback only, so a pod whose ``status.podIP`` is anything
else (a test's made-up ``10.x`` address, a real cluster's address) is refused before the upgrade
(403), whichever variant is asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web

from environments.local.kubeapi.spdy import GOAWAY, PING, RST_STREAM, SYN_STREAM, Codec, Frame, SpdyError

log = logging.getLogger("kubeapi.portforward")

PROTOCOL = "portforward.k8s.io"
STREAM_PAIR_TIMEOUT = 30.0
CONNECT_TIMEOUT = 5.0
HIGH_WATER = 1 << 20


class UpgradeError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


LOOPBACK_RULE = ("the Kubernetes API stand-in forwards only to loopback pod addresses (127.0.0.0/8 or ::1): "
                 "the machine it runs on may send traffic to loopback only")


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def pod_target(pod: dict[str, Any]) -> str:
    """The address to forward to: the pod's ``status.podIP``, when the pod runs and the address is loopback."""
    name = pod["metadata"]["name"]
    status = pod.get("status") or {}
    ip = status.get("podIP")
    if not ip or status.get("phase") != "Running":
        raise UpgradeError(400, "BadRequest", f"unable to upgrade connection: pod {name} is not running "
                           f"(phase {status.get('phase')!r}, podIP {ip!r})")
    if not is_loopback(str(ip)):
        raise UpgradeError(403, "Forbidden", f"unable to upgrade connection: pod {name} has podIP {ip}, not a "
                           f"loopback address: {LOOPBACK_RULE}")
    return str(ip)


async def connect(ip: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A TCP connection to the pod; refuses any address that is not loopback (the rule holds here too)."""
    if not is_loopback(ip):
        raise PermissionError(f"{ip} is not a loopback address: {LOOPBACK_RULE}")
    return await asyncio.wait_for(asyncio.open_connection(ip, port), CONNECT_TIMEOUT)


def forward_error(port: int, pod: str, ip: str, problem: BaseException) -> str:
    """The error-stream message for a port the pod refuses, worded as the kubelet words it."""
    if isinstance(problem, OSError) and problem.errno:
        reason = f"dial tcp {ip}:{port}: connect: {os.strerror(problem.errno).lower()}"
    elif isinstance(problem, TimeoutError):
        reason = f"dial tcp {ip}:{port}: i/o timeout"
    else:
        reason = str(problem)
    return f"error forwarding port {port} to pod {pod}: {reason}"


def check_upgrade(request: web.Request) -> None:
    """Raise :class:`UpgradeError` unless this is a SPDY/3.1 port-forward upgrade."""
    connection = {t.strip().lower() for t in request.headers.get("Connection", "").split(",")}
    upgrade = request.headers.get("Upgrade", "").strip().lower()
    if "upgrade" not in connection or upgrade != "spdy/3.1":
        raise UpgradeError(400, "BadRequest", "pods/portforward needs an upgrade to SPDY/3.1 (Connection: "
                           "Upgrade, Upgrade: SPDY/3.1) or to a WebSocket (Upgrade: websocket)")
    offered = [p.strip() for v in request.headers.getall("X-Stream-Protocol-Version", []) for p in v.split(",")]
    if PROTOCOL not in offered:
        raise UpgradeError(403, "Forbidden", f"unable to upgrade: unable to negotiate protocol: client supports "
                           f"{offered}, server supports [{PROTOCOL}]")


class Outlet(Protocol):
    """Where a :class:`Session` writes its frames: the upgraded socket, or a WebSocket tunnel."""

    def write(self, data: bytes) -> None: ...

    def buffered(self) -> int: ...

    def closing(self) -> bool: ...


class TransportOutlet:
    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport

    def write(self, data: bytes) -> None:
        self.transport.write(data)

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size()

    def closing(self) -> bool:
        return self.transport.is_closing()


@dataclass
class Stream:
    id: int
    kind: str
    request: str
    port: int
    data: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    closed: bool = False  # we sent FIN or RST
    reset: bool = False


class Session:
    """One upgraded connection: the frames it carries and the TCP connections they forward to."""

    def __init__(self, out: Outlet, pod: str, ip: str) -> None:
        self.out = out
        self.pod, self.ip = pod, ip
        self.codec = Codec()
        self.streams: dict[int, Stream] = {}
        self.pairs: dict[str, dict[str, Stream]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.done = asyncio.Event()
        self.last_stream = 0

    # -- aiohttp's payload parser interface (bytes after the upgrade) -----------------------------------
    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        try:
            for frame in self.codec.feed(data):
                self._on_frame(frame)
        except (SpdyError, ValueError, IndexError, struct.error, zlib.error) as error:
            log.warning("port-forward to %s: bad SPDY input (%s): closing", self.pod, error)
            self.close()
        return False, b""

    def feed_eof(self) -> None:
        self.done.set()

    # -- frames -----------------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        if not self.out.closing():
            self.out.write(data)

    async def drain(self) -> None:
        while self.out.buffered() > HIGH_WATER and not self.out.closing():
            await asyncio.sleep(0.005)

    def _on_frame(self, frame: Frame) -> None:
        if not frame.control:
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                if frame.payload:
                    stream.data.put_nowait(frame.payload)
                if frame.fin:
                    stream.data.put_nowait(None)
        elif frame.kind == SYN_STREAM:
            self._open(frame)
        elif frame.kind == RST_STREAM:
            stream = self.streams.pop(frame.stream_id, None)
            if stream is not None:
                stream.reset = stream.closed = True
                stream.data.put_nowait(None)
        elif frame.kind == PING and frame.value % 2 == 1:  # the client's ping (odd id): answer it
            self.write(self.codec.ping(frame.value))
        elif frame.kind == GOAWAY:
            self.close()
        # SYN_REPLY, HEADERS, SETTINGS, WINDOW_UPDATE: nothing to do (spdystream has no flow control)

    def _open(self, frame: Frame) -> None:
        self.last_stream = max(self.last_stream, frame.stream_id)
        headers = frame.headers
        kind = headers.get("streamtype", "")
        request = headers.get("requestid") or str(frame.stream_id - (2 if kind == "data" else 0))
        try:
            port = int(headers.get("port", ""))
        except ValueError:
            port = 0
        self.write(self.codec.syn_reply(frame.stream_id))
        stream = Stream(frame.stream_id, kind, request, port)
        self.streams[frame.stream_id] = stream
        if kind not in ("error", "data") or not 0 < port < 65536:
            self._fail(stream, f"invalid port-forward stream: streamType {kind!r}, port {headers.get('port')!r}")
            return
        pair = self.pairs.setdefault(request, {})
        pair[kind] = stream
        if len(pair) == 1:
            self._spawn(self._expire(request))
        elif len(pair) == 2:
            self._spawn(self._forward(pair["error"], pair["data"]))

    def _spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _finish(self, stream: Stream) -> None:
        if not stream.closed:
            stream.closed = True
            self.write(self.codec.data(stream.id, b"", fin=True))
        self.streams.pop(stream.id, None)

    def _fail(self, stream: Stream, message: str) -> None:
        log.info("port-forward to %s: %s", self.pod, message)
        if not stream.closed:
            self.write(self.codec.data(stream.id, message.encode()))
        self._finish(stream)

    async def _expire(self, request: str) -> None:
        await asyncio.sleep(STREAM_PAIR_TIMEOUT)
        pair = self.pairs.get(request, {})
        if len(pair) == 1:
            self.pairs.pop(request, None)
            (only,) = pair.values()
            self._fail(only, f"timed out waiting for the other stream of request {request}")

    # -- one forwarded connection -----------------------------------------------------------------------
    async def _forward(self, error: Stream, data: Stream) -> None:
        self.pairs.pop(error.request, None)
        where = f"pod {self.pod} ({self.ip}) port {data.port}"
        try:
            reader, writer = await connect(self.ip, data.port)
        except (OSError, TimeoutError) as problem:
            self._fail(error, forward_error(data.port, self.pod, self.ip, problem))
            self._finish(data)
            return
        log.info("port-forward request %s: connected to %s", data.request, where)
        inbound = asyncio.create_task(self._to_pod(data, writer))
        outbound = asyncio.create_task(self._from_pod(data, reader))
        try:
            _done, pending = await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
            if pending:  # like the kubelet: give the other direction a moment to finish, then stop
                _done, pending = await asyncio.wait(pending, timeout=1.0)
            for task in pending:
                task.cancel()
        finally:
            for task in (inbound, outbound):
                task.cancel()
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()
            self._finish(data)
            self._finish(error)

    async def _to_pod(self, stream: Stream, writer: asyncio.StreamWriter) -> None:
        while (chunk := await stream.data.get()) is not None:
            writer.write(chunk)
            await writer.drain()
        if not stream.reset and writer.can_write_eof():
            writer.write_eof()

    async def _from_pod(self, stream: Stream, reader: asyncio.StreamReader) -> None:
        while chunk := await reader.read(65536):
            if stream.closed:
                return
            self.write(self.codec.data(stream.id, chunk))
            await self.drain()
        if not stream.closed:  # the pod closed its side: tell the client at once (FIN), keep reading from it
            stream.closed = True
            self.write(self.codec.data(stream.id, b"", fin=True))

    # -- the connection ---------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.done.wait()
        for task in list(self.tasks):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self.tasks, return_exceptions=True)

    def close(self) -> None:
        if not self.done.is_set():
            self.write(self.codec.goaway(self.last_stream))
            self.done.set()


async def serve(request: web.Request, pod: dict[str, Any], ip: str) -> web.StreamResponse:
    """Upgrade ``request`` and forward its streams to ``ip`` (the pod's address) until the client goes away."""
    name = pod["metadata"]["name"]
    if request.transport is None:
        raise ConnectionResetError("the client went away before the upgrade")
    session = Session(TransportOutlet(request.transport), name, ip)
    request.protocol.set_parser(session)  # type: ignore[arg-type]  # bytes after the upgrade come to us
    request.protocol.keep_alive(False)
    response = web.StreamResponse(status=101, reason="Switching Protocols",
                                  headers={"Connection": "Upgrade", "Upgrade": "SPDY/3.1",
                                           "X-Stream-Protocol-Version": PROTOCOL})
    response.force_close()
    await response.prepare(request)
    log.info("port-forward session to pod %s (%s) opened", name, ip)
    try:
        await session.run()
    finally:
        log.info("port-forward session to pod %s closed", name)
    return response
