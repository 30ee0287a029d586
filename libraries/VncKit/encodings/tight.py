"""Tight (encoding 7): fill, JPEG, and basic rectangles (copy, palette or gradient filter) over four
zlib streams that the server may reset. TPIXELs are three bytes R, G, B."""

from __future__ import annotations

import io
import zlib

from PIL import Image, UnidentifiedImageError

from VncKit.encodings.base import Canvas, MalformedRect, Read, Rect, rgb

FILL, JPEG, PNG = 8, 9, 10
COPY, PALETTE, GRADIENT = 0, 1, 2
FILTER_NAMES = {COPY: "copy", PALETTE: "palette", GRADIENT: "gradient"}
MIN_TO_COMPRESS = 12


class TightDecoder:
    """Decodes the Tight rectangles of one connection, keeping its four zlib streams."""

    def __init__(self) -> None:
        self.streams = [zlib.decompressobj() for _ in range(4)]

    def decode(self, read: Read, rect: Rect, canvas: Canvas) -> None:
        (control,) = read(1, "the compression control of a Tight rectangle")
        for stream in range(4):
            if control & (1 << stream):
                self.streams[stream] = zlib.decompressobj()
        kind = control >> 4
        if kind == FILL:
            canvas.counts["Tight fill"] += 1
            colour = rgb(read(3, "the colour of a Tight fill"))
            canvas.framebuffer.fill(rect.x, rect.y, rect.width, rect.height, colour)
        elif kind == JPEG:
            canvas.counts["Tight jpeg"] += 1
            data = read(compact_length(read), "the JPEG data of a Tight rectangle")
            canvas.framebuffer.paste(jpeg_image(data, rect), rect.x, rect.y)
        elif kind < FILL:
            self._basic(read, rect, canvas, kind)
        else:
            what = "PNG (asked only by TightPNG viewers)" if kind == PNG else "no Tight compression type"
            raise MalformedRect(f"a Tight rectangle uses compression {kind}: {what}")

    def _basic(self, read: Read, rect: Rect, canvas: Canvas, kind: int) -> None:
        stream = kind & 3
        filter_id = read(1, "the filter of a Tight rectangle")[0] if kind & 4 else COPY
        if filter_id not in FILTER_NAMES:
            raise MalformedRect(f"a Tight rectangle uses filter {filter_id}; Tight has copy (0), palette (1) and "
                                "gradient (2)")
        canvas.counts[f"Tight {FILTER_NAMES[filter_id]}"] += 1
        palette: list[tuple[int, int, int]] = []
        bits = 8
        if filter_id == PALETTE:
            colours = read(1, "the palette size of a Tight rectangle")[0] + 1
            raw = read(colours * 3, f"the {colours}-colour palette of a Tight rectangle")
            palette = [rgb(raw[i:i + 3]) for i in range(0, len(raw), 3)]
            bits = 1 if colours <= 2 else 8
            size = (rect.width + 7) // 8 * rect.height if bits == 1 else rect.pixels
        else:
            size = rect.pixels * 3
        data = self._data(read, size, stream)
        fb = canvas.framebuffer
        if filter_id == PALETTE:
            fb.put_indexed(rect.x, rect.y, rect.width, rect.height, data, bits, palette)
        elif filter_id == GRADIENT:
            fb.put(rect.x, rect.y, rect.width, rect.height, ungradient(data, rect.width, rect.height), "RGB")
        else:
            fb.put(rect.x, rect.y, rect.width, rect.height, data, "RGB")

    def _data(self, read: Read, size: int, stream: int) -> bytes:
        if size < MIN_TO_COMPRESS:
            return read(size, "the uncompressed data of a small Tight rectangle")
        length = compact_length(read)
        compressed = read(length, f"the {length} zlib bytes of a Tight rectangle (stream {stream})")
        try:
            data = self.streams[stream].decompress(compressed)
        except zlib.error as error:
            raise MalformedRect(f"Tight zlib stream {stream} is corrupt ({error}); was a reset missed?") from None
        if len(data) != size:
            raise MalformedRect(f"a Tight rectangle inflated to {len(data)} bytes on stream {stream} where its "
                                f"pixels need {size}")
        return data


def compact_length(read: Read) -> int:
    """Tight's compact length: 7 bits per byte, a set top bit means another byte follows (3 bytes at most)."""
    length = 0
    for shift in (0, 7):
        (part,) = read(1, "a Tight compact length")
        length |= (part & 0x7F) << shift
        if not part & 0x80:
            return length
    (part,) = read(1, "a Tight compact length")
    return length | part << 14


def jpeg_image(data: bytes, rect: Rect) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise MalformedRect(f"the JPEG of a {rect.width}x{rect.height} Tight rectangle does not decode "
                            f"({error})") from None
    if image.size != (rect.width, rect.height):
        raise MalformedRect(f"the JPEG of a {rect.width}x{rect.height} Tight rectangle is "
                            f"{image.width}x{image.height}")
    return image


def ungradient(data: bytes, width: int, height: int) -> bytes:
    """Undo Tight's gradient filter: each channel was sent as its difference from
    clamp(left + above - above-left), the neighbours being decoded pixels (zero outside)."""
    out = bytearray(len(data))
    stride = width * 3
    above = [0] * stride
    for y in range(height):
        row = y * stride
        current = [0] * stride
        for x in range(stride):
            left = current[x - 3] if x >= 3 else 0
            corner = above[x - 3] if x >= 3 else 0
            predicted = min(max(left + above[x] - corner, 0), 255)
            current[x] = (data[row + x] + predicted) & 0xFF
        out[row:row + stride] = bytes(current)
        above = current
    return bytes(out)
