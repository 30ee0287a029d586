"""Hextile (encoding 5): 16x16 tiles, each raw or a background with solid subrectangles."""

from __future__ import annotations

from VncKit.encodings.base import Canvas, MalformedRect, Read, Rect, bgr, tiles

RAW, BACKGROUND, FOREGROUND, ANY_SUBRECTS, SUBRECTS_COLOURED = 1, 2, 4, 8, 16


def decode_hextile(read: Read, rect: Rect, canvas: Canvas) -> None:
    """Read one Hextile rectangle and draw it; background and foreground carry over from tile to tile."""
    background: tuple[int, int, int] | None = None
    foreground: tuple[int, int, int] | None = None
    for number, tile in enumerate(tiles(rect, 16), start=1):
        (flags,) = read(1, f"the subencoding of Hextile tile {number}")
        if flags & RAW:
            canvas.counts["Hextile raw"] += 1
            data = read(tile.pixels * 4, f"the pixels of raw Hextile tile {number}")
            canvas.framebuffer.put(tile.x, tile.y, tile.width, tile.height, data, "BGRX")
            continue
        if flags & BACKGROUND:
            background = bgr(read(4, f"the background of Hextile tile {number}"))
        if flags & FOREGROUND:
            foreground = bgr(read(4, f"the foreground of Hextile tile {number}"))
        if background is None:
            raise MalformedRect(f"Hextile tile {number} has no background: neither it nor an earlier tile "
                                "of the rectangle gave one")
        canvas.framebuffer.fill(tile.x, tile.y, tile.width, tile.height, background)
        if not flags & ANY_SUBRECTS:
            canvas.counts["Hextile solid"] += 1
            continue
        canvas.counts["Hextile subrects"] += 1
        (count,) = read(1, f"the subrectangle count of Hextile tile {number}")
        size = 6 if flags & SUBRECTS_COLOURED else 2
        data = read(count * size, f"the {count} subrectangles of Hextile tile {number}")
        if not flags & SUBRECTS_COLOURED and foreground is None:
            raise MalformedRect(f"Hextile tile {number} has subrectangles in the foreground colour but no "
                                "foreground was ever given")
        for offset in range(0, len(data), size):
            colour = bgr(data[offset:offset + 4]) if size == 6 else foreground
            xy, wh = data[offset + size - 2], data[offset + size - 1]
            sx, sy, sw, sh = xy >> 4, xy & 15, (wh >> 4) + 1, (wh & 15) + 1
            if sx + sw > tile.width or sy + sh > tile.height:
                raise MalformedRect(f"a {sw}x{sh} subrectangle at {sx},{sy} of Hextile tile {number} overflows "
                                    f"the {tile.width}x{tile.height} tile")
            assert colour is not None
            canvas.framebuffer.fill(tile.x + sx, tile.y + sy, sw, sh, colour)
