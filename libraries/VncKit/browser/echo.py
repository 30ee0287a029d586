"""Typed text coming back through the browser: the same check as VncKit's, on the canvas noVNC draws."""

from __future__ import annotations

from PIL import Image, ImageChops

from VncKit.browser.desktop import BrowserDesktop
from VncKit.echo import EchoTrace, KeyEcho, TypedTextMissing, changed_mask
from VncKit.errors import VncClosed
from VncKit.framebuffer import Region

QUIET = 0.05  # seconds without a stream message after which the screen has caught up


def trace_typing(desktop: BrowserDesktop, text: str, region: Region, timeout: float) -> EchoTrace:
    """Type ``text`` key by key in the browser; after each key wait (up to ``timeout``) for the stream message
    that changed the screen, and keep what changed. Raises :class:`TypedTextMissing` when a key changes nothing."""
    from selenium.webdriver.common.action_chains import ActionChains

    settle = min(timeout, 1.0)
    desktop.focus()
    desktop.wait_for_quiet(QUIET, settle)
    trace = EchoTrace(region, desktop.image(region))
    painted = Image.new("1", trace.start.size)
    for index, char in enumerate(text):
        before = desktop.mark(region)
        desktop.focus()  # each key to the desktop, whatever took the focus since the last one
        ActionChains(desktop.driver).send_keys(char).perform()
        change = desktop.wait_for_change(region, timeout)
        if change.info.state != "connected":
            raise VncClosed(f"The browser lost the desktop at {desktop.description} while typing",
                            f"after key {index + 1} of {len(text)} ('{char}'): {change.info}",
                            "check that the session is still running")
        if not change.changed or change.echo is None:
            raise TypedTextMissing(
                f"Key {index + 1} of {len(text)} typed in the browser ('{char}') did not come back as pixels",
                f"the region {region} of the desktop at {desktop.description} did not change within {timeout:g} s "
                f"({change.info}; {'the key reached' if change.key_at is not None else 'no key reached'} the page)",
                "check that the desktop has the keyboard focus and shows typed text",
            )
        desktop.wait_for_quiet(QUIET, settle)
        changed = changed_mask(before, desktop.image(region))
        new = ImageChops.logical_and(changed, ImageChops.invert(painted))
        painted = ImageChops.logical_or(painted, changed)
        trace.keys.append(KeyEcho(char, change.echo, changed, new))
    desktop.wait_for_quiet(QUIET, settle)
    trace.final = desktop.image(region)
    return trace
