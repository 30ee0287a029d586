"""VncKit against misbehaving peers: a tiny scripted TCP server of our own plays each fault.

Each case must fail within its timeout with a message that names the cause; the stream cases
prove the reader glues RFB messages whatever the transport's boundaries (TCP, WebSocket frames of
one byte, several messages in one frame).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from environments.local.procs import free_port
from tests.support.ws_bridge import WsBridge
from VncKit import VncKit
from VncKit.errors import NotRfb, VncClosed, VncProtocolError, VncRefused, VncStalled
from VncKit.framebuffer import Region
from VncKit.rfb import CLIENT_PIXEL_FORMAT

Script = Callable[[socket.socket, threading.Event], None]
TIMEOUT = 1.0
SLACK = 0.8  # scheduling on a busy 2-core machine


class ScriptedServer:
    """Accepts connections on a free loopback port and plays ``script`` on each."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.stop_event = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self.threads: list[threading.Thread] = []
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    def _accept(self) -> None:
        while not self.stop_event.is_set():
            try:
                conn, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            worker = threading.Thread(target=self._play, args=(conn,), daemon=True)
            worker.start()
            self.threads.append(worker)

    def _play(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            self.script(conn, self.stop_event)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self) -> None:
        self.stop_event.set()
        self.acceptor.join(2)
        self.listener.close()
        for worker in self.threads:
            worker.join(2)


@pytest.fixture
def serve() -> Iterator[Callable[[Script], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: Script) -> ScriptedServer:
        server = ScriptedServer(script)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def vnc() -> Iterator[VncKit]:
    library = VncKit(timeout=f"{TIMEOUT}s")
    try:
        yield library
    finally:
        library.close_all_vnc_connections()


def recv_exact(conn: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = conn.recv(count - len(data))
        if not chunk:
            raise ConnectionError("client closed")
        data += chunk
    return data


def handshake(conn: socket.socket, width: int = 4, height: int = 2, name: bytes = b"fake") -> None:
    """RFB 3.8, security None, ServerInit; then swallow SetPixelFormat and SetEncodings."""
    conn.sendall(b"RFB 003.008\n")
    recv_exact(conn, 12)
    conn.sendall(b"\x01\x01")
    recv_exact(conn, 1)
    conn.sendall(struct.pack(">I", 0))
    recv_exact(conn, 1)
    conn.sendall(struct.pack(">HH", width, height) + CLIENT_PIXEL_FORMAT + struct.pack(">I", len(name)) + name)
    recv_exact(conn, 20)
    head = recv_exact(conn, 4)
    recv_exact(conn, 4 * struct.unpack(">xxH", head)[0])


def raw_rect(x: int, y: int, pixels: list[list[int]]) -> bytes:
    height, width = len(pixels), len(pixels[0])
    data = b"".join(struct.pack("<I", value) for row in pixels for value in row)
    return struct.pack(">HHHHi", x, y, width, height, 0) + data


def stall(stop: threading.Event) -> None:
    stop.wait(10)


VERSION = b"RFB 003.008\n"
Step = bytes | int | Callable[[socket.socket], None]


def scripted(*steps: Step, then_close: bool = False) -> Script:
    """A server script: bytes are sent, a number is that many bytes read from the client, a callable
    plays a part (e.g. `handshake`); afterwards the server stalls, or closes with ``then_close``."""

    def script(conn: socket.socket, stop: threading.Event) -> None:
        for step in steps:
            if isinstance(step, bytes):
                conn.sendall(step)
            elif isinstance(step, int):
                recv_exact(conn, step)
            else:
                step(conn)
        if not then_close:
            stall(stop)

    return script


def assert_fails_fast(action: Callable[[], object], error: type[Exception], pattern: str,
                      budget: float = TIMEOUT) -> Exception:
    started = time.monotonic()
    with pytest.raises(error, match=pattern) as caught:
        action()
    elapsed = time.monotonic() - started
    assert elapsed < budget + SLACK, f"took {elapsed:.2f} s for a {budget:g} s timeout"
    assert "Fix:" in str(caught.value)
    return caught.value


def assert_connect_fails(vnc: VncKit, address: str, error: type[Exception], pattern: str,
                         budget: float = TIMEOUT) -> Exception:
    return assert_fails_fast(lambda: vnc.connect_to_vnc(address), error, pattern, budget)


# -- failures -----------------------------------------------------------------------------------
def test_refused_connection_is_named(vnc: VncKit) -> None:
    assert_connect_fails(vnc, f"127.0.0.1:{free_port()}", VncRefused,
                         r"refused.*nothing listens.*Fix: check host and port")


def test_server_that_stalls_after_the_version_string(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(VERSION))
    assert_connect_fails(vnc, server.address, VncStalled,
                         r"stalled: it sent 0 of the 1 bytes of the number of security types")


def test_silent_server_stalls_before_the_version(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted())
    assert_connect_fails(vnc, server.address, VncStalled,
                         r"stalled: it sent 0 of the 4 bytes of the RFB version string")


def test_garbage_is_not_rfb(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(b"HTTP/1.1 400 Bad Request\r\n\r\n"))
    assert_connect_fails(vnc, server.address, NotRfb, r"does not speak RFB: it began with b'HTTP'", budget=0.5)


def test_malformed_version_is_not_rfb(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(b"RFB 3.8 hello\n"))
    assert_connect_fails(vnc, server.address, NotRfb, "malformed RFB version")


def test_close_mid_handshake_is_named(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(VERSION, 12, b"\x02\x01", then_close=True))  # two security types announced, one sent
    assert_connect_fails(vnc, server.address, VncClosed,
                         r"closed the connection: after 1 of the 2 bytes of the list of security types "
                         r"\(closed mid-message\)")


def test_close_mid_server_init_is_named(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(VERSION, 12, b"\x01\x01", 1, struct.pack(">I", 0), 1,
                            struct.pack(">HH", 4, 2) + CLIENT_PIXEL_FORMAT[:6], then_close=True))
    assert_connect_fails(vnc, server.address, VncClosed,
                         r"after 10 of the 20 bytes of ServerInit \(closed mid-message\)")


def test_server_refusal_reason_is_reported(vnc: VncKit, serve: Callable) -> None:
    reason = b"Too many security failures"
    server = serve(scripted(VERSION, 12, b"\x00" + struct.pack(">I", len(reason)) + reason, then_close=True))
    assert_connect_fails(vnc, server.address, VncProtocolError,
                         "refused the connection: it said: Too many security failures")


def test_unsupported_security_types_are_listed(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(VERSION, 12, b"\x02\x13\x10"))  # VeNCrypt, Tight
    assert_connect_fails(vnc, server.address, VncProtocolError,
                         r"offered: VeNCrypt, Tight.*-SecurityTypes None or VncAuth")


def test_stall_in_the_middle_of_a_rectangle(vnc: VncKit, serve: Callable) -> None:
    update = b"\x00\x00" + struct.pack(">H", 1) + struct.pack(">HHHHi", 0, 0, 4, 2, 0) + b"\xff" * 5
    server = serve(scripted(handshake, 10, update))
    assert_connect_fails(vnc, server.address, VncStalled,
                         r"it sent 5 of the 32 bytes of the pixels of a 4x2 Raw rectangle")


def test_unknown_message_type_is_a_protocol_error(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(handshake, 10, b"\x07garbage"))
    assert_connect_fails(vnc, server.address, VncProtocolError, "unknown message type 7")


def test_undeclared_encoding_is_a_protocol_error(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(handshake, 10, b"\x00\x00" + struct.pack(">H", 1) + struct.pack(">HHHHi", 0, 0, 4, 2, 2)))
    assert_connect_fails(vnc, server.address, VncProtocolError,
                         "used encoding RRE \\(2\\).*asked only for CopyRect, Tight, ZRLE, Hextile, Raw")


# -- message boundaries ---------------------------------------------------------------------------
RED, GREEN, BLUE, WHITE, BLACK = 0xFF0000, 0x00FF00, 0x0000FF, 0xFFFFFF, 0x000000


def bundle_script(conn: socket.socket, stop: threading.Event) -> None:
    """After the handshake, answer the first request with five messages in one write."""
    handshake(conn)
    recv_exact(conn, 10)
    first = raw_rect(0, 0, [[RED, GREEN, BLUE, WHITE], [BLACK] * 4])
    copy = struct.pack(">HHHHiHH", 2, 1, 2, 1, 1, 0, 0)  # CopyRect: (0,0) 2x1 -> (2,1)
    cut = b"hi"
    conn.sendall(
        b"\x02"
        + b"\x00\x00" + struct.pack(">H", 2) + first + copy
        + b"\x02"
        + b"\x03\x00\x00\x00" + struct.pack(">I", len(cut)) + cut
        + b"\x00\x00" + struct.pack(">H", 1) + raw_rect(0, 1, [[BLUE]])
    )
    stall(stop)


@pytest.mark.parametrize("transport", ["tcp", "ws-one-byte-frames", "ws-one-frame"])
def test_messages_are_glued_across_any_boundaries(vnc: VncKit, serve: Callable, transport: str) -> None:
    server = serve(bundle_script)
    if transport == "tcp":
        bridge = None
        address = server.address
    else:
        options = {"max_piece": 1} if transport == "ws-one-byte-frames" else {"coalesce": 0.05}
        bridge = WsBridge(server.port, **options).start()
        address = bridge.url
    try:
        vnc.connect_to_vnc(address, timeout="3s")
        vnc.request_incremental_update(timeout="300ms")
        client = vnc.client()
        assert vnc.get_desktop_name() == "fake"
        assert client.bells == 2
        assert client.cut_text == "hi"
        assert client.rects_by_encoding == {"Raw": 2, "CopyRect": 1}
        image = client.framebuffer.image
        assert [image.getpixel((x, 0)) for x in range(4)] == [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
        assert [image.getpixel((x, 1)) for x in range(4)] == [(0, 0, 255), (0, 0, 0), (255, 0, 0), (0, 255, 0)]
        if transport == "ws-one-byte-frames":
            assert bridge is not None and bridge.frames_sent == bridge.bytes_sent
        if transport == "ws-one-frame":
            assert bridge is not None and bridge.frames_sent <= 6  # handshake steps + one bundle
    finally:
        vnc.close_all_vnc_connections()
        if bridge:
            bridge.stop()


# -- WebSocket failures -------------------------------------------------------------------------------
def test_stall_behind_a_websocket_fails_within_the_timeout(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(VERSION))
    with WsBridge(server.port, max_piece=3) as bridge:
        assert_connect_fails(vnc, bridge.url, VncStalled, r"over WebSocket ws://127\.0\.0\.1:\d+/websockify stalled")


def test_garbage_behind_a_websocket_is_not_rfb(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(b"SSH-2.0-OpenSSH_9.2\r\n"))
    with WsBridge(server.port, max_piece=2) as bridge:
        assert_connect_fails(vnc, bridge.url, NotRfb, r"began with b'SSH-'")


def test_websocket_to_nothing_is_refused(vnc: VncKit) -> None:
    assert_connect_fails(vnc, f"ws://127.0.0.1:{free_port()}/websockify", VncRefused, "connection was refused")


def test_websocket_closed_by_the_backend_mid_handshake(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(VERSION, 12, b"\x01", then_close=True))
    with WsBridge(server.port) as bridge:
        assert_connect_fails(vnc, bridge.url, VncClosed,
                             r"closed the connection: while waiting for the list of security types")


def test_text_frames_are_not_rfb(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(VERSION))
    with WsBridge(server.port, text_frames=True) as bridge:
        assert_connect_fails(vnc, bridge.url, NotRfb, "sent a text frame.*binary frames")


def test_an_upgrade_without_the_offered_subprotocol_is_named(vnc: VncKit, serve: Callable) -> None:
    server = serve(scripted(VERSION))
    with WsBridge(server.port, subprotocols=()) as bridge:
        assert_connect_fails(vnc, bridge.url, NotRfb, "chose no subprotocol.*offered 'binary'.*browsers drop")


def test_desktop_size_pseudo_encoding_resizes_the_framebuffer(vnc: VncKit, serve: Callable) -> None:
    def script(conn: socket.socket, stop: threading.Event) -> None:
        handshake(conn)
        recv_exact(conn, 10)
        conn.sendall(b"\x00\x00" + struct.pack(">H", 1) + raw_rect(0, 0, [[RED] * 4] * 2))
        recv_exact(conn, 10)
        conn.sendall(b"\x00\x00" + struct.pack(">H", 2) + struct.pack(">HHHHi", 0, 0, 6, 3, -223)
                     + raw_rect(0, 0, [[GREEN] * 6] * 3))
        stall(stop)

    server = serve(script)
    vnc.connect_to_vnc(server.address)
    assert vnc.get_desktop_size() == (4, 2)
    vnc.request_incremental_update(timeout="300ms")
    assert vnc.get_desktop_size("==", "6x3") == (6, 3)
    assert vnc.client().framebuffer.dominant_colour(Region(0, 0, 6, 3)) == (0, 255, 0)
