"""What every decoder shares: how it reads, what it draws on, and how it says a rectangle is broken."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from VncKit.framebuffer import Framebuffer

Read = Callable[[int, str], bytes]  # read(count, what): exactly ``count`` bytes, or a named stall/close


class MalformedRect(Exception):
    """A rectangle's data breaks its encoding's rules; the message says which rule, with the figures."""


@dataclass
class Rect:
    x: int
    y: int
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


@dataclass
class Canvas:
    """Where a decoder draws and what it counts (``Tight jpeg``, ``ZRLE palette-rle``, ...)."""

    framebuffer: Framebuffer
    counts: Counter[str]


def bgr(pixel: bytes) -> tuple[int, int, int]:
    """The colour of a little-endian 0x00RRGGBB PIXEL or CPIXEL (bytes B, G, R[, X])."""
    return (pixel[2], pixel[1], pixel[0])


def rgb(pixel: bytes) -> tuple[int, int, int]:
    """The colour of a Tight TPIXEL (bytes R, G, B)."""
    return (pixel[0], pixel[1], pixel[2])


def tiles(rect: Rect, size: int) -> list[Rect]:
    """The rectangle cut into ``size`` x ``size`` tiles, left to right, top to bottom."""
    return [Rect(x, y, min(size, rect.x + rect.width - x), min(size, rect.y + rect.height - y))
            for y in range(rect.y, rect.y + rect.height, size)
            for x in range(rect.x, rect.x + rect.width, size)]


class Cursor:
    """Reads through inflated data; running short is a malformed rectangle, not an IndexError."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.offset = 0
        self.what = what

    def take(self, count: int, part: str) -> bytes:
        end = self.offset + count
        if end > len(self.data):
            raise MalformedRect(f"{self.what} ends {end - len(self.data)} bytes short in {part} "
                                f"({len(self.data)} bytes inflated)")
        chunk = self.data[self.offset:end]
        self.offset = end
        return chunk

    def byte(self, part: str) -> int:
        return self.take(1, part)[0]
