"""RFB encodings: which ones VncKit asks for, and the decoders of each.

VncKit asks for 32-bit true colour, little endian, 0x00RRGGBB, so a PIXEL on the wire is four
bytes B, G, R, X; ZRLE's CPIXEL is its first three (B, G, R); Tight's TPIXEL is R, G, B.
"""

from __future__ import annotations

import re

from VncKit.errors import VncError

RAW = 0
COPYRECT = 1
RRE = 2
HEXTILE = 5
TIGHT = 7
ZRLE = 16
DESKTOP_SIZE = -223
LAST_RECT = -224
JPEG_QUALITY_0 = -32  # -32..-23: JPEG quality level 0..9 (Tight)
COMPRESS_LEVEL_0 = -256  # -256..-247: compression level 0..9 (Tight, ZRLE)

PIXEL_ENCODINGS = {"raw": RAW, "copyrect": COPYRECT, "hextile": HEXTILE, "tight": TIGHT, "zrle": ZRLE}
NAMES = {RAW: "Raw", COPYRECT: "CopyRect", RRE: "RRE", HEXTILE: "Hextile", TIGHT: "Tight", ZRLE: "ZRLE",
         DESKTOP_SIZE: "DesktopSize", LAST_RECT: "LastRect"}
PSEUDO = (DESKTOP_SIZE, LAST_RECT)
# What noVNC asks for at full depth, minus what VncKit does not decode (TightPNG, JPEG, RRE).
BROWSER_ENCODINGS = "CopyRect,Tight,ZRLE,Hextile,Raw"
BROWSER_JPEG_QUALITY = 6
BROWSER_COMPRESS_LEVEL = 2


def encoding_name(code: int) -> str:
    """The name of an encoding or pseudo-encoding number (``Tight``, ``JPEGQuality6``, ``-99``)."""
    if code in NAMES:
        return NAMES[code]
    if JPEG_QUALITY_0 <= code <= JPEG_QUALITY_0 + 9:
        return f"JPEGQuality{code - JPEG_QUALITY_0}"
    if COMPRESS_LEVEL_0 <= code <= COMPRESS_LEVEL_0 + 9:
        return f"CompressLevel{code - COMPRESS_LEVEL_0}"
    return str(code)


def _level(value: int | str | None, what: str) -> int | None:
    if value is None or str(value).strip().lower() in ("", "none", "off"):
        return None
    text = str(value).strip()
    if not text.isdigit() or not 0 <= int(text) <= 9:
        raise VncError(f"'{value}' is not a {what}", f"a {what} is a whole number from 0 to 9, or None to send none",
                       f"write {what.replace(' ', '_')}=6 or {what.replace(' ', '_')}=${{NONE}}")
    return int(text)


def choose_encodings(names: str | list[str] | tuple[str, ...] = BROWSER_ENCODINGS,
                     jpeg_quality: int | str | None = BROWSER_JPEG_QUALITY,
                     compress_level: int | str | None = BROWSER_COMPRESS_LEVEL) -> list[int]:
    """The SetEncodings list: the named pixel encodings in order of preference, then the
    pseudo-encodings (JPEG quality and compression level when given, DesktopSize, LastRect)."""
    parts = [p for p in re.split(r"[,\s]+", names.strip()) if p] if isinstance(names, str) else list(names)
    chosen: list[int] = []
    for part in parts:
        code = PIXEL_ENCODINGS.get(str(part).strip().lower())
        if code is None:
            raise VncError(f"'{part}' is not an encoding VncKit decodes",
                           f"VncKit decodes {', '.join(NAMES[c] for c in PIXEL_ENCODINGS.values())}",
                           f"write encodings={BROWSER_ENCODINGS} (what a browser asks for) or a part of it")
        if code not in chosen:
            chosen.append(code)
    if not chosen:
        raise VncError("No encoding was given", "a viewer must ask for at least one pixel encoding",
                       "write encodings=Raw, or leave encodings= out for what a browser asks for")
    quality = _level(jpeg_quality, "jpeg quality")
    compress = _level(compress_level, "compress level")
    if quality is not None:
        chosen.append(JPEG_QUALITY_0 + quality)
    if compress is not None:
        chosen.append(COMPRESS_LEVEL_0 + compress)
    return [*chosen, *PSEUDO]
