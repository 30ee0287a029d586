"""A small RFB (VNC) client: handshake 3.3/3.7/3.8, security None and VNC authentication,
Raw and CopyRect (plus the DesktopSize pseudo-encoding), key and pointer events.

Written for tests: every read has a deadline, every failure says where in the protocol it
happened, and timings of each phase are kept.
"""

from __future__ import annotations

import re
import struct
import time
from collections import Counter
from dataclasses import dataclass, field

from VncKit.des import vnc_auth_response
from VncKit.errors import NotRfb, VncAuthFailed, VncError, VncProtocolError
from VncKit.framebuffer import Framebuffer, Region
from VncKit.reader import Reader
from VncKit.transport import Target, Transport, open_transport

SECURITY_NAMES = {0: "Invalid", 1: "None", 2: "VncAuth", 5: "RA2", 6: "RA2ne", 16: "Tight", 17: "Ultra",
                  18: "TLS", 19: "VeNCrypt", 20: "SASL", 21: "MD5", 22: "xvp", 30: "ARD", 113: "MSLogonII"}
ENCODING_RAW = 0
ENCODING_COPYRECT = 1
ENCODING_DESKTOP_SIZE = -223
ENCODINGS = (ENCODING_RAW, ENCODING_COPYRECT, ENCODING_DESKTOP_SIZE)
ENCODING_NAMES = {ENCODING_RAW: "Raw", ENCODING_COPYRECT: "CopyRect", ENCODING_DESKTOP_SIZE: "DesktopSize"}
# VncKit asks every server for this format: 32 bits per pixel, depth 24, little endian, 0x00RRGGBB.
CLIENT_PIXEL_FORMAT = struct.pack(">BBBBHHHBBB3x", 32, 24, 0, 1, 255, 255, 255, 16, 8, 0)
MAX_STRING = 1 << 20
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

    def covers(self, region: Region) -> bool:
        """True when the pixel rectangles cover at least the region's area (a full refresh of it)."""
        area = 0
        for x, y, w, h, encoding in self.rects:
            if encoding in (ENCODING_RAW, ENCODING_COPYRECT):
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
                 shared: bool = True, max_version: str = "3.8") -> None:
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
        self.framebuffer = Framebuffer(1, 1)
        self.timings = Timings()
        self.bytes_out = 0
        self.closed = False
        self.bells = 0
        self.cut_text = ""
        self.rects_by_encoding: Counter[str] = Counter()
        self.cleanup_key: str | None = None

    @property
    def description(self) -> str:
        return self.target.display

    def reopen(self) -> RfbClient:
        """A new, not yet connected client to the same server with the same password and options."""
        return RfbClient(self.target, self._password, self.timeout, self.shared,
                         f"{self.max_version[0]}.{self.max_version[1]}")

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
            self._send(struct.pack(f">BxH{len(ENCODINGS)}i", 2, len(ENCODINGS), *ENCODINGS))
        except BaseException:
            self.close()
            raise
        self.timings.handshake_done = time.monotonic()
        return self

    def _read(self, count: int, deadline: float, what: str) -> bytes:
        assert self.reader is not None
        return self.reader.read(count, deadline, what)

    def _send(self, data: bytes) -> None:
        if self.transport is None or self.closed:
            raise VncError(f"The VNC connection to {self.description} is closed",
                           fix="connect again with 'Connect To VNC'")
        try:
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
        self.framebuffer = Framebuffer(max(self.width, 1), max(self.height, 1))

    # -- client messages -------------------------------------------------------------------
    def request_update(self, incremental: bool, region: Region | None = None) -> None:
        region = region or Region(0, 0, self.width, self.height)
        self._send(struct.pack(">BBHHHH", 3, 1 if incremental else 0, region.x, region.y, region.width,
                               region.height))

    def key(self, keysym: int, down: bool) -> None:
        self._send(struct.pack(">BBxxI", 4, 1 if down else 0, keysym))

    def pointer(self, x: int, y: int, buttons: int = 0) -> None:
        self._send(struct.pack(">BBHH", 5, buttons, x, y))

    # -- server messages -------------------------------------------------------------------
    def next_message(self, deadline: float) -> Update | str | None:
        """Wait until ``deadline`` for the next server message and read it whole.

        Returns an :class:`Update`, the name of another message, or ``None`` when nothing
        started to arrive before the deadline. Once a message has started, the rest of it must
        arrive within the connection's timeout, else the read fails (stall or close).
        """
        if self.reader is None or self.closed:
            raise VncError(f"The VNC connection to {self.description} is closed",
                           fix="connect again with 'Connect To VNC'")
        if not self.reader.wait_for_data(deadline):
            return None
        started = time.monotonic()
        body_deadline = max(deadline, started + self.timeout)
        before = self.reader.bytes_in - len(self.reader.buffer)
        (kind,) = self._read(1, body_deadline, "a server message type")
        if kind == 0:
            update = self._read_update(body_deadline)
            update.started = started
            update.finished = time.monotonic()
            update.nbytes = self.reader.bytes_in - len(self.reader.buffer) - before
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
        for index in range(count):
            x, y, w, h, encoding = struct.unpack(">HHHHi", self._read(12, deadline, f"rectangle {index + 1} header"))
            update.rects.append((x, y, w, h, encoding))
            self.rects_by_encoding[ENCODING_NAMES.get(encoding, str(encoding))] += 1
            if encoding == ENCODING_RAW:
                self._check_fits(x, y, w, h)
                data = self._read(w * h * 4, deadline, f"the pixels of a {w}x{h} Raw rectangle")
                if w and h:
                    self.framebuffer.put_bgrx(x, y, w, h, data)
            elif encoding == ENCODING_COPYRECT:
                self._check_fits(x, y, w, h)
                src_x, src_y = struct.unpack(">HH", self._read(4, deadline, "a CopyRect source"))
                self._check_fits(src_x, src_y, w, h)
                self.framebuffer.copy_rect(src_x, src_y, x, y, w, h)
            elif encoding == ENCODING_DESKTOP_SIZE:
                self.width, self.height = w, h
                self.framebuffer.resize(max(w, 1), max(h, 1))
            else:
                raise VncProtocolError(f"The VNC server at {self.description} used encoding {encoding}",
                                       "VncKit asked only for Raw, CopyRect and DesktopSize",
                                       "this is a server bug; report it with the server version")
        return update

    def _check_fits(self, x: int, y: int, w: int, h: int) -> None:
        if x + w > self.width or y + h > self.height:
            raise VncProtocolError(f"The VNC server at {self.description} sent a rectangle outside the desktop",
                                   f"{w}x{h} at {x},{y} on a {self.width}x{self.height} desktop",
                                   "the stream is out of step; reconnect")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.transport is not None:
            self.transport.close()


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
