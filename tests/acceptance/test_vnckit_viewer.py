"""VncKit behaves like a browser's viewer towards x11vnc: input never goes out with no update request
pending, and the pointer it moves reaches the X server at once.

x11vnc (0.9.16) holds a fresh viewer's first pointer event back for about five seconds when it
arrives with no update request pending, right after a full update; ``Move Pointer`` returns at
once all the same. VncKit reads the server all the time and sends the next incremental request as
soon as an update arrives, as a browser's viewer does, so the pointer moves within milliseconds.

A recording proxy sits between VncKit and a real ``x11vnc`` (attached to an ``Xvnc`` display). It
reads both directions (the viewer asks for Raw, so every server message has a known length) and
notes when each FramebufferUpdate and each FramebufferUpdateRequest passed, and whether a request
was pending at each PointerEvent. A viewer that behaves like a browser asks again within
``REQUEST_GRACE`` of every update (a pointer event may still cross an update in flight). The X
server itself says where the pointer is.
"""

from __future__ import annotations

import contextlib
import select
import shutil
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from Xlib import X, display

from environments.local.procs import ManagedProcess, free_port, port_answers, wait_for
from environments.local.vnc_server import VncServer
from VncKit import VncKit

POINTER_BUDGET = 1.0  # seconds from Move Pointer until the X server has the pointer there
REQUEST_GRACE = 0.25  # seconds from an update starting towards the viewer until its next request (busy 2-core machine)
POSITIONS = [(50, 40), (300, 200), (120, 260), (390, 10)]


def exact(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    return data


@dataclass
class RecordingProxy:
    """Forwards one RFB connection (security None, Raw only) and records the pending state at each
    PointerEvent."""

    target_port: int
    listener: socket.socket = field(default_factory=lambda: socket.create_server(("127.0.0.1", 0)))
    pending: bool = False
    pointer_events: list[bool] = field(default_factory=list)
    pointer_times: list[float] = field(default_factory=list)
    update_times: list[float] = field(default_factory=list)
    request_times: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)
    sockets: list[socket.socket] = field(default_factory=list)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.listener.getsockname()[1]}"

    def start(self) -> RecordingProxy:
        self.listener.settimeout(10)
        worker = threading.Thread(target=self._accept, daemon=True)
        worker.start()
        self.threads.append(worker)
        return self

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            viewer, _ = self.listener.accept()
            server = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            self.sockets += [viewer, server]
            for sock in (viewer, server):
                sock.settimeout(None)
            up = threading.Thread(target=self._viewer_to_server, args=(viewer, server), daemon=True)
            down = threading.Thread(target=self._server_to_viewer, args=(server, viewer), daemon=True)
            self.threads += [up, down]
            up.start()
            down.start()

    def _viewer_to_server(self, viewer: socket.socket, server: socket.socket) -> None:
        def forward(count: int) -> bytes:
            data = exact(viewer, count)
            server.sendall(data)
            return data

        with contextlib.suppress(OSError):
            for part in (12, 1, 1):  # version, security type None, ClientInit: each waits for the server
                forward(part)
            while True:
                kind = exact(viewer, 1)
                if kind[0] == 3:
                    with self.lock:
                        self.pending = True
                        self.request_times.append(time.monotonic())
                elif kind[0] == 5:
                    with self.lock:
                        self.pointer_events.append(self.pending)
                        self.pointer_times.append(time.monotonic())
                server.sendall(kind)
                if kind[0] == 2:
                    (count,) = struct.unpack(">xH", forward(3))
                    forward(4 * count)
                elif kind[0] == 6:
                    (length,) = struct.unpack(">3xI", forward(7))
                    forward(length)
                else:
                    forward({0: 19, 3: 9, 4: 7, 5: 5}[kind[0]])

    def _server_to_viewer(self, server: socket.socket, viewer: socket.socket) -> None:
        def forward(count: int) -> bytes:
            data = exact(server, count)
            viewer.sendall(data)
            return data

        with contextlib.suppress(OSError):
            forward(12)
            (types,) = forward(1)
            forward(types)
            forward(4)  # the security result, once the viewer has chosen
            init = forward(24)
            forward(struct.unpack(">I", init[20:24])[0])
            while True:
                (kind,) = exact(server, 1)
                if kind == 0:
                    with self.lock:
                        self.pending = False  # this update answers every request made so far
                        # when it begins: the viewer cannot ask again before it has all of it, and once it
                        # has, its next request may come before this thread notes the time of the last byte
                        self.update_times.append(time.monotonic())
                viewer.sendall(bytes([kind]))
                if kind == 0:
                    (count,) = struct.unpack(">xH", forward(3))
                    for _ in range(count):
                        _x, _y, w, h, encoding = struct.unpack(">HHHHi", forward(12))
                        forward(w * h * 4 if encoding == 0 else 0)
                elif kind == 1:
                    (colours,) = struct.unpack(">3xH", forward(5))
                    forward(6 * colours)
                elif kind == 3:
                    (length,) = struct.unpack(">3xI", forward(7))
                    forward(length)

    def stop(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for worker in self.threads:
            worker.join(2)


@dataclass
class X11vnc:
    port: int
    x: display.Display

    def pointer(self) -> tuple[int, int]:
        where = self.x.screen().root.query_pointer()
        return (where.root_x, where.root_y)

    def seconds_until_pointer_at(self, x: int, y: int, started: float) -> float:
        """Seconds from ``started`` until the X server reports the pointer at ``x``, ``y`` (its
        MotionNotify event), or infinity after five seconds."""
        while True:
            while self.x.pending_events():
                event = self.x.next_event()
                if event.type == X.MotionNotify and (event.root_x, event.root_y) == (x, y):
                    return time.monotonic() - started
            if self.pointer() == (x, y):
                return time.monotonic() - started
            remaining = started + 5 - time.monotonic()
            if remaining <= 0:
                return float("inf")
            select.select([self.x], [], [], remaining)


@pytest.fixture
def x11vnc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[X11vnc]:
    if not shutil.which("x11vnc"):
        pytest.fail("x11vnc is not installed: run './kit setup' (it installs x11vnc)")
    workdir = tmp_path_factory.mktemp("x11vnc")
    server = VncServer(workdir, geometry="400x300", name="x11").start()
    port = free_port()
    log = workdir / "x11vnc.log"
    process = ManagedProcess("x11vnc", ["x11vnc", "-display", f":{server.display}", "-rfbport", str(port),
                                        "-localhost", "-nopw", "-shared", "-forever", "-quiet"], log)
    connection = None
    try:
        process.start()
        wait_for(lambda: port_answers(port), 15, "x11vnc did not listen", log, process.popen)
        connection = display.Display(f":{server.display}")
        connection.screen().root.change_attributes(event_mask=X.PointerMotionMask)
        connection.sync()
        yield X11vnc(port, connection)
    finally:
        process.stop()
        if connection is not None:
            connection.close()
        server.stop()


@pytest.fixture
def proxy(x11vnc: X11vnc) -> Iterator[RecordingProxy]:
    recording = RecordingProxy(x11vnc.port).start()
    try:
        yield recording
    finally:
        recording.stop()


def look_then_point(vnc: VncKit, x11vnc: X11vnc) -> list[float]:
    """What a tester does: look at the screen, then move the pointer; the seconds each move took
    to reach the X server."""
    seconds = []
    for x, y in POSITIONS:
        vnc.request_full_update()
        started = time.monotonic()
        vnc.move_pointer(x, y)
        seconds.append(x11vnc.seconds_until_pointer_at(x, y, started))
    return seconds


def check_requests_pending(proxy: RecordingProxy) -> None:
    """Fail when the viewer let an update go unanswered for longer than ``REQUEST_GRACE`` before a
    pointer event: a browser's viewer asks again as soon as an update arrives."""
    assert proxy.pointer_times, "x11vnc received no pointer event"
    delays = []
    for sent in (t for t in proxy.update_times if t < proxy.pointer_times[-1]):
        later = [t for t in proxy.request_times if t >= sent]
        delays.append((later[0] if later else float("inf")) - sent)
    slow = [delay for delay in delays if delay > REQUEST_GRACE]
    no_request = [index + 1 for index, pending in enumerate(proxy.pointer_events) if not pending]
    assert not slow, (
        f"after {len(slow)} of {len(delays)} updates the viewer sent no new update request for "
        f"{', '.join(f'{d * 1000:.0f} ms' for d in slow)} (allowed {REQUEST_GRACE * 1000:.0f} ms: a browser's "
        f"viewer asks again at once); pointer events {no_request} of {len(proxy.pointer_events)} reached x11vnc "
        "with no update request pending")


def test_every_pointer_move_reaches_x11vnc_with_a_request_pending(x11vnc: X11vnc, proxy: RecordingProxy) -> None:
    vnc = VncKit(timeout="5s")
    try:
        vnc.connect_to_vnc(proxy.address, encodings="Raw")
        seconds = look_then_point(vnc, x11vnc)
    finally:
        vnc.close_all_vnc_connections()
    check_requests_pending(proxy)
    assert max(seconds) < POINTER_BUDGET, (
        f"x11vnc moved the X pointer {', '.join(f'{s * 1000:.0f} ms' for s in seconds)} after 'Move Pointer' "
        f"(budget {POINTER_BUDGET * 1000:.0f} ms)")


def test_a_viewer_that_lets_its_request_lapse_is_caught_and_held_back(
    x11vnc: X11vnc, proxy: RecordingProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    from VncKit.rfb import RfbClient

    original = RfbClient.__init__

    def lapsing(self: RfbClient, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)  # type: ignore[arg-type]
        self.keep_request_pending = False

    monkeypatch.setattr(RfbClient, "__init__", lapsing)
    vnc = VncKit(timeout="5s")
    try:
        vnc.connect_to_vnc(proxy.address, encodings="Raw")
        seconds = look_then_point(vnc, x11vnc)
    finally:
        vnc.close_all_vnc_connections()
    with pytest.raises(AssertionError, match=r"after [1-9]\d* of \d+ updates the viewer sent no new update request.*"
                                             r"pointer events \[1, 2, 3, 4\] of 4 reached x11vnc with no update"):
        check_requests_pending(proxy)
    assert seconds[0] > POINTER_BUDGET, (
        f"x11vnc held the first pointer move of a viewer with no request pending only {seconds[0] * 1000:.0f} ms: "
        "the case this file proves VncKit avoids did not happen")
