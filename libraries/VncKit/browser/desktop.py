"""A session's desktop in headless Chromium: noVNC on the kit's viewer page, read and driven through WebDriver."""

from __future__ import annotations

import base64
import contextlib
import io
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from PIL import Image
from robot.api import logger

from VncKit.browser import chromium
from VncKit.browser.pages import PageServer
from VncKit.errors import VncClosed, VncError, VncStalled
from VncKit.framebuffer import Region

STATUS_BAR = 20  # pixels of the viewer page above the desktop
START_WINDOW = (1280, 1024)  # the window before the desktop's size is known
# tries to load the viewer page (the kit's own, on loopback). Chromium fails the requests it has in flight
# whenever a network interface comes or goes (net::ERR_NETWORK_CHANGED): on a machine whose container
# engine adds and removes a veth for every container, a load now and then loses some of noVNC's modules
PAGE_LOADS = 5
PAGE_WAIT = 5.0  # seconds at least for the page's script to run after a load
RESIZE_WAIT = 2.0  # seconds at most for the window to take the desktop's size
# Wait for the page's script (an ES module loading noVNC's modules) to be ready, or say what the page loaded.
PAGE_READY = """
const [timeoutMs, done] = arguments;
const report = () => `the page is ${document.readyState}, its script ${window.kit ? window.kit.state
  : window.kitFailed ? 'not loaded: a module of it could not be fetched' : 'not run'}; `
  + performance.getEntriesByType('resource').filter((e) => e.responseStatus !== 200)
    .map((e) => `${e.name} answered ${e.responseStatus}`).join(', ');
if (window.kit && window.kit.state === 'ready') { done('ready'); return; }
if (window.kitFailed) { done(report()); return; }
window.addEventListener('kit-ready', () => done('ready'));
window.addEventListener('kit-failed', () => done(report()));
setTimeout(() => done(report()), timeoutMs);
"""


def with_token(url: str, token: str | None) -> str:
    """``url`` with ``?token=`` added, as a viewer page passes the user's token to the platform's VNC route."""
    if not token:
        return url
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), ("token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def safe(url: str) -> str:
    """``url`` as safe to log: the query (where a token travels) is left out."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query="token=***" if parts.query else ""))


@dataclass
class DesktopInfo:
    """What the viewer page knows of the stream: noVNC's state, why it ended, messages, the desktop's size."""

    state: str
    reason: str
    messages: int
    close_code: int | None
    framed: bool
    width: int
    height: int
    sent: int = 0
    visible: str = ""
    drawing: bool = False
    key_on_desktop: bool | None = None

    @classmethod
    def of(cls, data: dict[str, Any]) -> DesktopInfo:
        return cls(str(data.get("state")), str(data.get("reason") or ""), int(data.get("messages") or 0),
                   data.get("closeCode"), bool(data.get("framed")), int(data.get("width") or 0),
                   int(data.get("height") or 0), int(data.get("sent") or 0), str(data.get("visible") or ""),
                   bool(data.get("drawing")), data.get("keyOnDesktop"))

    def __str__(self) -> str:
        ended = f", closed with code {self.close_code}" if self.close_code is not None else ""
        why = f" ({self.reason})" if self.reason else ""
        drawing = ", noVNC still drawing an earlier update" if self.drawing else ""
        if self.key_on_desktop is False:
            drawing += ", the last key went to the page, not the desktop (it had lost the focus)"
        return (f"noVNC {self.state}{why}, {self.messages} stream messages in, {self.sent} out{ended}, "
                f"desktop {self.width}x{self.height}, page {self.visible or 'unknown'}{drawing}")


@dataclass
class Change:
    """The answer of a wait for changed pixels; times are the page's event times in ms."""

    changed: bool
    key_at: float | None
    changed_at: float | None
    info: DesktopInfo

    @property
    def echo(self) -> float | None:
        """Seconds from the key's event to the stream message after which the screen showed it."""
        if self.key_at is None or self.changed_at is None:
            return None
        return max(0.0, (self.changed_at - self.key_at) / 1000)


@dataclass
class BrowserDesktop:
    """One headless Chromium showing one desktop; :meth:`close` ends the browser, its driver and the page server."""

    description: str
    timeout: float
    driver: Any = None
    process: subprocess.Popen | None = None
    home: Path | None = None
    pages: PageServer | None = None
    last_png: bytes | None = None
    closed: bool = False
    cleanup_key: str = ""

    def launch(self) -> None:
        """Serve the viewer page, start the browser and load the page (not yet connected); on any failure or
        interruption, end what was started."""
        try:
            self.pages = PageServer()
            self.driver, self.process, self.home = chromium.start(*START_WINDOW, self.timeout)
            state = self.load_page()
        except BaseException:
            self.close()
            raise
        if state != "ready":
            self.close()
            raise VncError("The viewer page did not load noVNC", f"{PAGE_LOADS} loads failed; the last: {state}",
                           "a module that answered 404 is missing: check Debian's novnc package (core/rfb.js and "
                           "its modules); one that answered 0 was dropped by the browser: Chromium drops its requests "
                           "whenever a network interface comes or goes, so check what keeps changing the machine's "
                           "interfaces")

    def load_page(self) -> str:
        """Load the viewer page and wait for its script; ``ready``, or what the page loaded. A page whose requests
        the browser dropped (the page says so at once) is loaded again, up to ``PAGE_LOADS`` times: it is the
        kit's page, the platform plays no part."""
        from selenium.common.exceptions import TimeoutException, WebDriverException

        state = ""
        for attempt in range(PAGE_LOADS):
            try:
                self.driver.get(self.pages.url)
            except TimeoutException:
                state = "the page did not finish loading"
                continue
            except WebDriverException as error:  # the page itself was dropped: net::ERR_NETWORK_CHANGED...
                if "net::ERR_" not in str(error.msg):
                    raise
                state = f"the page did not load: {str(error.msg).strip().splitlines()[0]}"
                logger.info(f"The viewer page did not load (load {attempt + 1} of {PAGE_LOADS}): {state}")
                continue
            state = self.driver.execute_async_script(PAGE_READY, max(self.timeout, PAGE_WAIT) * 1000)
            if state == "ready":
                return state
            logger.info(f"The viewer page's script did not run (load {attempt + 1} of {PAGE_LOADS}): {state}")
        return state

    # -- the page's script -------------------------------------------------------------------------
    def script(self, code: str, *args: object) -> Any:
        return self.driver.execute_script(code, *args)

    def wait(self, call: str, *args: object, seconds: float) -> Any:
        """Run the page's ``kit.<call>`` (a promise) and wait for its answer: ``seconds`` plus a margin at most."""
        self.driver.set_script_timeout(seconds + 10)
        return self.driver.execute_async_script(
            f"const done = arguments[arguments.length - 1]; kit.{call}.then(done, (e) => done(String(e)));",
            *args,
        )

    def info(self) -> DesktopInfo:
        if self.closed:
            raise VncError(f"The browser on {self.description} is closed",
                           fix="open it again with 'Open Desktop In Browser'")
        return DesktopInfo.of(self.script("return kit.info()"))

    def timings(self) -> dict[str, float | None]:
        """The page's clock (ms) at connect, at the end of the handshake and at the last stream message; the
        stream's messages and bytes so far."""
        return dict(self.script("return kit.timings()"))

    # -- the stream ----------------------------------------------------------------------------------
    def connect(self, url: str, token: str | None, password: str | None) -> DesktopInfo:
        """Open the VNC stream in noVNC and wait for the first frame (the first message after the handshake)."""
        self.script("kit.connect(arguments[0], arguments[1], arguments[2])", with_token(url, token),
                    self.description, password)
        info = DesktopInfo.of(self.wait("waitForDesktop(arguments[0])", self.timeout * 1000, seconds=self.timeout))
        if info.state == "connecting":
            raise VncStalled(f"The browser could not open the desktop at {self.description}",
                             f"the RFB handshake did not finish within {self.timeout:g} s; {info}",
                             "check that the platform relays the desktop's RFB bytes in binary frames")
        if info.state != "connected":
            raise VncClosed(f"The browser could not open the desktop at {self.description}", str(info),
                            "check the session is running and the token is the owner's")
        if not info.framed:
            raise VncStalled(f"The browser connected to {self.description} but the desktop never showed",
                             f"no frame within {self.timeout:g} s; {info}",
                             "check the session's VNC server draws its screen and the platform relays it")
        self.fit_window(info)
        return info

    def fit_window(self, info: DesktopInfo) -> None:
        """Size the window so that the page shows the status line and the whole desktop, unscaled."""
        extra_width, extra_height = self.script("return kit.frame()")
        self.driver.set_window_size(info.width + extra_width, info.height + STATUS_BAR + extra_height)
        # the resize ends after the call: input sent before it ended may go to the page, not the desktop
        self.wait("waitForSize(arguments[0], arguments[1], arguments[2])", info.width, info.height + STATUS_BAR,
                  RESIZE_WAIT * 1000, seconds=RESIZE_WAIT)

    def require_connected(self) -> DesktopInfo:
        info = self.info()
        if info.state != "connected":
            raise VncClosed(f"The browser lost the desktop at {self.description}", str(info),
                            "check that the session is still running")
        return info

    def region(self, value: str | None) -> Region:
        from VncKit.framebuffer import parse_region

        info = self.require_connected()
        return parse_region(value, info.width, info.height)

    # -- pixels --------------------------------------------------------------------------------------
    def mark(self, region: Region) -> Image.Image:
        """Remember the screen (the page compares later frames with it) and return that region as an image."""
        data = self.script("kit.markScreen(arguments[0]); return kit.png(arguments[0])", _box(region))
        return decode(data)

    def image(self, region: Region) -> Image.Image:
        return decode(self.script("return kit.png(arguments[0])", _box(region)))

    def wait_for_change(self, region: Region, seconds: float) -> Change:
        data = self.wait("waitForChange(arguments[0], arguments[1])", _box(region), seconds * 1000, seconds=seconds)
        if not isinstance(data, dict):
            raise VncError(f"The viewer page on {self.description} failed", str(data))
        return Change(bool(data.get("changed")), data.get("keyAt"), data.get("changedAt"), DesktopInfo.of(data))

    def wait_for_drawn(self, region: Region, seconds: float) -> tuple[bool, DesktopInfo]:
        """Whether ``region`` shows more than one colour within ``seconds`` (looked at on every drawn message)."""
        data = self.wait("waitForDrawn(arguments[0], arguments[1])", _box(region), seconds * 1000, seconds=seconds)
        if not isinstance(data, dict):
            raise VncError(f"The viewer page on {self.description} failed", str(data))
        return bool(data.get("drawn")), DesktopInfo.of(data)

    def wait_for_quiet(self, quiet: float, limit: float) -> None:
        self.wait("waitForQuiet(arguments[0], arguments[1])", quiet * 1000, limit * 1000, seconds=limit)

    # -- input ---------------------------------------------------------------------------------------
    def focus(self) -> None:
        if not self.script("return kit.focus()"):
            raise VncError(f"The desktop at {self.description} did not take the keyboard focus",
                           "noVNC's canvas is not the page's active element", "click on the desktop first")

    def type(self, text: str) -> None:
        from selenium.webdriver.common.action_chains import ActionChains

        self.focus()
        ActionChains(self.driver).send_keys(text).perform()

    def click(self, x: int, y: int, button: str = "left") -> None:
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        info = self.require_connected()
        if not (0 <= x < info.width and 0 <= y < info.height):
            raise VncError(f"Cannot click at {x},{y}", f"the desktop is {info.width}x{info.height}",
                           "click inside the desktop")
        canvas = self.driver.find_element(By.CSS_SELECTOR, "#screen canvas")
        actions = ActionChains(self.driver).move_to_element_with_offset(
            canvas, x - info.width // 2, y - info.height // 2)
        (actions.context_click() if button == "right" else actions.click()).perform()

    # -- screenshots and the end -----------------------------------------------------------------------
    def screenshot(self) -> bytes:
        """The browser's window as PNG (kept as the last screenshot)."""
        self.last_png = self.driver.get_screenshot_as_png()
        return self.last_png

    def close(self) -> None:
        """End the browser, its driver and the page server (safe to call twice)."""
        if self.closed:
            return
        self.closed = True
        if self.driver is not None:
            with contextlib.suppress(Exception):  # a dead page: the browser is ended below anyway
                self.script("kit.disconnect()")
        chromium.stop(self.driver, self.process, self.home)
        if self.pages is not None:
            self.pages.stop()


def _box(region: Region) -> list[int]:
    return [region.x, region.y, region.width, region.height]


def decode(data_url: str) -> Image.Image:
    """A ``data:image/png;base64,...`` URL from the page as an RGB image."""
    payload = data_url.split(",", 1)[1]
    return Image.open(io.BytesIO(base64.b64decode(payload))).convert("RGB")
