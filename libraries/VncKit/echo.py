"""Typed text coming back as pixels: each key must paint a place of its own, and stay painted.

A desktop that shows typed text paints every key somewhere no earlier key painted (the next
character cell), and the text stays on the screen. A blinking cursor, a clock or an animation
changes pixels too, but always the same ones, and they come and go. :func:`trace_typing` types
key by key, keeps the pixels each key changed, and :func:`check_echo` tells the two apart.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from PIL import Image, ImageChops

from kitcore.errors import KitError, WaitTimeout
from VncKit.framebuffer import Region
from VncKit.rfb import RfbClient
from VncKit.screen import catch_up, wait_for_change

MIN_NEW_PIXELS = 4  # a key must change at least this many pixels that no earlier key changed


class TypedTextMissing(KitError, AssertionError):
    """Typed text did not come back as text: no change, the same place each time, or gone again."""


@dataclass
class KeyEcho:
    char: str
    seconds: float
    changed: Image.Image  # mask (mode "1") of the pixels this key changed
    new: Image.Image  # mask of those that no earlier key changed

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        return self.changed.getbbox()

    @property
    def new_pixels(self) -> int:
        return count(self.new)


@dataclass
class EchoTrace:
    region: Region
    start: Image.Image
    final: Image.Image | None = None
    keys: list[KeyEcho] = field(default_factory=list)


def count(mask: Image.Image) -> int:
    return int(mask.histogram()[-1]) if mask.getbbox() else 0


def changed_mask(before: Image.Image, after: Image.Image) -> Image.Image:
    """The pixels that differ between two images of the same size, as a 1-bit mask."""
    difference = ImageChops.difference(before, after).convert("L")
    return difference.point(lambda value: 255 if value else 0).convert("1")


def snapshot(client: RfbClient, region: Region) -> Image.Image:
    return client.framebuffer.image.crop(region.box)


def trace_typing(client: RfbClient, text: str, keysyms: list[int], region: Region, timeout: float) -> EchoTrace:
    """Type ``text`` key by key; after each key wait (up to ``timeout``) until the screen changed and
    keep what changed. Raises :class:`TypedTextMissing` when a key changes nothing."""
    catch_up(client, region)
    trace = EchoTrace(region, snapshot(client, region))
    painted = Image.new("1", trace.start.size)
    for index, (char, code) in enumerate(zip(text, keysyms, strict=True)):
        catch_up(client, region)
        before = snapshot(client, region)
        started = time.monotonic()
        client.key(code, True)
        client.key(code, False)
        try:
            change = wait_for_change(client, region, timeout, before.tobytes(), started, already_requested=True)
        except WaitTimeout as error:
            raise TypedTextMissing(
                f"Key {index + 1} of {len(text)} typed ('{char}') did not come back as pixels",
                f"the screen region {region} of {client.description} did not change within {timeout:g} s "
                f"({error.tries} updates)", "check that the desktop has the keyboard focus and shows typed text",
            ) from error
        catch_up(client, region, quiet=0.05, limit=min(timeout, 1.0))
        changed = changed_mask(before, snapshot(client, region))
        new = ImageChops.logical_and(changed, ImageChops.invert(painted))
        painted = ImageChops.logical_or(painted, changed)
        trace.keys.append(KeyEcho(char, change.elapsed, changed, new))
    catch_up(client, region)
    trace.final = snapshot(client, region)
    return trace


def where(box: tuple[int, int, int, int] | None) -> str:
    return "nowhere" if box is None else f"{box[0]},{box[1]},{box[2] - box[0]},{box[3] - box[1]}"


def check_echo(trace: EchoTrace) -> None:
    """Fail unless every key painted new pixels and every key's new pixels are still on the screen."""
    repeats = [k for k in trace.keys[1:] if k.new_pixels < MIN_NEW_PIXELS]
    if repeats:
        first = trace.keys[0]
        raise TypedTextMissing(
            f"Typed text did not come back as text: {len(repeats)} of {len(trace.keys)} keys changed no place "
            "that an earlier key had not changed already",
            f"the first key changed {where(first.box)}; keys "
            + ", ".join(f"'{k.char}' {where(k.box)} ({k.new_pixels} new pixels)" for k in repeats)
            + ": that is a blinking cursor or an animation, not the typed characters",
            "check that the desktop shows what is typed (each character in a place of its own)",
        )
    final = trace.final or trace.start
    still = changed_mask(trace.start, final)
    gone = [k for k in trace.keys if count(ImageChops.logical_and(k.new, still)) < min(MIN_NEW_PIXELS, k.new_pixels)]
    if gone:
        raise TypedTextMissing(
            f"Typed text did not stay on the screen: what {len(gone)} of {len(trace.keys)} keys painted is gone again",
            "; ".join(f"'{k.char}' had changed {where(k.new.getbbox())}" for k in gone)
            + ": pixels that come and go are a blinking cursor or an animation, not typed characters",
            "check that the desktop keeps what is typed on the screen",
        )
