"""A session's desktop in a real browser: open, type, click, screenshots, typed text coming back."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from robot.api import logger
from robot.api.deco import keyword

from kitcore import Check, Connections, SecretLike, getter, reveal
from kitcore.logging import log_png, log_table
from VncKit.browser.desktop import BrowserDesktop, safe
from VncKit.browser.echo import trace_typing
from VncKit.echo import check_echo, where
from VncKit.errors import VncError
from VncKit.keywords.base import KeywordGroup

if TYPE_CHECKING:
    from VncKit import VncKit

F = TypeVar("F", bound=Callable[..., Any])
SHOWN_WIDTH = 800  # pixels a screenshot takes in log.html at most


def screenshot_on_failure(method: F) -> F:
    """A failing browser keyword embeds the browser's last screenshot in the log."""

    @functools.wraps(method)
    def wrapper(self: BrowserKeywords, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except Exception:
            self.log_failure_screenshot()
            raise

    return wrapper  # type: ignore[return-value]


class BrowserKeywords(KeywordGroup):
    """Keywords for a desktop shown by noVNC in headless Chromium (Debian's chromium, chromium-driver, novnc)."""

    def __init__(self, library: VncKit) -> None:
        super().__init__(library)
        self.desktops: Connections[BrowserDesktop] = Connections(
            "browser desktop", "Open Desktop In Browser", lambda d: d.close())
        self.active: BrowserDesktop | None = None

    def desktop(self, alias: str | None) -> BrowserDesktop:
        desktop = self.desktops.get(alias)
        self.active = desktop
        return desktop

    def log_failure_screenshot(self) -> None:
        desktop = self.active
        if desktop is None:
            return
        if not desktop.closed:
            try:
                desktop.screenshot()
            except Exception as error:  # noqa: BLE001 - a dead browser: show the last screenshot taken
                logger.info(f"No new screenshot of the browser: {error}")
        if desktop.last_png:
            log_png(f"The browser at the failure ({desktop.description})", desktop.last_png, width=SHOWN_WIDTH)

    @keyword("Open Desktop In Browser", tags=["browser", "connection"])
    @screenshot_on_failure
    def open_desktop_in_browser(self, url: str, token: SecretLike = None, password: SecretLike = None,
                                timeout: str | None = None, alias: str | None = None) -> str:
        """Open a desktop's VNC WebSocket in headless Chromium, with noVNC, as a platform's viewer page does.

        The kit serves a viewer page on loopback (Debian's noVNC and a page of the kit's) and the page
        opens ``url`` (a ``ws://``/``wss://`` VNC route) with ``new RFB(...)``: subprotocol ``binary``,
        ``token`` (a ``Secret`` or a string) added as ``?token=``, ``password`` for VNC authentication.
        Waits up to ``timeout`` (default: the library's) for the first frame, then sizes the window to the
        desktop. The browser, its driver and the page server end with the test (or suite) that opened
        them, or with `Close Browser Desktop`. Returns the alias (or the desktop's index).

        Example:
        | ${url} = | Get VNC URL Of Session | ${session} | with_token=False |
        | ${token} = | Get Access Token |
        | Open Desktop In Browser | ${url} | token=${token} | alias=alice |
        """
        seconds = self.seconds(timeout)
        desktop = BrowserDesktop(safe(url), seconds)
        desktop.cleanup_key = f"browser-{id(desktop)}"
        self.library.cleanup.register(f"browser showing {desktop.description}", desktop.close,
                                      key=desktop.cleanup_key)
        self.active = desktop
        try:
            desktop.launch()
            info = desktop.connect(url, reveal(token), reveal(password))
        except BaseException:
            if desktop.driver is not None and not desktop.closed:
                with contextlib.suppress(Exception):  # the failure, not the screenshot, is what to report
                    desktop.screenshot()
            desktop.close()
            self.library.cleanup.forget(desktop.cleanup_key)
            raise
        self.desktops.add(desktop, alias)
        logger.info(f"The browser shows the desktop at {safe(url)}: {info}")
        return alias or str(self.desktops._cache.current_index)

    @keyword("Type In Browser Desktop", tags=["browser", "input"])
    @screenshot_on_failure
    def type_in_browser_desktop(self, text: str, alias: str | None = None) -> None:
        """Type ``text`` into the desktop through the browser: WebDriver key events on noVNC's canvas.

        Nothing is checked; `Wait Until Browser Desktop Changes` waits for the answer, and
        `Typed Text Should Appear In Browser Desktop` types and checks key by key.

        Example:
        | Type In Browser Desktop | hello |
        """
        desktop = self.desktop(alias)
        area = desktop.region(None)
        desktop.mark(area)
        desktop.type(text)
        logger.info(f"Typed {len(text)} characters in the browser")

    @keyword("Click In Browser Desktop", tags=["browser", "input"])
    @screenshot_on_failure
    def click_in_browser_desktop(self, x: int, y: int, button: str = "left", alias: str | None = None) -> None:
        """Click ``button`` (``left`` or ``right``) at ``x``, ``y`` of the desktop (pixels from its top-left
        corner) with the browser's pointer.

        Example:
        | Click In Browser Desktop | 200 | 150 |
        """
        if button not in ("left", "right"):
            raise VncError(f"'{button}' is not a browser mouse button", fix="use button=left or button=right")
        desktop = self.desktop(alias)
        desktop.mark(desktop.region(None))
        desktop.click(x, y, button)
        logger.info(f"Clicked {button} at {x},{y} in the browser")

    @keyword("Wait Until Browser Desktop Changes", tags=["browser", "wait"])
    @screenshot_on_failure
    def wait_until_browser_desktop_changes(self, region: str | None = None, timeout: str = "5s",
                                           alias: str | None = None) -> None:
        """Wait until the desktop in the browser (or its ``region``, ``x,y,width,height``) differs from what it
        showed before the last `Type In Browser Desktop` or `Click In Browser Desktop`.

        The page looks at its canvas each time a stream message has been drawn: no polling.

        Example:
        | Click In Browser Desktop | 200 | 150 |
        | Wait Until Browser Desktop Changes | region=190,140,21,21 | timeout=2s |
        """
        desktop = self.desktop(alias)
        area = desktop.region(region)
        seconds = self.seconds(timeout, 5.0)
        change = desktop.wait_for_change(area, seconds)
        if not change.changed:
            raise VncError(f"The desktop in the browser did not change in {area} within {seconds:g} s",
                           f"{change.info}", "check the input reaches the session and its screen answers it")
        logger.info(f"The desktop in the browser changed in {area}")

    @keyword("Wait Until Browser Desktop Is Drawn", tags=["browser", "wait"])
    @screenshot_on_failure
    def wait_until_browser_desktop_is_drawn(self, region: str | None = None, timeout: str = "10s",
                                            alias: str | None = None) -> None:
        """Wait until the desktop in the browser (or its ``region``) shows more than one colour: a program of the
        desktop has drawn on it. The browser's counterpart of `Wait Until Desktop Is Drawn`.

        A session's VNC server may answer while the programs of its desktop are still starting; a key or a
        click sent then reaches none. The page looks at its canvas each time a stream message has been drawn.

        Example:
        | Open Desktop In Browser | ${url} | token=${token} |
        | Wait Until Browser Desktop Is Drawn | timeout=10s |
        """
        desktop = self.desktop(alias)
        area = desktop.region(region)
        seconds = self.seconds(timeout, 10.0)
        drawn, info = desktop.wait_for_drawn(area, seconds)
        if not drawn:
            raise VncError(f"The desktop in the browser was not drawn in {area} within {seconds:g} s",
                           f"it shows one colour only ({info})",
                           "check that the session's desktop programs start (the log of its container or pod)")
        logger.info(f"The desktop in the browser is drawn in {area}")

    @keyword("Typed Text Should Appear In Browser Desktop", tags=["browser", "input", "assertion"])
    @screenshot_on_failure
    def typed_text_should_appear_in_browser_desktop(self, text: str, timeout: str = "5s", region: str | None = None,
                                                    alias: str | None = None) -> float:
        """Type ``text`` in the browser key by key and check that the desktop shows it as typed text.

        The same check as `Typed Text Should Appear`, on the pixels noVNC drew in the browser: after each
        key the screen (or ``region``) must change within ``timeout`` at pixels no earlier key changed, and
        what every key painted must still be there after the last. A blinking cursor, an animation or a
        stream that stopped fails it. Returns the slowest key's echo in seconds, from the key's event in
        the page to the stream message after which the screen showed it. The screen is logged.

        Example:
        | ${seconds} = | Typed Text Should Appear In Browser Desktop | kit | timeout=2s |
        """
        if len(text) < 2:
            raise VncError(f"Typed text '{text}' is too short to tell text from a blinking cursor",
                           fix="type at least two characters")
        desktop = self.desktop(alias)
        area = desktop.region(region)
        trace = trace_typing(desktop, text, area, self.seconds(timeout, 5.0))
        log_table(f"Typed '{text}' in the browser on {desktop.description}", ["key", "echo ms", "changed",
                  "new pixels"], [[k.char, f"{k.seconds * 1000:.1f}", where(k.box), k.new_pixels] for k in trace.keys])
        log_png(f"The browser after typing '{text}'", desktop.screenshot(), width=SHOWN_WIDTH)
        check_echo(trace)
        slowest = max(k.seconds for k in trace.keys)
        logger.info(f"Typed '{text}' in the browser: every key came back in a place of its own; slowest echo "
                    f"{slowest * 1000:.1f} ms")
        return slowest

    @keyword("Take Browser Desktop Screenshot", tags=["browser"])
    @screenshot_on_failure
    def take_browser_desktop_screenshot(self, title: str = "The browser", alias: str | None = None) -> None:
        """Embed a PNG of the browser's window (the desktop as the viewer shows it) in log.html.

        Example:
        | Take Browser Desktop Screenshot | After typing |
        """
        desktop = self.desktop(alias)
        log_png(f"{title} ({desktop.description})", desktop.screenshot(), width=SHOWN_WIDTH)

    @keyword("Get Browser Desktop State", tags=["browser", "getter"])
    @getter
    def get_browser_desktop_state(self, *, check: Check, alias: str | None = None) -> str:
        """noVNC's state of the stream in the browser: ``connected``, ``disconnected`` (closed cleanly) or
        ``failed`` (ended abruptly) (optionally asserted, and retried with ``timeout=``).

        Example:
        | Get Browser Desktop State | == | disconnected | timeout=10s |
        """
        desktop = self.desktop(alias)
        try:
            return check(lambda: desktop.info().state, f"State of the desktop in the browser ({desktop.description})")
        except Exception:
            self.log_failure_screenshot()
            raise

    @keyword("Close Browser Desktop", tags=["browser", "connection"])
    def close_browser_desktop(self, alias: str | None = None) -> None:
        """Close the browser showing the current desktop (or the one named ``alias``): the stream, the browser,
        its driver and the page server.

        Example:
        | Close Browser Desktop |
        """
        desktop = self.desktops.get(alias)
        desktop.close()
        self.library.cleanup.forget(desktop.cleanup_key)
        logger.info(f"Closed the browser showing {desktop.description}")

    @keyword("Close All Browser Desktops", tags=["browser", "connection"])
    def close_all_browser_desktops(self) -> None:
        """Close every browser the library opened (safe to call in any teardown).

        Example:
        | [Teardown] | Close All Browser Desktops |
        """
        for desktop in self.desktops.all():
            self.library.cleanup.forget(desktop.cleanup_key)
        self.desktops.close_all()
        self.active = None
