"""A stream held open (a VNC tunnel, a WebSocket): when data arrived, the longest gap,
disconnects. The source is any object with ``read(timeout)`` returning bytes (empty or None
when nothing came in time, raising once closed), or with ``recv(timeout)`` in VncKit's way
(``TimeoutError`` when nothing came, ``b""`` once closed), or a ``tcp://host:port`` /
``ws://`` / ``wss://`` URL that the probe connects to itself (and reconnects to after a drop)."""

from __future__ import annotations

import contextlib
import itertools
import socket
from typing import Any, Protocol
from urllib.parse import urlparse

import websocket

from ProbesKit.probes.base import Probe
from ProbesKit.probes.windows import longest_gap


class Readable(Protocol):
    def read(self, timeout: float) -> bytes | None: ...


class _RecvAdapter:
    """A transport whose ``recv(timeout)`` raises ``TimeoutError`` when nothing came and returns
    ``b""`` once closed (VncKit's transports), read the probe's way."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport

    def read(self, timeout: float) -> bytes | None:
        try:
            data = self.transport.recv(timeout)
        except TimeoutError:
            return None
        if not data:
            raise ConnectionError("the stream was closed")
        return bytes(data)


class _TcpSource:
    def __init__(self, host: str, port: int, timeout: float) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)

    def read(self, timeout: float) -> bytes | None:
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(65536)
        except TimeoutError:
            return None
        if not data:
            raise ConnectionError("the peer closed the connection")
        return data

    def close(self) -> None:
        self.sock.close()


class _WsSource:
    def __init__(self, url: str, timeout: float, subprotocols: list[str] | None) -> None:
        self.ws = websocket.create_connection(url, timeout=timeout, subprotocols=subprotocols)

    def read(self, timeout: float) -> bytes | None:
        self.ws.settimeout(timeout)
        try:
            data = self.ws.recv()
        except websocket.WebSocketTimeoutException:
            return None
        except websocket.WebSocketConnectionClosedException:
            raise ConnectionError("the WebSocket was closed") from None
        return data.encode() if isinstance(data, str) else data

    def close(self) -> None:
        self.ws.close(timeout=1)


class StreamProbe(Probe):
    kind = "stream"

    def __init__(self, name: str, source: Readable | str, interval: float = 0.05, max_duration: float = 600.0,
                 gap_threshold: float = 1.0, connect_timeout: float = 2.0,
                 subprotocols: list[str] | None = None) -> None:
        super().__init__(name, interval, max_duration)
        self.url = source if isinstance(source, str) else None
        self.source: Any = None
        if not isinstance(source, str):
            if hasattr(source, "read"):
                self.source = source
            elif hasattr(source, "recv"):
                self.source = _RecvAdapter(source)
            else:
                raise ValueError(f"a {type(source).__name__} has neither read(timeout) nor recv(timeout)")
        self.gap_threshold = gap_threshold
        self.connect_timeout = connect_timeout
        self.subprotocols = subprotocols
        self.arrivals: list[float] = []
        self.bytes = 0
        self.disconnects = 0
        self.reconnects = 0
        self.last_error = ""

    def _connect(self) -> None:
        assert self.url is not None
        parsed = urlparse(self.url)
        if parsed.scheme == "tcp":
            self.source = _TcpSource(parsed.hostname or "127.0.0.1", int(parsed.port or 0), self.connect_timeout)
        elif parsed.scheme in ("ws", "wss"):
            self.source = _WsSource(self.url, self.connect_timeout, self.subprotocols)
        else:
            raise ValueError(f"unsupported stream URL '{self.url}': use tcp://host:port, ws:// or wss://")

    def setup(self) -> None:
        if self.url is not None:
            self._connect()

    def tick(self) -> None:
        if self.source is None:
            try:
                self._connect()
            except OSError as error:
                self.last_error = str(error)
                return
            except websocket.WebSocketException as error:
                self.last_error = str(error)
                return
            with self._lock:
                self.reconnects += 1
        until = self.now() + self.interval
        while (left := until - self.now()) > 0:  # read all that comes within this tick
            try:
                data = self.source.read(left)
            except (OSError, ConnectionError, websocket.WebSocketException) as error:
                with self._lock:
                    self.disconnects += 1
                self.last_error = str(error)
                if self.url is not None:
                    self._close()
                return
            if data:
                with self._lock:
                    self.arrivals.append(self.now())
                    self.bytes += len(data)

    def _close(self) -> None:
        source, self.source = self.source, None
        if source is not None and hasattr(source, "close"):
            with contextlib.suppress(Exception):
                source.close()

    def teardown(self) -> None:
        if self.url is not None:
            self._close()

    def figures(self) -> dict[str, Any]:
        end = self.ended_mono if self.ended_mono is not None else self.now()
        with self._lock:
            arrivals = list(self.arrivals)
        points = [0.0, *arrivals, end]
        gaps = [(a, b - a) for a, b in itertools.pairwise(points) if b - a > self.gap_threshold]
        return {
            "chunks": len(arrivals),
            "bytes": self.bytes,
            "max_gap": round(longest_gap(arrivals, 0.0, end), 3),
            "gap_threshold": self.gap_threshold,
            "gaps_over_threshold": len(gaps),
            "gaps": [{"at": self.wall(at), "seconds": round(length, 3)} for at, length in gaps[:20]],
            "disconnects": self.disconnects,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
        }
