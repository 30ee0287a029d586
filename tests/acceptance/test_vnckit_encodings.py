"""VncKit's Hextile, ZRLE and Tight decoders against real servers, and by hand-made rectangles.

One desktop (an ``Xvnc`` showing a test card: solid blocks, a two-colour checkerboard, a smooth
gradient, noise, text and small coloured bars) is served twice: by Xvnc itself and by ``x11vnc``
attached to its display. The same screen decoded with Raw and with each encoding must be equal
pixel for pixel; Tight's JPEG rectangles are lossy and must stay within an error bound. Mutant
decoders prove the comparisons fail when a decoder draws wrong pixels. Hand-made rectangles cover
what no local server sends (Tight's gradient filter, stream resets, long runs) and malformed data.
"""

from __future__ import annotations

import base64
import hashlib
import random
import shutil
import socket
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw
from Xlib import X, display

from environments.local.procs import ManagedProcess, free_port, port_answers, wait_for
from environments.local.vnc_server import VncServer
from tests.support.ws_bridge import WsBridge
from VncKit import VncKit
from VncKit.compare import FramesDiffer, check_same_screen
from VncKit.encodings import choose_encodings, encoding_name, hextile, tight, zrle
from VncKit.errors import NotRfb, VncError, VncProtocolError
from VncKit.reader import Reader
from VncKit.rfb import RfbClient, Update
from VncKit.screen import refresh
from VncKit.transport import parse_target

WIDTH, HEIGHT = 400, 300
LOSSLESS = ["Hextile", "ZRLE", "Tight"]
# how the servers coded the test card (seen on TigerVNC 1.12 and x11vnc 0.9.16): every branch a
# decoder has for real servers' data must have been taken, or the comparison proves less
EXPECTED_KINDS = {
    "Hextile": {"Hextile solid", "Hextile subrects", "Hextile raw"},
    "ZRLE": {"ZRLE solid", "ZRLE packed-palette", "ZRLE raw"},
    "Tight": {"Tight fill", "Tight palette", "Tight copy"},
}
# JPEG quality 6 on the test card (TigerVNC 1.12): mean channel error 1.36, 0.2 % of the pixels off
# by more than 48 in a channel (at the noise's edges), largest 84; quality 5 is already 3.7 and 5.7 %
JPEG_MAX_MEAN_ERROR = 3.0
JPEG_MAX_ERROR = 48
JPEG_OUTLIERS = 0.01


# -- the desktop ------------------------------------------------------------------------------------
def make_test_card() -> Image.Image:
    """A screen with something for every branch of the decoders."""
    card = Image.new("RGB", (WIDTH, HEIGHT), (30, 30, 30))
    draw = ImageDraw.Draw(card)
    for index, colour in enumerate([(255, 0, 0), (0, 200, 0), (0, 0, 255), (250, 250, 0)]):
        draw.rectangle([index * 50, 0, index * 50 + 49, 99], fill=colour)
    for y in range(100):
        for x in range(200, 400):
            if (x // 3 + y // 3) % 2:
                card.putpixel((x, y), (255, 255, 255))
    for y in range(100, 200):
        for x in range(200):
            card.putpixel((x, y), (x, (y - 100) * 2, 128))
    rng = random.Random(5)
    for y in range(100, 200):
        for x in range(200, 300):
            card.putpixel((x, y), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw.text((210, 210), "VncKit encodings 0123", fill=(200, 220, 255))
    for index in range(12):
        draw.rectangle([10 + index * 15, 220, 18 + index * 15, 228 + index],
                       fill=((index * 40) % 256, 100, 255 - index * 20))
    return card


def show(display_number: int, image: Image.Image) -> display.Display:
    """Show ``image`` in a window covering the screen; the window lives as long as the connection."""
    connection = display.Display(f":{display_number}")
    screen = connection.screen()
    window = screen.root.create_window(0, 0, image.width, image.height, 0, screen.root_depth, X.InputOutput,
                                       X.CopyFromParent, override_redirect=True, background_pixel=screen.black_pixel)
    window.map()
    gc = window.create_gc()
    data = image.tobytes("raw", "BGRX")
    row = image.width * 4
    for y in range(0, image.height, 20):
        rows = min(20, image.height - y)
        window.put_image(gc, 0, y, image.width, rows, X.ZPixmap, 24, 0, data[y * row:(y + rows) * row])
    connection.sync()
    return connection


@dataclass
class Servers:
    xvnc: str
    x11vnc: str
    display: int


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    if not shutil.which("x11vnc"):
        pytest.fail("x11vnc is not installed: run './kit setup' (it installs x11vnc)")
    workdir = tmp_path_factory.mktemp("vnc-encodings")
    server = VncServer(workdir, geometry=f"{WIDTH}x{HEIGHT}", name="card").start()
    port = free_port()
    log = workdir / "x11vnc.log"
    x11vnc = ManagedProcess("x11vnc", ["x11vnc", "-display", f":{server.display}", "-rfbport", str(port),
                                       "-localhost", "-nopw", "-shared", "-forever", "-quiet"], log)
    connection = None
    try:
        connection = show(server.display, make_test_card())
        x11vnc.start()
        wait_for(lambda: port_answers(port), 15, "x11vnc did not listen", log, x11vnc.popen)
        yield Servers(f"127.0.0.1:{server.port}", f"127.0.0.1:{port}", server.display)
    finally:
        x11vnc.stop()
        if connection is not None:
            connection.close()
        server.stop()


@dataclass
class Decoded:
    image: Image.Image
    used: dict[str, int]
    kinds: dict[str, int]
    nbytes: int


def decode(address: str, encodings: str, jpeg_quality: int | None = None) -> Decoded:
    """Connect asking for ``encodings`` only, fetch one full frame, close."""
    client = RfbClient(parse_target(address), None, 10, encodings=choose_encodings(encodings, jpeg_quality, 2))
    client.connect()
    try:
        update = refresh(client)
        return Decoded(client.framebuffer.image.copy(), dict(client.rects_by_encoding), dict(client.decoded),
                       update.nbytes)
    finally:
        client.close()


def address_of(servers: Servers, name: str) -> str:
    return servers.xvnc if name == "Xvnc" else servers.x11vnc


# -- real servers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("server", ["Xvnc", "x11vnc"])
@pytest.mark.parametrize("encoding", LOSSLESS)
def test_each_lossless_encoding_gives_the_raw_pixels(servers: Servers, server: str, encoding: str) -> None:
    raw = decode(address_of(servers, server), "Raw")
    coded = decode(address_of(servers, server), encoding)
    assert set(raw.used) == {"Raw"}
    assert encoding in coded.used, f"{server} answered {coded.used} when asked for {encoding} only"
    assert EXPECTED_KINDS[encoding] <= set(coded.kinds), f"{server} coded the card as {coded.kinds}"
    check_same_screen(raw.image, coded.image, f"{server}'s {encoding} frame")
    assert coded.nbytes < raw.nbytes / 2, f"{encoding} took {coded.nbytes} bytes, Raw {raw.nbytes}"


@pytest.mark.parametrize("server", ["Xvnc", "x11vnc"])
def test_tight_jpeg_as_a_browser_asks_stays_within_the_error_bound(servers: Servers, server: str) -> None:
    raw = decode(address_of(servers, server), "Raw")
    lossy = decode(address_of(servers, server), "Tight", jpeg_quality=6)
    assert lossy.kinds.get("Tight jpeg", 0) >= 1, f"{server} sent no JPEG rectangle: {lossy.kinds}"
    found = check_same_screen(raw.image, lossy.image, f"{server}'s Tight JPEG frame",
                              max_mean_error=JPEG_MAX_MEAN_ERROR, max_error=JPEG_MAX_ERROR, outliers=JPEG_OUTLIERS)
    assert found.pixels > 0, "JPEG at quality 6 is lossy: identical pixels mean no JPEG was drawn"


def test_the_default_encodings_are_what_a_browser_asks_for(servers: Servers) -> None:
    vnc = VncKit(timeout="5s")
    try:
        vnc.connect_to_vnc(servers.xvnc)
        client = vnc.client()
        assert client.encoding_names == ["CopyRect", "Tight", "ZRLE", "Hextile", "Raw", "JPEGQuality6",
                                         "CompressLevel2", "DesktopSize", "LastRect"]
        assert vnc.get_used_encodings("==", ["Tight"]) == ["Tight"]
        vnc.connect_to_vnc(servers.xvnc, encodings="zrle, raw", jpeg_quality=None, compress_level=None, alias="z")
        assert vnc.client("z").encoding_names == ["ZRLE", "Raw", "DesktopSize", "LastRect"]
        assert vnc.get_used_encodings(alias="z") == ["ZRLE"]
    finally:
        vnc.close_all_vnc_connections()


def swap_red_blue(colour: Callable[[bytes], tuple[int, int, int]]) -> Callable[[bytes], tuple[int, int, int]]:
    def mutant(pixel: bytes) -> tuple[int, int, int]:
        r, g, b = colour(pixel)
        return (b, g, r)

    return mutant


MUTANTS: dict[str, tuple[str, object, str, Callable[[object], object]]] = {
    "Hextile colours read as RGB": ("Hextile", hextile, "bgr", swap_red_blue),
    "ZRLE CPIXEL read as RGB": ("ZRLE", zrle, "bgr", swap_red_blue),
    "Tight TPIXEL read as BGR": ("Tight", tight, "rgb", swap_red_blue),
}


@pytest.mark.parametrize("mutant", list(MUTANTS))
def test_a_decoder_that_draws_wrong_colours_is_caught(servers: Servers, monkeypatch: pytest.MonkeyPatch,
                                                      mutant: str) -> None:
    encoding, module, name, broken = MUTANTS[mutant]
    raw = decode(servers.xvnc, "Raw")
    monkeypatch.setattr(module, name, broken(getattr(module, name)))
    coded = decode(servers.xvnc, encoding)
    with pytest.raises(FramesDiffer, match=rf"Xvnc's {encoding} frame does not show the same screen: \d+ of "
                                           r"120000 pixels differ.*allowed: no difference"):
        check_same_screen(raw.image, coded.image, f"Xvnc's {encoding} frame")


def test_a_jpeg_decoder_that_loses_colour_is_caught(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = decode(servers.xvnc, "Raw")
    real = tight.jpeg_image
    monkeypatch.setattr(tight, "jpeg_image", lambda data, rect: real(data, rect).convert("L").convert("RGB"))
    grey = decode(servers.xvnc, "Tight", jpeg_quality=6)
    with pytest.raises(FramesDiffer, match=r"JPEG frame does not show the same screen.*at most 1.0% of the pixels"):
        check_same_screen(raw.image, grey.image, "Xvnc's Tight JPEG frame", max_mean_error=JPEG_MAX_MEAN_ERROR,
                          max_error=JPEG_MAX_ERROR, outliers=JPEG_OUTLIERS)


# -- hand-made rectangles ---------------------------------------------------------------------------
class Script:
    """A transport that plays recorded server bytes (and swallows what the client sends)."""

    description = "TCP scripted"

    def __init__(self, data: bytes) -> None:
        self.data = data

    def recv(self, timeout: float) -> bytes:
        chunk, self.data = self.data[:4096], self.data[4096:]
        if not chunk:
            raise TimeoutError
        return chunk

    def send(self, data: bytes, timeout: float) -> None:
        return None

    def close(self) -> None:
        return None


def viewer(width: int, height: int, encodings: str = "Tight,ZRLE,Hextile,Raw") -> RfbClient:
    client = RfbClient(parse_target("127.0.0.1:5999"), None, 0.5, encodings=choose_encodings(encodings, None, None))
    client.start_framebuffer(width, height)
    return client


def play(client: RfbClient, *rects: bytes, count: int | None = None) -> Update:
    """Feed one FramebufferUpdate made of ``rects`` (each a 12-byte header and its data) to the client."""
    head = b"\x00\x00" + struct.pack(">H", len(rects) if count is None else count)
    transport = Script(head + b"".join(rects))
    client.transport = transport
    client.reader = Reader(transport, 0.5)
    message = client.next_message(float("inf"))
    assert isinstance(message, Update)
    return message


def header(x: int, y: int, w: int, h: int, encoding: int) -> bytes:
    return struct.pack(">HHHHi", x, y, w, h, encoding)


def compact(length: int) -> bytes:
    out = bytearray([length & 0x7F])
    if length > 0x7F:
        out[0] |= 0x80
        out.append((length >> 7) & 0x7F)
        if length > 0x3FFF:
            out[1] |= 0x80
            out.append(length >> 14)
    return bytes(out)


def flushed(stream: Any, data: bytes) -> bytes:
    return stream.compress(data) + stream.flush(zlib.Z_SYNC_FLUSH)


def gradient_filter(pixels: bytes, width: int, height: int) -> bytes:
    """Tight's gradient filter as a server applies it (RFB: TightEncoding, gradient filter)."""
    def at(x: int, y: int, channel: int) -> int:
        return pixels[(y * width + x) * 3 + channel] if x >= 0 and y >= 0 else 0

    out = bytearray()
    for y in range(height):
        for x in range(width):
            for c in range(3):
                predicted = min(max(at(x - 1, y, c) + at(x, y - 1, c) - at(x - 1, y - 1, c), 0), 255)
                out.append((at(x, y, c) - predicted) & 0xFF)
    return bytes(out)


def smooth(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height))
    for y in range(height):
        for x in range(width):
            image.putpixel((x, y), (x * 7 % 256, 255 - y * 5, (x * y) % 256))
    return image


def test_tight_gradient_filter_on_every_stream_with_compact_lengths_of_three_sizes() -> None:
    client = viewer(64, 48)
    image = smooth(64, 48)
    compressors = [zlib.compressobj() for _ in range(4)]
    lengths = []
    for stream, (w, h) in enumerate([(4, 3), (20, 10), (64, 48), (30, 30)]):
        part = image.crop((0, 0, w, h))
        data = flushed(compressors[stream], gradient_filter(part.tobytes(), w, h))
        lengths.append(len(data))
        play(client, header(0, 0, w, h, 7) + bytes([(4 | stream) << 4, 2]) + compact(len(data)) + data)
    assert min(lengths) < 128 < max(lengths), f"compact lengths of one and two bytes: {lengths}"
    assert client.decoded["Tight gradient"] == 4
    check_same_screen(image, client.framebuffer.image, "the gradient-filtered Tight rectangles")
    assert len(compact(70_000)) == 3
    assert tight.compact_length(iter_reader(compact(70_000))) == 70_000


def iter_reader(data: bytes) -> Callable[[int, str], bytes]:
    buffer = bytearray(data)

    def read(count: int, what: str) -> bytes:
        chunk = bytes(buffer[:count])
        del buffer[:count]
        return chunk

    return read


def test_tight_stream_reset_is_obeyed_and_a_missed_reset_is_named() -> None:
    client = viewer(16, 16)
    first, second = zlib.compressobj(), zlib.compressobj()
    red = bytes([255, 0, 0]) * 64
    blue = bytes([0, 0, 255]) * 64
    play(client, header(0, 0, 8, 8, 7) + b"\x00" + compact(len(d := flushed(first, red))) + d)
    play(client, header(8, 8, 8, 8, 7) + b"\x01" + compact(len(d := flushed(second, blue))) + d)
    assert client.framebuffer.image.getpixel((0, 0)) == (255, 0, 0)
    assert client.framebuffer.image.getpixel((15, 15)) == (0, 0, 255)
    fresh = zlib.compressobj()
    with pytest.raises(VncProtocolError, match=r"broken Tight rectangle.*zlib stream 0 is corrupt.*reset missed"):
        play(client, header(0, 0, 8, 8, 7) + b"\x00" + compact(len(d := flushed(fresh, blue))) + d)


def test_tight_fill_mono_palette_and_small_uncompressed_rectangles() -> None:
    client = viewer(16, 4)
    mono = bytes([0b10100000, 0b01000000])  # a 3x2 rectangle, rows padded to a byte
    play(client,
         header(0, 0, 16, 4, 7) + bytes([0x80, 10, 20, 30]),
         header(0, 0, 3, 2, 7) + bytes([0x40, 1, 1]) + bytes([1, 2, 3, 4, 5, 6]) + mono,
         header(5, 0, 2, 1, 7) + bytes([0x00]) + bytes([9, 8, 7, 6, 5, 4]))
    pixels = client.framebuffer.image
    assert [pixels.getpixel((x, 0)) for x in range(3)] == [(4, 5, 6), (1, 2, 3), (4, 5, 6)]
    assert [pixels.getpixel((x, 1)) for x in range(3)] == [(1, 2, 3), (4, 5, 6), (1, 2, 3)]
    assert pixels.getpixel((5, 0)) == (9, 8, 7) and pixels.getpixel((6, 0)) == (6, 5, 4)
    assert pixels.getpixel((15, 3)) == (10, 20, 30)


def test_zrle_keeps_one_stream_for_the_connection_and_decodes_long_runs() -> None:
    client = viewer(70, 5)  # two tiles: 64x5 (320 pixels) and 6x5 (30 pixels)
    stream = zlib.compressobj()
    # plain RLE: a run of 300 pixels (length bytes 255, 44) and one of 20; then a solid tile
    rle = bytes([128, 1, 2, 3, 255, 44, 4, 5, 6, 19]) + bytes([1, 7, 8, 9])
    first = flushed(stream, rle)
    play(client, header(0, 0, 70, 5, 16) + struct.pack(">I", len(first)) + first)
    image = client.framebuffer.image
    assert [image.getpixel(p) for p in ((0, 0), (43, 4), (44, 4), (64, 0))] == [
        (3, 2, 1), (3, 2, 1), (6, 5, 4), (9, 8, 7)]
    # palette RLE on the same zlib stream (a fresh stream would have no zlib header and fail):
    # index 1 for 300 pixels, index 0 for 20 single pixels; then a packed two-colour tile
    runs = bytes([130, 10, 20, 30, 40, 50, 60, 0x81, 255, 44]) + bytes(20)
    packed = bytes([2, 70, 80, 90, 100, 110, 120]) + bytes([0b01010100] * 5)
    second = flushed(stream, runs + packed)
    play(client, header(0, 0, 70, 5, 16) + struct.pack(">I", len(second)) + second)
    image = client.framebuffer.image
    assert [image.getpixel(p) for p in ((0, 0), (43, 4), (44, 4), (64, 0), (65, 4))] == [
        (60, 50, 40), (60, 50, 40), (30, 20, 10), (90, 80, 70), (120, 110, 100)]
    assert client.decoded["ZRLE rle"] == 1 and client.decoded["ZRLE palette-rle"] == 1
    assert client.decoded["ZRLE packed-palette"] == 1 and client.decoded["ZRLE solid"] == 1


def test_hextile_carries_colours_over_tiles_and_draws_subrectangles() -> None:
    client = viewer(32, 16)
    tile1 = bytes([2 | 4 | 8, 0, 0, 255, 0, 255, 0, 0, 0, 1, 0x11, 0x10])  # blue, red 2x1 subrect at 1,1
    tile2 = bytes([8 | 16, 1, 0, 255, 0, 0, 0, 0x00])  # same blue background, a green pixel at 0,0
    play(client, header(0, 0, 32, 16, 5) + tile1 + tile2)
    image = client.framebuffer.image
    assert image.getpixel((0, 0)) == (255, 0, 0) and image.getpixel((1, 1)) == (0, 0, 255)
    assert image.getpixel((2, 1)) == (0, 0, 255) and image.getpixel((3, 1)) == (255, 0, 0)
    assert image.getpixel((16, 0)) == (0, 255, 0) and image.getpixel((17, 0)) == (255, 0, 0)


def test_last_rect_ends_an_update_of_unknown_length() -> None:
    client = viewer(4, 4)
    update = play(client, header(0, 0, 4, 4, 7) + bytes([0x80, 1, 2, 3]), header(0, 0, 0, 0, -224), count=0xFFFF)
    assert [encoding_name(r[4]) for r in update.rects] == ["Tight"]
    assert update.encodings == ["Tight"]


@pytest.mark.parametrize(("rect", "pattern"), [
    (header(0, 0, 16, 16, 5) + bytes([8, 1, 0x00]), "Hextile tile 1 has no background"),
    (header(0, 0, 8, 8, 5) + bytes([2 | 4 | 8, 0, 0, 0, 0, 1, 1, 1, 0, 1, 0x70, 0x20]), "overflows the 8x8 tile"),
    (header(0, 0, 4, 4, 7) + bytes([0xB0]), "compression 11: no Tight compression type"),
    (header(0, 0, 4, 4, 7) + bytes([0x40, 3]), "filter 3"),
    (header(0, 0, 4, 4, 7) + bytes([0x90, 3, 1, 2, 3]), "JPEG of a 4x4 Tight rectangle does not decode"),
    (header(0, 0, 4, 1, 16) + struct.pack(">I", 4) + b"nope", "ZRLE zlib stream is corrupt"),
])
def test_malformed_rectangles_name_the_broken_rule(rect: bytes, pattern: str) -> None:
    with pytest.raises(VncProtocolError, match=rf"broken (Hextile|Tight|ZRLE) rectangle: .*{pattern}.*Fix:"):
        play(viewer(16, 16), rect)


def test_a_zrle_run_past_its_tile_is_named() -> None:
    data = zlib.compress(bytes([128, 1, 2, 3, 20]))
    with pytest.raises(VncProtocolError, match="runs of tile 1 cover 63 bytes of pixels where the tile has 12"):
        play(viewer(4, 1), header(0, 0, 4, 1, 16) + struct.pack(">I", len(data)) + data)


def test_an_encoding_not_asked_for_is_refused() -> None:
    with pytest.raises(VncProtocolError, match=r"used encoding Tight \(7\).*asked only for ZRLE, Raw"):
        play(viewer(4, 4, "ZRLE,Raw"), header(0, 0, 4, 4, 7) + bytes([0x80, 1, 2, 3]))


@pytest.mark.parametrize(("options", "pattern"), [
    ({"names": "Tight,RRE"}, "'RRE' is not an encoding VncKit decodes"),
    ({"names": ""}, "No encoding was given"),
    ({"jpeg_quality": 10}, "'10' is not a jpeg quality"),
])
def test_bad_encoding_options_are_named(options: dict, pattern: str) -> None:
    with pytest.raises(VncError, match=pattern):
        choose_encodings(**options)


# -- the WebSocket subprotocol ----------------------------------------------------------------------
def one_upgrade(answer: str | None) -> tuple[str, threading.Thread]:
    """A WebSocket server for one upgrade: it answers ``Sec-WebSocket-Protocol: answer`` (or none)
    and then sends the RFB version in a binary frame."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)
    port = listener.getsockname()[1]

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            with conn:
                conn.settimeout(5)
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(4096)
                key = next(line.split(b":", 1)[1].strip() for line in request.split(b"\r\n")
                           if line.lower().startswith(b"sec-websocket-key:"))
                accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
                chosen = f"Sec-WebSocket-Protocol: {answer}\r\n" if answer else ""
                conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                             b"Sec-WebSocket-Accept: " + accept + b"\r\n" + chosen.encode() + b"\r\n")
                conn.sendall(b"\x82\x0cRFB 003.008\n")
                conn.recv(4096)

    worker = threading.Thread(target=serve, daemon=True)
    worker.start()
    return f"ws://127.0.0.1:{port}/websockify", worker


@pytest.mark.parametrize(("offer", "answer", "pattern"), [
    ("binary", "base64", "chose subprotocol 'base64', which was not offered: it was offered only 'binary'"),
    ("binary", None, "chose no subprotocol: it was offered 'binary'.*browsers drop"),
    (None, "binary", "chose subprotocol 'binary' although none was offered"),
])
def test_a_subprotocol_the_viewer_did_not_offer_fails_clearly(offer: str | None, answer: str | None,
                                                             pattern: str) -> None:
    url, worker = one_upgrade(answer)
    vnc = VncKit(timeout="2s")
    try:
        with pytest.raises(NotRfb, match=rf"The VNC WebSocket at ws://.* {pattern}.*Fix:"):
            vnc.connect_to_vnc(url, subprotocol=offer)
    finally:
        vnc.close_all_vnc_connections()
        worker.join(5)


@pytest.mark.parametrize(("offer", "bridge_protocols"), [("binary", ("binary",)), (None, ())])
def test_a_server_that_chooses_what_was_offered_is_accepted(servers: Servers, offer: str | None,
                                                            bridge_protocols: tuple[str, ...]) -> None:
    port = int(servers.xvnc.rsplit(":", 1)[1])
    vnc = VncKit(timeout="5s")
    try:
        with WsBridge(port, subprotocols=bridge_protocols) as bridge:
            vnc.connect_to_vnc(bridge.url, subprotocol=offer)
            assert vnc.get_desktop_size() == (WIDTH, HEIGHT)
            assert vnc.get_used_encodings("contains", "Tight")
    finally:
        vnc.close_all_vnc_connections()


def test_kit_installs_x11vnc() -> None:
    kit = (Path(__file__).resolve().parents[2] / "kit").read_text()
    assert "x11vnc" in kit.split("APT_PACKAGES=(", 1)[1].split(")", 1)[0]


def test_screens_should_match_compares_two_connections(servers: Servers, monkeypatch: pytest.MonkeyPatch) -> None:
    vnc = VncKit(timeout="5s")
    try:
        vnc.connect_to_vnc(servers.x11vnc, encodings="Raw", alias="raw")
        vnc.connect_to_vnc(servers.x11vnc, encodings="ZRLE", alias="zrle")
        vnc.screens_should_match("raw", "zrle")
        monkeypatch.setattr(zrle, "bgr", swap_red_blue(zrle.bgr))
        vnc.connect_to_vnc(servers.x11vnc, encodings="ZRLE", alias="broken")
        with pytest.raises(FramesDiffer, match=r"The screen of 'broken' \(ZRLE, .*\) compared with 'raw' does not "
                                               r"show the same screen: \d+ of 120000 pixels differ"):
            vnc.screens_should_match("raw", "broken")
    finally:
        vnc.close_all_vnc_connections()
