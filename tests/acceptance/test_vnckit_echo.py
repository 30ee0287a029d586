"""`Typed Text Should Appear` against scripted desktops: one that shows typed keys passes; a blinking
cursor, a desktop that ignores keys and one whose text vanishes again all fail, naming why."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.acceptance.test_vnckit import Desktop, running_desktop
from tests.acceptance.test_vnckit_failures import ScriptedServer, handshake, raw_rect, recv_exact
from VncKit import VncKit
from VncKit.echo import TypedTextMissing
from VncKit.errors import VncError

WIDTH, HEIGHT, CELL = 64, 8, 4
WHITE, BLACK = 0xFFFFFF, 0x000000
Paint = Callable[[int, int], list[tuple[int, int, int]]]  # (keys typed, ticks) -> cells (x, y, colour) to show


def scripted_desktop(paint: Paint, tick: float = 0.05) -> Callable[[socket.socket, threading.Event], None]:
    """A tiny RFB desktop: black screen; after every key or ``tick`` it shows the cells ``paint`` gives
    (cells painted before and not given again go black), answering one update request at a time."""

    def script(conn: socket.socket, stop: threading.Event) -> None:
        handshake(conn, WIDTH, HEIGHT)
        conn.settimeout(tick)
        keys, ticks, shown = 0, 0, {}
        wanted: tuple[bool, bool] | None = None  # (incremental, answered) of the request outstanding
        buffer = b""
        next_tick = time.monotonic() + tick
        while not stop.is_set():
            try:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                buffer += chunk
            except TimeoutError:
                pass
            while buffer:
                kind = buffer[0]
                size = {0: 20, 2: 4, 3: 10, 4: 8, 5: 6}.get(kind, 1)
                if len(buffer) < size:
                    break
                message, buffer = buffer[:size], buffer[size:]
                if kind == 3:
                    wanted = (message[1] == 1, False)
                elif kind == 4 and message[1] == 1:
                    keys += 1
            if time.monotonic() >= next_tick:
                ticks += 1
                next_tick += tick
            cells = {(x, y): colour for x, y, colour in paint(keys, ticks)}
            changed = {xy: c for xy, c in cells.items() if shown.get(xy) != c}
            changed.update({xy: BLACK for xy in shown if xy not in cells and shown[xy] != BLACK})
            if wanted is None:
                continue
            incremental, _ = wanted
            if not incremental:
                rects = raw_rect(0, 0, [[cells.get((x // CELL, y // CELL), BLACK) for x in range(WIDTH)]
                                        for y in range(HEIGHT)])
                conn.sendall(struct.pack(">BxH", 0, 1) + rects)
            elif changed:
                body = b"".join(raw_rect(x * CELL, y * CELL, [[colour] * CELL] * CELL)
                                for (x, y), colour in changed.items())
                conn.sendall(struct.pack(">BxH", 0, len(changed)) + body)
            else:
                continue
            shown = {**shown, **changed}
            wanted = None

    _ = recv_exact  # the handshake helper reads with it
    return script


def typed_cells(keys: int, _ticks: int) -> list[tuple[int, int, int]]:
    return [(index, 0, WHITE) for index in range(keys)]


def blinking_cursor(_keys: int, ticks: int) -> list[tuple[int, int, int]]:
    return [(0, 0, WHITE)] if ticks % 2 else []


def cursor_moving_with_keys(keys: int, ticks: int) -> list[tuple[int, int, int]]:
    """A blinking cursor that also moves with each key but leaves nothing behind it."""
    return [(keys, 0, WHITE)] if ticks % 2 else []


def text_and_blinking_cursor(keys: int, ticks: int) -> list[tuple[int, int, int]]:
    return typed_cells(keys, ticks) + ([(keys, 1, WHITE)] if ticks % 2 else [])


@pytest.fixture
def vnc() -> Iterator[VncKit]:
    library = VncKit(timeout="2s")
    try:
        yield library
    finally:
        library.close_all_vnc_connections()


@pytest.fixture(scope="module")
def session_desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    """A real session desktop (Xvnc with the keyboard display program)."""
    yield from running_desktop(tmp_path_factory.mktemp("echo-desktop"), "echo", None)


@pytest.fixture
def serve() -> Iterator[Callable[[Paint], ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(paint: Paint) -> ScriptedServer:
        server = ScriptedServer(scripted_desktop(paint))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize("paint", [typed_cells, text_and_blinking_cursor], ids=["text", "text-and-cursor"])
def test_typed_text_that_shows_passes(vnc: VncKit, serve: Callable, paint: Paint) -> None:
    vnc.connect_to_vnc(serve(paint).address)
    seconds = vnc.typed_text_should_appear("kit", timeout="2s")
    assert 0 <= seconds < 2


def test_a_blinking_cursor_is_not_typed_text(vnc: VncKit, serve: Callable) -> None:
    vnc.connect_to_vnc(serve(blinking_cursor).address)
    with pytest.raises(TypedTextMissing, match=r"changed no place that an earlier key had not changed.*"
                                               r"blinking cursor"):
        vnc.typed_text_should_appear("kit", timeout="1s")


def test_pixels_that_come_and_go_are_not_typed_text(vnc: VncKit, serve: Callable) -> None:
    vnc.connect_to_vnc(serve(cursor_moving_with_keys).address)
    with pytest.raises(TypedTextMissing, match=r"(did not stay on the screen|changed no place|did not come back)"):
        vnc.typed_text_should_appear("kit", timeout="1s")


def test_a_desktop_that_ignores_keys_fails_at_the_first_key(vnc: VncKit, serve: Callable) -> None:
    vnc.connect_to_vnc(serve(lambda _k, _t: []).address)
    with pytest.raises(TypedTextMissing, match=r"Key 1 of 3 typed \('k'\) did not come back as pixels"):
        vnc.typed_text_should_appear("kit", timeout="500ms")


def test_one_character_cannot_tell_text_from_a_cursor(vnc: VncKit, serve: Callable) -> None:
    vnc.connect_to_vnc(serve(typed_cells).address)
    with pytest.raises(VncError, match="too short"):
        vnc.typed_text_should_appear("k")


def test_the_session_desktop_shows_typed_text(vnc: VncKit, session_desktop: Desktop) -> None:
    vnc.connect_to_vnc(session_desktop.address)
    seconds = vnc.typed_text_should_appear("kit", timeout="5s")
    assert 0 <= seconds < 5
