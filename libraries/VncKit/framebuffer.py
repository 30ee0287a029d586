"""The kept framebuffer: an RGB image updated rectangle by rectangle, with region helpers."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from PIL import Image

from VncKit.errors import VncError

NAMED_COLOURS = {
    "black": (0, 0, 0), "white": (255, 255, 255), "red": (255, 0, 0), "green": (0, 255, 0),
    "blue": (0, 0, 255), "yellow": (255, 255, 0), "cyan": (0, 255, 255), "magenta": (255, 0, 255),
    "grey": (128, 128, 128), "gray": (128, 128, 128),
}


@dataclass(frozen=True)
class Region:
    x: int
    y: int
    width: int
    height: int

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.x, self.y, self.x + self.width, self.y + self.height)

    @property
    def area(self) -> int:
        return self.width * self.height

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"


def parse_region(value: str | list | tuple | Region | None, width: int, height: int) -> Region:
    """``x,y,width,height`` (or a list of four numbers); ``None`` is the whole screen. Must fit the screen."""
    if value is None or value == "" or (isinstance(value, str) and value.strip().lower() in ("full", "all", "screen")):
        return Region(0, 0, width, height)
    if isinstance(value, Region):
        region = value
    else:
        parts = re.split(r"[,\s]+", value.strip()) if isinstance(value, str) else list(value)
        try:
            x, y, w, h = (int(str(p)) for p in parts)
        except ValueError:
            raise VncError(f"'{value}' is not a region", "a region is four whole numbers: x,y,width,height",
                           "write it like 10,20,100,50") from None
        region = Region(x, y, w, h)
    if region.width <= 0 or region.height <= 0 or region.x < 0 or region.y < 0 \
            or region.x + region.width > width or region.y + region.height > height:
        raise VncError(f"Region {region} does not fit the {width}x{height} desktop",
                       "a region must have a positive size and lie inside the screen",
                       f"use x+width <= {width} and y+height <= {height}")
    return region


def parse_colour(value: str | tuple | list) -> tuple[int, int, int]:
    """``#ff0000``, ``ff0000``, ``255,0,0`` or a basic name (``red``, ``black``...)."""
    if isinstance(value, (tuple, list)) and len(value) == 3:
        return (int(value[0]), int(value[1]), int(value[2]))
    text = str(value).strip().lower()
    if text in NAMED_COLOURS:
        return NAMED_COLOURS[text]
    hexa = text.lstrip("#")
    if re.fullmatch(r"[0-9a-f]{6}", hexa):
        return (int(hexa[0:2], 16), int(hexa[2:4], 16), int(hexa[4:6], 16))
    parts = re.split(r"[,\s]+", text.strip("()"))
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        return (int(parts[0]), int(parts[1]), int(parts[2]))
    raise VncError(f"'{value}' is not a colour", "colours are #rrggbb, r,g,b or a basic name",
                   "write it like #ff0000, 255,0,0 or red")


def colour_hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


class Framebuffer:
    """The desktop as last received, in 24-bit RGB."""

    def __init__(self, width: int, height: int) -> None:
        self.image = Image.new("RGB", (width, height))

    @property
    def width(self) -> int:
        return self.image.width

    @property
    def height(self) -> int:
        return self.image.height

    def resize(self, width: int, height: int) -> None:
        old = self.image
        self.image = Image.new("RGB", (width, height))
        self.image.paste(old, (0, 0))

    def put_bgrx(self, x: int, y: int, width: int, height: int, data: bytes) -> None:
        """Paste pixels in VncKit's wire format (32 bits, little endian, 0x00RRGGBB)."""
        self.put(x, y, width, height, data, "BGRX")

    def put(self, x: int, y: int, width: int, height: int, data: bytes, rawmode: str) -> None:
        """Paste packed pixels of ``rawmode`` (``BGRX``, ``BGR`` or ``RGB``), row by row."""
        self.image.paste(Image.frombuffer("RGB", (width, height), data, "raw", rawmode, 0, 1), (x, y))

    def put_indexed(self, x: int, y: int, width: int, height: int, indices: bytes, bits: int,
                    palette: list[tuple[int, int, int]]) -> None:
        """Paste palette indices of ``bits`` bits each (1, 2, 4 or 8; rows padded to whole bytes)."""
        rawmode = "P" if bits == 8 else f"P;{bits}"
        rect = Image.frombuffer("P", (width, height), indices, "raw", rawmode, 0, 1)
        flat = [channel for colour in palette for channel in colour]
        rect.putpalette(flat + [0] * (768 - len(flat)))
        self.image.paste(rect.convert("RGB"), (x, y))

    def paste(self, image: Image.Image, x: int, y: int) -> None:
        self.image.paste(image.convert("RGB"), (x, y))

    def fill(self, x: int, y: int, width: int, height: int, rgb: tuple[int, int, int]) -> None:
        self.image.paste(rgb, (x, y, x + width, y + height))

    def copy_rect(self, src_x: int, src_y: int, x: int, y: int, width: int, height: int) -> None:
        self.image.paste(self.image.crop((src_x, src_y, src_x + width, src_y + height)), (x, y))

    def rgb_bytes(self, region: Region | None = None) -> bytes:
        """The pixels as RGB bytes, row by row (the whole screen or one region)."""
        image = self.image if region is None else self.image.crop(region.box)
        return image.tobytes()

    def png(self, region: Region | None = None) -> bytes:
        image = self.image if region is None else self.image.crop(region.box)
        out = io.BytesIO()
        image.save(out, format="PNG")
        return out.getvalue()

    def colours(self, region: Region) -> list[tuple[int, tuple[int, int, int]]]:
        """(count, colour) pairs in the region, most frequent first."""
        found = self.image.crop(region.box).getcolors(maxcolors=region.area) or []
        return sorted(found, key=lambda pair: -pair[0])

    def dominant_colour(self, region: Region) -> tuple[int, int, int]:
        return self.colours(region)[0][1]

    def share_of_colour(self, region: Region, rgb: tuple[int, int, int], tolerance: int) -> float:
        """The fraction of the region's pixels within ``tolerance`` (per channel) of ``rgb``."""
        matching = sum(count for count, colour in self.colours(region)
                       if all(abs(a - b) <= tolerance for a, b in zip(colour, rgb, strict=True)))
        return matching / region.area
