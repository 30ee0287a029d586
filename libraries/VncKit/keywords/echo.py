"""Typed text must come back as text: each key in a place of its own, and it stays."""

from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword

from kitcore.logging import log_png, log_table
from VncKit.echo import check_echo, trace_typing, where
from VncKit.errors import VncError
from VncKit.keysyms import char_keysym
from VncKit.keywords.base import KeywordGroup


class EchoKeywords(KeywordGroup):
    @keyword("Typed Text Should Appear", tags=["input", "assertion"])
    def typed_text_should_appear(self, text: str, timeout: str = "5s", region: str | None = None,
                                 alias: str | None = None) -> float:
        """Type ``text`` key by key and check that it comes back as typed text, not just as changed pixels.

        After each key the screen (or ``region``) must change within ``timeout``, at pixels that no
        earlier key changed (the next character's place), and once the last key is typed what every
        key painted must still be on the screen. A blinking cursor or an animation changes the same
        pixels again and again, and they come and go: both fail, naming where the screen changed.
        ``text`` needs at least two characters. Returns the slowest key's echo in seconds (key sent
        to changed pixels received).

        Example:
        | ${seconds} = | Typed Text Should Appear | kit | timeout=2s |
        """
        if len(text) < 2:
            raise VncError(f"Typed text '{text}' is too short to tell text from a blinking cursor",
                           fix="type at least two characters")
        client = self.client(alias)
        area = self.region(client, region)
        trace = trace_typing(client, text, [char_keysym(c) for c in text], area, self.seconds(timeout, 5.0))
        log_table(f"Typed '{text}' on {client.description}", ["key", "echo ms", "changed", "new pixels"],
                  [[k.char, f"{k.seconds * 1000:.1f}", where(k.box), k.new_pixels] for k in trace.keys])
        if trace.final is not None:
            png = client.framebuffer.png(area)
            log_png(f"Screen after typing '{text}'", png, width=min(area.width, 800))
        check_echo(trace)
        slowest = max(k.seconds for k in trace.keys)
        logger.info(f"Typed '{text}': every key came back in a place of its own; slowest echo "
                    f"{slowest * 1000:.1f} ms")
        return slowest
