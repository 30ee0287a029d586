"""A small RFB (VNC) client: handshake 3.3/3.7/3.8, security None and VNC authentication,
Raw, CopyRect, Hextile, ZRLE and Tight (plus DesktopSize, LastRect, JPEG quality and compression
level pseudo-encodings), key and pointer events.

Like a browser's viewer it reads the server all the time and keeps an incremental
FramebufferUpdateRequest pending: a reader thread decodes each update as it arrives and sends the
next request at once (x11vnc holds a viewer's input back for seconds while an update it sent is
unanswered). Callers still see the screen one update at a time: an update's pixels reach
:attr:`RfbClient.framebuffer` when :meth:`RfbClient.next_message` hands the update over.

Written for tests: every read has a deadline, every failure says where in the protocol it
happened, and timings of each phase are kept.
"""

from __future__ import annotations

import contextlib
import queue
import re
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from PIL import Image

from VncKit import encodings as enc
from VncKit.des import vnc_auth_response
from VncKit.encodings.base import Canvas, MalformedRect, Rect
from VncKit.encodings.hextile import decode_hextile
from VncKit.encodings.tight import TightDecoder
from VncKit.encodings.zrle import ZrleDecoder
from VncKit.errors import NotRfb, VncAuthFailed, VncError, VncProtocolError
from VncKit.framebuffer import Framebuffer, Region
from VncKit.reader import Reader
from VncKit.transport import Target, Transport, open_transport

SECURITY_NAMES = {0: "Invalid", 1: "None", 2: "VncAuth", 5: "RA2", 6: "RA2ne", 16: "Tight", 17: "Ultra",
                  18: "TLS", 19: "VeNCrypt", 20: "SASL", 21: "MD5", 22: "xvp", 30: "ARD", 113: "MSLogonII"}
ENCODING_RAW = enc.RAW
ENCODING_COPYRECT = enc.COPYRECT
ENCODING_DESKTOP_SIZE = enc.DESKTOP_SIZE
# VncKit asks every server for this format: 32 bits per pixel, depth 24, little endian, 0x00RRGGBB.
CLIENT_PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
MAX_STRING = 1 << 20
MAX_BACKLOG = 256  # updates read but not handed over; beyond, they are merged into one full-screen update
_VERSION = re.compile(rb"RFB (\d{3})\.(\d{3})\n")


def security_name(code: int) -> str:
    return SECURITY_NAMES.get(code, str(code))


def parse_pixel_format(raw: bytes) -> dict[str, int | bool]:
    bpp, depth, big, true_colour, rmax, gmax, bmax, rshift, gshift, bshift = struct.unpack(">BBBBHHHBBB3x", raw)
    return {"bits_per_pixel": bpp, "depth": depth, "big_endian": bool(big), "true_colour": bool(true_colour),
            "red_max": rmax, "green_max": gmax, "blue_max": bmax,
            "red_shift": rshift, "green_shift": gshift, "blue_shift": bshift}


@dataclass
class Update:
    """One FramebufferUpdate: its rectangles, its size on the wire and when it was received."""

    rects: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    nbytes: int = 0
    started: float = 0.0
    finished: float = 0.0
    # the pixels of each rectangle's box once decoded, applied in order; a size is a DesktopSize
    patches: list[tuple[int, int, Image.Image] | tuple[int, int]] = field(default_factory=list, repr=False)

    @property
    def encodings(self) -> list[str]:
        """The pixel encodings of the update's rectangles, each named once (``Tight``, ``CopyRect``...)."""
        return list(dict.fromkeys(enc.encoding_name(code) for *_, code in self.rects if code >= 0))

    def covers(self, region: Region) -> bool:
        """True when the pixel rectangles cover at least the region's area (a full refresh of it)."""
        area = 0
        for x, y, w, h, encoding in self.rects:
            if encoding >= 0:
                left, top = max(x, region.x), max(y, region.y)
                right, bottom = min(x + w, region.x + region.width), min(y + h, region.y + region.height)
                if right > left and bottom > top:
                    area += (right - left) * (bottom - top)
        return area >= region.area


@dataclass
class Timings:
    started: float = 0.0
    transport_open: float = 0.0
    handshake_done: float = 0.0

    @property
    def handshake(self) -> float:
        return self.handshake_done - self.started


class RfbClient:
    """One RFB connection. Create, then :meth:`connect` (which runs the whole handshake)."""

    def __init__(self, target: Target, password: str | None = None, timeout: float = 10.0,
                 shared: bool = True, max_version: str = "3.8", encodings: list[int] | None = None,
                 keep_request_pending: bool = True) -> None:
        """``encodings`` is the SetEncodings list (default: what a browser asks for, see
        :func:`VncKit.encodings.choose_encodings`); ``keep_request_pending=False`` sends requests only
        when asked to (a viewer that does not behave like a browser)."""
        self.target = target
        self._password = password
        self.timeout = timeout
        self.shared = shared
        self.max_version = _version_tuple(max_version)
        self.transport: Transport | None = None
        self.reader: Reader | None = None
        self.server_version = ""
        self.version = ""
        self.security_types: list[int] = []
        self.security = 0
        self.width = 0
        self.height = 0
        self.server_pixel_format: dict[str, int | bool] = {}
        self.name = ""
        self.framebuffer = Framebuffer(1, 1)  # the screen as of the last update handed over
        self.live = Framebuffer(1, 1)  # the screen as decoded so far (ahead of framebuffer)
        self.live_size = (0, 0)
        self.timings = Timings()
        self.bytes_out = 0
        self.closed = False
        self.bells = 0
        self.cut_text = ""
        self.rects_by_encoding: Counter[str] = Counter()
        self.decoded: Counter[str] = Counter()  # how the rectangles were coded: "Tight jpeg", "ZRLE rle"...
        self.encodings = list(encodings) if encodings is not None else enc.choose_encodings()
        self.keep_request_pending = keep_request_pending
        self.request_pending = False
        self._tight = TightDecoder()
        self._zrle = ZrleDecoder()
        self._send_lock = threading.Lock()
        self._inbox: queue.Queue[Update | str | BaseException] = queue.Queue()
        self._failure: BaseException | None = None
        self._pump: threading.Thread | None = None
        self._message_started: float | None = None  # set by the reader thread while it reads a message
        self.cleanup_key: str | None = None

    @property
    def description(self) -> str:
        return self.target.display

    def reopen(self) -> RfbClient:
        """A new, not yet connected client to the same server with the same password and options."""
        return RfbClient(self.target, self._password, self.timeout, self.shared,
                         f"{self.max_version[0]}.{self.max_version[1]}", self.encodings, self.keep_request_pending)

    @property
    def encoding_names(self) -> list[str]:
        """The encodings this client asked for, in order of preference, pseudo-encodings included."""
        return [enc.encoding_name(code) for code in self.encodings]

    @property
    def preferred_encoding(self) -> str:
        """The first pixel encoding asked for other than CopyRect: the one a server uses for most pixels."""
        pixel = [code for code in self.encodings if code > enc.COPYRECT or code == enc.RAW]
        return enc.encoding_name((pixel or [enc.RAW])[0])

    # -- handshake -------------------------------------------------------------------------
    def connect(self) -> RfbClient:
        self.timings.started = time.monotonic()
        deadline = self.timings.started + self.timeout
        self.transport = open_transport(self.target, self.timeout)
        self.timings.transport_open = time.monotonic()
        self.reader = Reader(self.transport, self.timeout)
        try:
            self._negotiate_version(deadline)
            self._negotiate_security(deadline)
            self._send(struct.pack(">B", 1 if self.shared else 0))
            self._server_init(deadline)
            self._send(struct.pack(">Bxxx", 0) + CLIENT_PIXEL_FORMAT)
            self._send(struct.pack(f">BxH{len(self.encodings)}i", 2, len(self.encodings), *self.encodings))
        except BaseException:
            self.close()
            raise
        self.timings.handshake_done = time.monotonic()
        if self.keep_request_pending:
            self._pump = threading.Thread(target=self._run_pump, name=f"vnc-reader {self.description}", daemon=True)
            self._pump.start()
        return self

    def _read(self, count: int, deadline: float, what: str) -> bytes:
        assert self.reader is not None
        return self.reader.read(count, deadline, what)

    def _send(self, data: bytes) -> None:
        if self.transport is None or self.closed:
            raise VncError(f"The VNC connection to {self.description} is closed",
                           fix="connect again with 'Connect To VNC'")
        try:
            with self._send_lock:
                self.transport.send(data, self.timeout)
        except TimeoutError:
            raise VncError(f"Sending to the VNC server at {self.description} timed out",
                           f"the server took no data for {self.timeout:g} s",
                           "the server is stalled or the link is cut") from None
        self.bytes_out += len(data)

    def _read_string(self, deadline: float, what: str) -> str:
        (length,) = struct.unpack(">I", self._read(4, deadline, f"the length of {what}"))
        if length > MAX_STRING:
            raise NotRfb(f"The server at {self.description} sent a {length}-byte {what}",
                         "that is not a plausible RFB string; the peer is probably not a VNC server",
                         "check that the address points at a VNC server")
        return self._read(length, deadline, what).decode("utf-8", errors="replace")

    def _negotiate_version(self, deadline: float) -> None:
        head = self._read(4, deadline, "the RFB version string")
        if head != b"RFB ":
            raise NotRfb(f"The server at {self.description} does not speak RFB",
                         f"it began with {head!r} instead of the version string 'RFB 003.008'",
                         "check that the address points at a VNC server (not HTTP, SSH...)")
        line = head + self._read(8, deadline, "the RFB version string")
        match = _VERSION.fullmatch(line)
        if not match:
            raise NotRfb(f"The server at {self.description} sent a malformed RFB version", f"{line!r}",
                         "check that the address points at a VNC server")
        major, minor = int(match.group(1)), int(match.group(2))
        self.server_version = f"{major}.{minor}"
        offered = _effective_version(major, minor)
        if offered is None:
            raise VncProtocolError(f"The server at {self.description} speaks RFB {major}.{minor}",
                                   "VncKit speaks RFB 3.3, 3.7 and 3.8", "use a server that speaks RFB 3.x")
        chosen = min(offered, self.max_version)
        self.version = f"{chosen[0]}.{chosen[1]}"
        self._send(f"RFB {chosen[0]:03d}.{chosen[1]:03d}\n".encode("ascii"))

    def _negotiate_security(self, deadline: float) -> None:
        if self.version == "3.3":
            (code,) = struct.unpack(">I", self._read(4, deadline, "the security type (RFB 3.3)"))
            if code == 0:
                reason = self._read_string(deadline, "the connection failure reason")
                raise VncProtocolError(f"The VNC server at {self.description} refused the connection",
                                       f"it said: {reason}", "read the server's log")
            self.security_types = [code]
            self.security = code
            if code == 2 and self._password is None:
                raise VncAuthFailed(f"The VNC server at {self.description} requires a password",
                                    "it asks for VNC authentication", "pass password= to 'Connect To VNC'")
        else:
            (count,) = struct.unpack(">B", self._read(1, deadline, "the number of security types"))
            if count == 0:
                reason = self._read_string(deadline, "the connection failure reason")
                raise VncProtocolError(f"The VNC server at {self.description} refused the connection",
                                       f"it said: {reason}", "read the server's log")
            self.security_types = list(self._read(count, deadline, "the list of security types"))
            self.security = self._choose_security()
            self._send(struct.pack(">B", self.security))
        if self.security == 2:
            challenge = self._read(16, deadline, "the VNC authentication challenge")
            self._send(vnc_auth_response(self._password or "", challenge))
        elif self.security != 1:
            raise VncProtocolError(f"The VNC server at {self.description} wants security type "
                                   f"{security_name(self.security)}", "VncKit supports only None and VncAuth",
                                   "start the server with -SecurityTypes None or VncAuth")
        if self.security == 2 or self.version == "3.8":
            (result,) = struct.unpack(">I", self._read(4, deadline, "the security result"))
            if result != 0:
                reason = self._read_string(deadline, "the failure reason") if self.version == "3.8" else ""
                self._fail_security(result, reason)

    def _choose_security(self) -> int:
        offered = ", ".join(security_name(t) for t in self.security_types)
        if self._password is not None and 2 in self.security_types:
            return 2
        if 1 in self.security_types:
            return 1
        if 2 in self.security_types:
            raise VncAuthFailed(f"The VNC server at {self.description} requires a password",
                                f"it offers only {offered}", "pass password= to 'Connect To VNC'")
        raise VncProtocolError(f"The VNC server at {self.description} offers no security type VncKit speaks",
                               f"offered: {offered}; VncKit speaks None and VncAuth",
                               "start the server with -SecurityTypes None or VncAuth")

    def _fail_security(self, result: int, reason: str) -> None:
        said = f"the server said: {reason}" if reason else f"security result {result}"
        if self.security == 2:
            blocked = any(word in reason.lower() for word in ("too many", "blacklist", "try again later"))
            fix = ("the server blocks this address after repeated failures: wait for its block to end "
                   "(TigerVNC: BlacklistTimeout) or restart it, then use the right password" if blocked
                   else "check the password given to 'Connect To VNC'")
            raise VncAuthFailed(f"VNC authentication to {self.description} failed (wrong password?)", said, fix)
        raise VncProtocolError(f"The VNC server at {self.description} refused the connection", said,
                               "read the server's log")

    def _server_init(self, deadline: float) -> None:
        head = self._read(20, deadline, "ServerInit")
        self.width, self.height = struct.unpack(">HH", head[:4])
        self.server_pixel_format = parse_pixel_format(head[4:20])
        self.name = self._read_string(deadline, "the desktop name")
        self.start_framebuffer(self.width, self.height)

    def start_framebuffer(self, width: int, height: int) -> None:
        """A black screen of the desktop's size, before any update."""
        self.width, self.height = width, height
        self.framebuffer = Framebuffer(max(width, 1), max(height, 1))
        self.live = Framebuffer(max(width, 1), max(height, 1))
        self.live_size = (width, height)

    # -- client messages -------------------------------------------------------------------
    def request_update(self, incremental: bool, region: Region | None = None) -> None:
        region = region or Region(0, 0, self.width, self.height)
        self._send(struct.pack(">BBHHHH", 3, 1 if incremental else 0, region.x, region.y, region.width,
                               region.height))
        self.request_pending = True

    def key(self, keysym: int, down: bool) -> None:
        self._arm()
        self._send(struct.pack(">BBxxI", 4, 1 if down else 0, keysym))

    def pointer(self, x: int, y: int, buttons: int = 0) -> None:
        self._arm()
        self._send(struct.pack(">BBHH", 5, buttons, x, y))

    def _arm(self) -> None:
        """Input goes out with an update request pending, as a browser's viewer always has one."""
        if self.keep_request_pending and not self.request_pending:
            self.request_update(True)

    def drain(self) -> int:
        """Take the messages that have already arrived, without waiting for more; returns how many.

        The screen is then as recent as VncKit knows it. Without the reader thread, reading an
        update here is also what sends the next request before input goes out.
        """
        if self.reader is None or self.closed:
            raise VncError(f"The VNC connection to {self.description} is closed",
                           fix="connect again with 'Connect To VNC'")
        count = 0
        if self._pump is not None:
            while self.next_message(0.0) is not None:
                count += 1
            return count
        while self.reader.poll():
            self.next_message(time.monotonic() + self.timeout)
            count += 1
        return count

    def _run_pump(self) -> None:
        """Read the server all the time (the reader thread): each message is decoded as it arrives."""
        try:
            while not self.closed:
                message = self._read_message(time.monotonic() + 0.25)
                if message is not None:
                    self._inbox.put(message)
                if self._inbox.qsize() > MAX_BACKLOG:
                    self._merge_backlog()
        except VncError as error:
            if not self.closed:
                self._inbox.put(error)
        except (OSError, ValueError) as error:
            if not self.closed:
                self._inbox.put(VncError(f"Reading from the VNC server at {self.description} failed", str(error),
                                         "reconnect with 'Connect To VNC'"))

    def _merge_backlog(self) -> None:
        """Nobody takes the updates: keep one that brings the whole screen up to date instead."""
        kept: list[Update | str | BaseException] = []
        merged = Update()
        with contextlib.suppress(queue.Empty):
            while True:
                item = self._inbox.get_nowait()
                if isinstance(item, Update):
                    merged.rects += item.rects
                    merged.nbytes += item.nbytes
                    merged.started = merged.started or item.started
                    merged.finished = item.finished
                else:
                    kept.append(item)
        width, height = self.live_size
        merged.patches = [(width, height), (0, 0, self.live.image.copy())]
        for item in [*kept, merged]:
            self._inbox.put(item)

    def _take(self, deadline: float) -> Update | str | None:
        if self._failure is not None:
            raise self._failure
        try:
            item = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            started = self._message_started
            if started is None:
                return None
            try:  # a message has begun: it completes, or fails, within the connection's timeout
                item = self._inbox.get(timeout=max(0.0, started + self.timeout + 0.5 - time.monotonic()))
            except queue.Empty:
                return None
        if isinstance(item, BaseException):
            self._failure = item
            raise item
        return item

    def _show(self, update: Update) -> None:
        """Hand an update's pixels over to :attr:`framebuffer`."""
        for patch in update.patches:
            if len(patch) == 2:
                self.width, self.height = patch[0], patch[1]
                self.framebuffer.resize(max(self.width, 1), max(self.height, 1))
            else:
                x, y, image = patch  # type: ignore[misc]
                self.framebuffer.image.paste(image, (x, y))

    # -- server messages -------------------------------------------------------------------
    def next_message(self, deadline: float) -> Update | str | None:
        """Wait until ``deadline`` for the next server message and read it whole.

        Returns an :class:`Update` (its pixels are now in :attr:`framebuffer`), the name of another
        message, or ``None`` when none arrived before the deadline. Once a message has started, the
        rest of it must arrive within the connection's timeout, else the read fails (stall or close).
        """
        if self.reader is None or self.closed:
            raise VncError(f"The VNC connection to {self.description} is closed",
                           fix="connect again with 'Connect To VNC'")
        message = self._take(deadline) if self._pump is not None else self._read_message(deadline)
        if isinstance(message, Update):
            self._show(message)
        return message

    def _read_message(self, deadline: float) -> Update | str | None:
        assert self.reader is not None
        if self.closed:
            raise VncError(f"The VNC connection to {self.description} is closed",
                           fix="connect again with 'Connect To VNC'")
        if not self.reader.wait_for_data(deadline):
            return None
        started = time.monotonic()
        self._message_started = started
        try:
            return self._read_started_message(started, deadline)
        finally:
            self._message_started = None

    def _read_started_message(self, started: float, deadline: float) -> Update | str | None:
        assert self.reader is not None
        body_deadline = max(deadline, started + self.timeout)
        before = self.reader.bytes_in - len(self.reader.buffer)
        (kind,) = self._read(1, body_deadline, "a server message type")
        if kind == 0:
            self.request_pending = False
            update = self._read_update(body_deadline)
            update.started = started
            update.finished = time.monotonic()
            update.nbytes = self.reader.bytes_in - len(self.reader.buffer) - before
            if self.keep_request_pending:
                self.request_update(True)
            return update
        if kind == 1:
            _, _first, count = struct.unpack(">BHH", self._read(5, body_deadline, "SetColourMapEntries"))
            self._read(6 * count, body_deadline, "the colour map entries")
            return "SetColourMapEntries"
        if kind == 2:
            self.bells += 1
            return "Bell"
        if kind == 3:
            self._read(3, body_deadline, "ServerCutText padding")
            self.cut_text = self._read_string(body_deadline, "the server's clipboard text")
            return "ServerCutText"
        raise VncProtocolError(f"The VNC server at {self.description} sent unknown message type {kind}",
                               "the stream is out of step (or the peer is not a VNC server)",
                               "reconnect; if it repeats, capture the traffic and report it")

    def _read_update(self, deadline: float) -> Update:
        (count,) = struct.unpack(">xH", self._read(3, deadline, "a FramebufferUpdate header"))
        update = Update()
        index = 0
        while index < count:  # 65535 rectangles may mean "until LastRect"
            index += 1
            x, y, w, h, encoding = struct.unpack(">HHHHi", self._read(12, deadline, f"rectangle {index} header"))
            if encoding == enc.LAST_RECT:
                break
            update.rects.append((x, y, w, h, encoding))
            self.rects_by_encoding[enc.encoding_name(encoding)] += 1
            self._read_rect(x, y, w, h, encoding, deadline)
            if encoding == ENCODING_DESKTOP_SIZE:
                update.patches.append((w, h))
            elif w and h:
                update.patches.append((x, y, self.live.image.crop((x, y, x + w, y + h))))
        return update

    def _read_rect(self, x: int, y: int, w: int, h: int, encoding: int, deadline: float) -> None:
        if encoding == ENCODING_DESKTOP_SIZE:
            self.live_size = (w, h)
            self.live.resize(max(w, 1), max(h, 1))
            return
        self._check_fits(x, y, w, h)
        if encoding == ENCODING_RAW:
            data = self._read(w * h * 4, deadline, f"the pixels of a {w}x{h} Raw rectangle")
            if w and h:
                self.live.put_bgrx(x, y, w, h, data)
        elif encoding == ENCODING_COPYRECT:
            src_x, src_y = struct.unpack(">HH", self._read(4, deadline, "a CopyRect source"))
            self._check_fits(src_x, src_y, w, h)
            self.live.copy_rect(src_x, src_y, x, y, w, h)
        elif encoding in self.encodings and encoding in (enc.HEXTILE, enc.ZRLE, enc.TIGHT):
            decoder = {enc.HEXTILE: decode_hextile, enc.ZRLE: self._zrle.decode, enc.TIGHT: self._tight.decode}
            name = enc.encoding_name(encoding)

            def read(count: int, what: str) -> bytes:
                return self._read(count, deadline, f"{what} ({w}x{h} {name} rectangle at {x},{y})")

            try:
                decoder[encoding](read, Rect(x, y, w, h), Canvas(self.live, self.decoded))
            except MalformedRect as error:
                raise VncProtocolError(f"The VNC server at {self.description} sent a broken {name} rectangle",
                                       f"{w}x{h} at {x},{y}: {error}",
                                       "reconnect; if it repeats, report it with the server's version") from None
        else:
            asked = ", ".join(self.encoding_names)
            raise VncProtocolError(f"The VNC server at {self.description} used encoding "
                                   f"{enc.encoding_name(encoding)} ({encoding})",
                                   f"VncKit asked only for {asked}",
                                   "this is a server bug; report it with the server version")

    def _check_fits(self, x: int, y: int, w: int, h: int) -> None:
        width, height = self.live_size
        if x + w > width or y + h > height:
            raise VncProtocolError(f"The VNC server at {self.description} sent a rectangle outside the desktop",
                                   f"{w}x{h} at {x},{y} on a {width}x{height} desktop",
                                   "the stream is out of step; reconnect")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.close()
        if self._pump is not None and self._pump is not threading.current_thread():
            self._pump.join(2)


def _version_tuple(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"\s*(\d+)\.(\d+)\s*", str(text))
    if not match or (int(match.group(1)), int(match.group(2))) not in ((3, 3), (3, 7), (3, 8)):
        raise VncError(f"'{text}' is not an RFB version VncKit speaks", "choose 3.3, 3.7 or 3.8",
                       "pass rfb_version=3.8 (the default), 3.7 or 3.3")
    return (int(match.group(1)), int(match.group(2)))


def _effective_version(major: int, minor: int) -> tuple[int, int] | None:
    """What a server's announced version means: 3.3, 3.7 or 3.8 (RFB 6.1.1's rules for odd numbers)."""
    if major != 3:
        return (3, 8) if major > 3 else None
    if minor >= 8:
        return (3, 8)
    if minor == 7:
        return (3, 7)
    return (3, 3)
