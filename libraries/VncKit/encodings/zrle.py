"""ZRLE (encoding 16): one zlib stream per connection, 64x64 tiles of raw, solid, packed-palette or
run-length pixels (CPIXELs of three bytes B, G, R)."""

from __future__ import annotations

import struct
import zlib

from VncKit.encodings.base import Canvas, Cursor, MalformedRect, Read, Rect, bgr, tiles

MAX_COMPRESSED = 64 << 20


class ZrleDecoder:
    """Decodes the ZRLE rectangles of one connection: the zlib stream lives as long as the connection."""

    def __init__(self) -> None:
        self.stream = zlib.decompressobj()

    def decode(self, read: Read, rect: Rect, canvas: Canvas) -> None:
        (length,) = struct.unpack(">I", read(4, "the length of a ZRLE rectangle"))
        if length > MAX_COMPRESSED:
            raise MalformedRect(f"a ZRLE rectangle claims {length} compressed bytes (more than "
                                f"{MAX_COMPRESSED >> 20} MiB for {rect.width}x{rect.height} pixels)")
        compressed = read(length, f"the {length} zlib bytes of a ZRLE rectangle")
        try:
            data = self.stream.decompress(compressed)
        except zlib.error as error:
            raise MalformedRect(f"the ZRLE zlib stream is corrupt ({error})") from None
        cursor = Cursor(data, f"a {rect.width}x{rect.height} ZRLE rectangle")
        for number, tile in enumerate(tiles(rect, 64), start=1):
            decode_tile(cursor, tile, number, canvas)


def decode_tile(cursor: Cursor, tile: Rect, number: int, canvas: Canvas) -> None:
    kind = cursor.byte(f"the subencoding of tile {number}")
    fb = canvas.framebuffer
    if kind == 0:
        canvas.counts["ZRLE raw"] += 1
        fb.put(tile.x, tile.y, tile.width, tile.height, cursor.take(tile.pixels * 3, f"raw tile {number}"), "BGR")
    elif kind == 1:
        canvas.counts["ZRLE solid"] += 1
        fb.fill(tile.x, tile.y, tile.width, tile.height, bgr(cursor.take(3, f"solid tile {number}")))
    elif 2 <= kind <= 16:
        canvas.counts["ZRLE packed-palette"] += 1
        palette = read_palette(cursor, kind, number)
        bits = 1 if kind == 2 else 2 if kind <= 4 else 4
        size = (tile.width * bits + 7) // 8 * tile.height
        fb.put_indexed(tile.x, tile.y, tile.width, tile.height, cursor.take(size, f"packed tile {number}"), bits,
                       palette)
    elif kind == 128:
        canvas.counts["ZRLE rle"] += 1
        fb.put(tile.x, tile.y, tile.width, tile.height, plain_rle(cursor, tile, number), "BGR")
    elif kind >= 130:
        canvas.counts["ZRLE palette-rle"] += 1
        palette = read_palette(cursor, kind - 128, number)
        fb.put_indexed(tile.x, tile.y, tile.width, tile.height, palette_rle(cursor, tile, number, len(palette)), 8,
                       palette)
    else:
        raise MalformedRect(f"tile {number} uses ZRLE subencoding {kind}, which RFB leaves unused")


def read_palette(cursor: Cursor, size: int, number: int) -> list[tuple[int, int, int]]:
    raw = cursor.take(size * 3, f"the {size}-colour palette of tile {number}")
    return [bgr(raw[i:i + 3]) for i in range(0, len(raw), 3)]


def run_length(cursor: Cursor, number: int) -> int:
    length = 1
    while True:
        part = cursor.byte(f"a run length in tile {number}")
        length += part
        if part != 255:
            return length


def plain_rle(cursor: Cursor, tile: Rect, number: int) -> bytes:
    out = bytearray()
    while len(out) < tile.pixels * 3:
        pixel = cursor.take(3, f"a run's colour in tile {number}")
        out += pixel * run_length(cursor, number)
    return check_runs(bytes(out), tile.pixels * 3, number)


def palette_rle(cursor: Cursor, tile: Rect, number: int, colours: int) -> bytes:
    out = bytearray()
    while len(out) < tile.pixels:
        index = cursor.byte(f"a palette index in tile {number}")
        if index & 128:
            index &= 127
            count = run_length(cursor, number)
        else:
            count = 1
        if index >= colours:
            raise MalformedRect(f"tile {number} uses palette index {index} of a {colours}-colour palette")
        out += bytes((index,)) * count
    return check_runs(bytes(out), tile.pixels, number)


def check_runs(data: bytes, size: int, number: int) -> bytes:
    if len(data) != size:
        raise MalformedRect(f"the runs of tile {number} cover {len(data)} bytes of pixels where the tile has {size}")
    return data
