"""Byte transports for RFB: plain TCP, and WebSocket binary frames (as noVNC uses).

A transport only moves bytes. ``recv(timeout)`` returns whatever arrived (at least one byte),
``b""`` when the peer closed, and raises :class:`TimeoutError` when nothing came in time. One
thread may receive while another sends: the socket's own timeout (the connection's) is set once,
and a receive waits for data with ``select``, so neither changes a timeout under the other. Frame
boundaries of the WebSocket are not RFB message boundaries: the reader above glues them.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import websocket

from VncKit.errors import NotRfb, VncClosed, VncRefused

RECV_SIZE = 256 * 1024


class Transport(Protocol):
    description: str

    def recv(self, timeout: float) -> bytes: ...

    def send(self, data: bytes, timeout: float) -> None: ...

    def close(self) -> None: ...


@dataclass
class Target:
    """Where to connect: ``tcp`` host/port, or a ``ws``/``wss`` URL with an optional token."""

    scheme: str
    host: str
    port: int
    url: str = ""
    token: str | None = field(default=None, repr=False)
    token_header: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    verify_tls: bool = True
    subprotocol: str | None = "binary"  # offered on the WebSocket upgrade; None offers none

    @property
    def display(self) -> str:
        """The address as safe to log: never the token."""
        if self.scheme == "tcp":
            return f"{self.host}:{self.port}"
        parts = urlsplit(self.url)
        query = [(k, "***" if k.lower() in {"token", "access_token", "jwt"} else v)
                 for k, v in parse_qsl(parts.query, keep_blank_values=True)]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, safe="*"), ""))

    def ws_url(self) -> str:
        if not self.token or self.token_header:
            return self.url
        parts = urlsplit(self.url)
        query = [*parse_qsl(parts.query, keep_blank_values=True), ("token", self.token)]
        return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))

    def ws_headers(self) -> list[str]:
        headers = [f"{k}: {v}" for k, v in self.headers.items()]
        if self.token and self.token_header:
            value = f"Bearer {self.token}" if self.token_header.lower() == "authorization" else self.token
            headers.append(f"{self.token_header}: {value}")
        return headers


def parse_target(address: str, port: int | None = None) -> Target:
    """``host:port``, ``host`` + ``port``, ``vnc://host:port``, ``tcp://...``, ``ws://...`` or ``wss://...``."""
    text = address.strip()
    if text.startswith(("ws://", "wss://")):
        parts = urlsplit(text)
        default = 443 if parts.scheme == "wss" else 80
        return Target(parts.scheme, parts.hostname or "", parts.port or default, url=text)
    for prefix in ("vnc://", "tcp://", "rfb://"):
        if text.startswith(prefix):
            text = text[len(prefix):].rstrip("/")
    host, sep, maybe_port = text.rpartition(":")
    if sep and maybe_port.isdigit() and "]" not in maybe_port:
        return Target("tcp", host.strip("[]"), int(port if port is not None else maybe_port))
    if port is None:
        port = 5900
    return Target("tcp", text.strip("[]"), int(port))


class TcpTransport:
    def __init__(self, target: Target, timeout: float) -> None:
        self.description = f"TCP {target.display}"
        try:
            self.sock = socket.create_connection((target.host, target.port), timeout=timeout)
        except ConnectionRefusedError:
            raise VncRefused(f"Cannot connect to VNC server at {target.display}",
                             "the connection was refused (nothing listens on that port)",
                             "check host and port, and that the VNC server is running") from None
        except TimeoutError:
            raise VncRefused(f"Cannot connect to VNC server at {target.display}",
                             f"no answer to the TCP connect within {timeout:g} s",
                             "check that the address is reachable (firewall, network cut)") from None
        except OSError as error:
            raise VncRefused(f"Cannot connect to VNC server at {target.display}", str(error),
                             "check the host name and port") from None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.settimeout(timeout)

    def recv(self, timeout: float) -> bytes:
        wait_readable(self.sock, timeout)
        try:
            return self.sock.recv(RECV_SIZE)
        except TimeoutError:
            raise TimeoutError from None
        except (ConnectionResetError, BrokenPipeError):
            return b""

    def send(self, data: bytes, timeout: float) -> None:
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise TimeoutError from None
        except OSError as error:
            raise VncClosed(f"Cannot send to the VNC server over {self.description}", str(error),
                            "the server closed the connection; reconnect") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class WebSocketTransport:
    """RFB over WebSocket binary frames, subprotocol ``binary`` (noVNC's way).

    The subprotocol is offered in the upgrade's own header and the answer is checked here, as a
    browser checks it (WHATWG WebSocket: a server that chooses none of the offered subprotocols,
    or one that was not offered, fails the connection)."""

    def __init__(self, target: Target, timeout: float) -> None:
        self.description = f"WebSocket {target.display}"
        sslopt = {} if target.verify_tls else {"cert_reqs": ssl.CERT_NONE, "check_hostname": False}
        offer = [f"Sec-WebSocket-Protocol: {target.subprotocol}"] if target.subprotocol else []
        try:
            self.ws = websocket.create_connection(
                target.ws_url(), timeout=timeout, header=target.ws_headers() + offer,
                sslopt=sslopt, enable_multithread=True, skip_utf8_validation=True,
            )
        except websocket.WebSocketBadStatusException as error:
            raise VncRefused(f"The WebSocket upgrade to {target.display} was rejected",
                             f"HTTP {error.status_code}",
                             "check the URL path and the token (401/403), and that the session is running "
                             "(404/409/503)") from None
        except ConnectionRefusedError:
            raise VncRefused(f"Cannot connect to VNC WebSocket at {target.display}",
                             "the connection was refused (nothing listens on that port)",
                             "check the URL and that the proxy is running") from None
        except (TimeoutError, websocket.WebSocketTimeoutException):
            raise VncRefused(f"Cannot connect to VNC WebSocket at {target.display}",
                             f"no WebSocket handshake within {timeout:g} s",
                             "check that the address is reachable and speaks WebSocket") from None
        except ssl.SSLError as error:
            raise VncRefused(f"TLS failed with {target.display}", str(error),
                             "use verify_tls=False for a self-signed test certificate") from None
        except (OSError, websocket.WebSocketException) as error:
            raise VncRefused(f"Cannot open the VNC WebSocket at {target.display}", str(error),
                             "check the URL; it must be ws:// or wss:// and speak WebSocket") from None
        chosen = (self.ws.getheaders() or {}).get("sec-websocket-protocol")
        problem = subprotocol_problem(target.subprotocol, chosen.strip() if chosen else None)
        if problem:
            self.ws.close(timeout=1)
            raise NotRfb(f"The VNC WebSocket at {target.display} {problem[0]}", problem[1], problem[2])

    def recv(self, timeout: float) -> bytes:
        wait_readable(self.ws.sock, timeout)
        while True:
            try:
                opcode, data = self.ws.recv_data(control_frame=True)
            except websocket.WebSocketTimeoutException:
                raise TimeoutError from None
            except (websocket.WebSocketConnectionClosedException, ConnectionResetError, BrokenPipeError):
                return b""
            except websocket.WebSocketProtocolException as error:
                raise NotRfb("The WebSocket peer broke the WebSocket protocol", str(error),
                             "check that the URL points at a VNC WebSocket endpoint") from None
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                return b""
            if opcode == websocket.ABNF.OPCODE_BINARY:
                if data:
                    return bytes(data)
                continue
            if opcode == websocket.ABNF.OPCODE_TEXT:
                raise NotRfb("The VNC WebSocket sent a text frame",
                             "RFB travels only in binary frames (subprotocol 'binary')",
                             "point the URL at a noVNC-compatible endpoint")
            # ping/pong are answered by websocket-client itself

    def send(self, data: bytes, timeout: float) -> None:
        try:
            self.ws.send_bytes(data)
        except websocket.WebSocketTimeoutException:
            raise TimeoutError from None
        except (websocket.WebSocketConnectionClosedException, OSError) as error:
            raise VncClosed(f"Cannot send to the VNC server over {self.description}", str(error) or "closed",
                            "the server or proxy closed the connection; reconnect") from None

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing must never fail
            self.ws.close(timeout=1)


def wait_readable(sock: socket.socket | None, timeout: float) -> None:
    """Return once ``sock`` has data (or was closed); raise :class:`TimeoutError` after ``timeout``."""
    if sock is None or sock.fileno() < 0:
        return  # closed: the receive that follows reports it
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return
    try:
        ready, _, _ = select.select([sock], [], [], max(timeout, 0.0))
    except (OSError, ValueError):
        return
    if not ready:
        raise TimeoutError


def subprotocol_problem(offered: str | None, chosen: str | None) -> tuple[str, str, str] | None:
    """What is wrong with the subprotocol a server chose (what, why, fix), or None when it is right."""
    if chosen == offered or (offered and chosen and chosen.lower() == offered.lower()):
        return None
    if chosen is None:
        return ("chose no subprotocol",
                f"it was offered '{offered}' (as noVNC offers it) and answered without "
                "Sec-WebSocket-Protocol: browsers drop such a connection",
                f"make the server answer the subprotocol '{offered}' it was offered")
    if offered is None:
        return (f"chose subprotocol '{chosen}' although none was offered",
                "a server may only choose a subprotocol the client offered: browsers drop such a connection",
                "make the server answer without Sec-WebSocket-Protocol when none is offered")
    return (f"chose subprotocol '{chosen}', which was not offered",
            f"it was offered only '{offered}' (raw RFB bytes in binary frames); browsers drop such a connection",
            f"make the server answer the subprotocol '{offered}' it was offered")


def open_transport(target: Target, timeout: float) -> Transport:
    if target.scheme in ("ws", "wss"):
        return WebSocketTransport(target, timeout)
    return TcpTransport(target, timeout)
