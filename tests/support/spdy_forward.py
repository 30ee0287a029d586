"""A minimal SPDY/3.1 port-forward client for tests (the client side of the stand-in's protocol).

Independent clients (client-go, kubectl) are exercised by their own tests; this one lets a test
without Go or kubectl open one forwarded connection and see both its data and its error stream.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlparse

from environments.local.kubeapi.spdy import PING, SYN_REPLY, Codec

ERROR, DATA = 1, 3  # the client's (odd) stream ids


@dataclass
class Forwarded:
    data: bytes
    error: str
    data_closed: bool
    pings_answered: int


def upgrade(base_url: str, namespace: str, pod: str, timeout: float = 5.0,
            protocol: str = "portforward.k8s.io") -> tuple[socket.socket, int, bytes]:
    """POST the upgrade; the socket, the HTTP status and any bytes read past the response head."""
    url = urlparse(base_url)
    sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
    sock.settimeout(timeout)
    sock.sendall((f"POST /api/v1/namespaces/{namespace}/pods/{pod}/portforward HTTP/1.1\r\n"
                  f"Host: {url.netloc}\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
                  f"X-Stream-Protocol-Version: {protocol}\r\nContent-Length: 0\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return sock, status, head.partition(b"\r\n\r\n")[2]


def forward(base_url: str, namespace: str, pod: str, port: int, send: bytes = b"", want: int = 1,
            timeout: float = 5.0, ping: bool = False) -> Forwarded:
    """Open one forwarded connection, send ``send``, read until ``want`` bytes, FIN or ``timeout``."""
    sock, status, rest = upgrade(base_url, namespace, pod, timeout)
    if status != 101:
        sock.close()
        raise AssertionError(f"the upgrade answered HTTP {status}: {rest[:300]!r}")
    codec = Codec()
    headers = {"port": str(port), "requestid": "0"}
    sock.sendall(codec.syn_stream(ERROR, {"streamtype": "error", **headers}))
    sock.sendall(codec.syn_stream(DATA, {"streamtype": "data", **headers}))
    if ping:
        sock.sendall(codec.ping(1))
    if send:
        sock.sendall(codec.data(DATA, send))
    data, error, fins, pongs, replies = bytearray(), bytearray(), set(), 0, 0

    def done() -> bool:
        return fins >= {DATA, ERROR} or (0 < want <= len(data) and (pongs > 0 or not ping))

    frames = list(codec.feed(rest))
    deadline = time.monotonic() + timeout
    try:
        while True:
            for frame in frames:
                if frame.control:
                    replies += frame.kind == SYN_REPLY
                    pongs += frame.kind == PING
                    continue
                (data if frame.stream_id == DATA else error).extend(frame.payload)
                if frame.fin:
                    fins.add(frame.stream_id)
            if done() or time.monotonic() > deadline:
                break
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            frames = list(codec.feed(chunk))
    finally:
        sock.close()
    assert replies == 2, f"the server answered {replies} of 2 SYN_STREAMs with SYN_REPLY"
    return Forwarded(bytes(data), error.decode(errors="replace"), DATA in fins, pongs)
