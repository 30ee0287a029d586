"""SPDY/3.1 framing, as Kubernetes streams use it (client-go's SPDY round tripper, moby/spdystream).

A frame is a control frame (bit 0 set: version 3, type, 8-bit flags, 24-bit length) or a data frame
(31-bit stream id, flags, length). Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are a count of
name/value pairs, each a 32-bit length and bytes, compressed with zlib using the SPDY/3 dictionary;
each direction of a connection is ONE zlib stream, flushed (Z_SYNC_FLUSH) after every block.
spdystream does no flow control: SETTINGS and WINDOW_UPDATE are read and ignored.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

SYN_STREAM, SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE = 1, 2, 3, 4, 6, 7, 8, 9
FLAG_FIN = 0x01
RST_PROTOCOL_ERROR, RST_CANCEL = 1, 5
MAX_DATA = 0xFFFFFF

# The SPDY/3 header dictionary (draft-mbelshe-httpbis-spdy-00, 2.6.10.1): length-prefixed words, then text.
_WORDS = ("options", "head", "post", "put", "delete", "trace", "accept", "accept-charset", "accept-encoding",
          "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control",
          "connection", "content-base", "content-encoding", "content-language", "content-length",
          "content-location", "content-md5", "content-range", "content-type", "date", "etag", "expect",
          "expires", "from", "host", "if-match", "if-modified-since", "if-none-match", "if-range",
          "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma",
          "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after", "server", "te",
          "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via", "warning",
          "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
          "set-cookie", "keep-alive", "origin")
_TEXT = ("100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
         "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
         "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
         "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
         "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
         "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")
DICTIONARY = b"".join(struct.pack(">I", len(w)) + w.encode() for w in _WORDS) + _TEXT.encode()
assert zlib.adler32(DICTIONARY) == 3821447106, "the SPDY/3 dictionary is corrupt"

Headers = dict[str, str]


class SpdyError(ValueError):
    """A frame that breaks the protocol; the connection is closed."""


@dataclass
class Frame:
    control: bool
    kind: int  # control frame type; 0 for a data frame
    flags: int
    stream_id: int = 0
    payload: bytes = b""
    headers: Headers = field(default_factory=dict)
    value: int = 0  # RST_STREAM status, PING id, GOAWAY last stream id

    @property
    def fin(self) -> bool:
        return bool(self.flags & FLAG_FIN)


class Codec:
    """Frames in and out of one connection (each side keeps its own zlib stream)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.inflate = zlib.decompressobj(zdict=DICTIONARY)
        self.deflate = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY,
                                        zdict=DICTIONARY)

    # -- reading ---------------------------------------------------------------------------------------
    def feed(self, data: bytes) -> Iterator[Frame]:
        self.buffer += data
        while len(self.buffer) >= 8:
            length = int.from_bytes(self.buffer[5:8], "big")
            if len(self.buffer) < 8 + length:
                return
            head, body = bytes(self.buffer[:8]), bytes(self.buffer[8:8 + length])
            del self.buffer[:8 + length]
            yield self._frame(head, body)

    def _frame(self, head: bytes, body: bytes) -> Frame:
        first, flags = struct.unpack(">I", head[:4])[0], head[4]
        if not first & 0x80000000:
            return Frame(False, 0, flags, first & 0x7FFFFFFF, body)
        version, kind = first >> 16 & 0x7FFF, first & 0xFFFF
        if version != 3:
            raise SpdyError(f"SPDY version {version} is not served (only 3)")
        frame = Frame(True, kind, flags, payload=body)
        if kind in (SYN_STREAM, SYN_REPLY, HEADERS, RST_STREAM, WINDOW_UPDATE):
            frame.stream_id = struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF
        if kind == SYN_STREAM:
            frame.headers = self._headers(body[10:])
        elif kind in (SYN_REPLY, HEADERS):
            frame.headers = self._headers(body[4:])
        elif kind == RST_STREAM:
            frame.value = struct.unpack(">I", body[4:8])[0]
        elif kind in (PING, GOAWAY):
            frame.value = struct.unpack(">I", body[:4])[0] & 0x7FFFFFFF
        return frame

    def _headers(self, block: bytes) -> Headers:
        data = self.inflate.decompress(block)
        count, at, headers = struct.unpack(">I", data[:4])[0], 4, {}
        for _ in range(count):
            size = struct.unpack(">I", data[at:at + 4])[0]
            name = data[at + 4:at + 4 + size].decode().lower()
            at += 4 + size
            size = struct.unpack(">I", data[at:at + 4])[0]
            headers[name] = data[at + 4:at + 4 + size].decode()  # several values are NUL-separated
            at += 4 + size
        return headers

    # -- writing ---------------------------------------------------------------------------------------
    def _block(self, headers: Headers) -> bytes:
        raw = struct.pack(">I", len(headers)) + b"".join(
            struct.pack(">I", len(k)) + k.lower().encode() + struct.pack(">I", len(v.encode())) + v.encode()
            for k, v in headers.items())
        return self.deflate.compress(raw) + self.deflate.flush(zlib.Z_SYNC_FLUSH)

    @staticmethod
    def control(kind: int, flags: int, payload: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | 3, kind, flags << 24 | len(payload)) + payload

    def syn_stream(self, stream_id: int, headers: Headers, fin: bool = False) -> bytes:
        body = struct.pack(">IIBB", stream_id, 0, 0, 0) + self._block(headers)
        return self.control(SYN_STREAM, FLAG_FIN if fin else 0, body)

    def syn_reply(self, stream_id: int, headers: Headers | None = None, fin: bool = False) -> bytes:
        body = struct.pack(">I", stream_id) + self._block(headers or {})
        return self.control(SYN_REPLY, FLAG_FIN if fin else 0, body)

    @classmethod
    def data(cls, stream_id: int, data: bytes, fin: bool = False) -> bytes:
        chunks = [data[i:i + MAX_DATA] for i in range(0, len(data), MAX_DATA)] or [b""]
        return b"".join(struct.pack(">II", stream_id, (FLAG_FIN if fin and n == len(chunks) - 1 else 0) << 24
                                    | len(chunk)) + chunk for n, chunk in enumerate(chunks))

    @classmethod
    def rst_stream(cls, stream_id: int, status: int = RST_CANCEL) -> bytes:
        return cls.control(RST_STREAM, 0, struct.pack(">II", stream_id, status))

    @classmethod
    def ping(cls, ping_id: int) -> bytes:
        return cls.control(PING, 0, struct.pack(">I", ping_id))

    @classmethod
    def goaway(cls, last_stream: int, status: int = 0) -> bytes:
        return cls.control(GOAWAY, 0, struct.pack(">II", last_stream, status))
