"""The kept framebuffer: updates, screenshots, waiting for change, colours of regions."""

from __future__ import annotations

import time
from pathlib import Path

from robot.api import logger
from robot.api.deco import keyword

from kitcore import Check, Wait, getter
from kitcore.logging import log_png
from VncKit.compare import check_same_screen
from VncKit.encodings import NAMES, PIXEL_ENCODINGS
from VncKit.framebuffer import colour_hex, parse_colour
from VncKit.keywords.base import KeywordGroup
from VncKit.rfb import Update
from VncKit.screen import refresh, wait_for_change

PIXEL_NAMES = {NAMES[code] for code in PIXEL_ENCODINGS.values()}


class FramebufferKeywords(KeywordGroup):
    @keyword("Request Full Update", tags=["framebuffer"])
    def request_full_update(self, region: str | None = None, timeout: str | None = None,
                            alias: str | None = None) -> float:
        """Ask for every pixel of the screen (or ``region``) and wait until it has arrived.

        Returns the seconds it took. ``region`` is ``x,y,width,height``.

        Example:
        | Request Full Update |
        | Request Full Update | 0,0,100,100 | timeout=5s |
        """
        client = self.client(alias)
        area = self.region(client, region)
        update = refresh(client, area, self.seconds(timeout, client.timeout))
        seconds = update.finished - update.started
        logger.info(f"Full update of {area}: {len(update.rects)} rectangles, {update.nbytes} bytes")
        return seconds

    @keyword("Request Incremental Update", tags=["framebuffer"])
    def request_incremental_update(self, region: str | None = None, timeout: str = "1s",
                                   alias: str | None = None) -> int:
        """Ask for what changed on the screen (or ``region``) and apply the updates that arrive within ``timeout``.

        The server answers only when pixels changed, so no update within ``timeout`` is not an
        error. Returns the number of updates applied.

        Example:
        | ${updates} = | Request Incremental Update | timeout=500ms |
        """
        client = self.client(alias)
        area = self.region(client, region)
        budget = self.seconds(timeout, 1.0)
        deadline = time.monotonic() + budget
        client.request_update(True, area)
        count = 0
        while (message := client.next_message(deadline)) is not None:
            if isinstance(message, Update):
                count += 1
                client.request_update(True, area)
        logger.info(f"{count} incremental updates of {area} in {budget:g} s")
        return count

    @keyword("Take VNC Screenshot", tags=["framebuffer"])
    def take_vnc_screenshot(self, path: str | None = None, region: str | None = None, refresh_first: bool = True,
                            alias: str | None = None) -> str | None:
        """Embed the screen (or ``region``) as a PNG in log.html; with ``path``, also save it there.

        By default the screen is fetched fresh first; ``refresh_first=False`` uses the framebuffer
        as last received. Returns the saved file's path, or None.

        Example:
        | Take VNC Screenshot |
        | Take VNC Screenshot | ${OUTPUT_DIR}/desktop.png |
        """
        client = self.client(alias)
        area = self.region(client, region)
        if refresh_first:
            refresh(client, area)
        png = client.framebuffer.png(area)
        log_png(f"VNC screen of {client.description} ({area.width}x{area.height})", png,
                width=min(area.width, 800))
        if path:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(png)
            logger.info(f"Saved the screenshot to {target}")
            return str(target)
        return None

    @keyword("Wait Until Screen Changes", tags=["framebuffer", "wait"])
    def wait_until_screen_changes(self, region: str | None = None, timeout: str = "10s",
                                  alias: str | None = None) -> float:
        """Wait until the screen (or ``region``) differs from the framebuffer as last received.

        The comparison base is what VncKit last saw, so input sent just before this keyword counts.
        Call `Request Full Update` first for a fresh base. Returns the seconds waited.

        Example:
        | Press Key On Desktop | a |
        | Wait Until Screen Changes | timeout=2s |
        """
        client = self.client(alias)
        area = self.region(client, region)
        change = wait_for_change(client, area, self.seconds(timeout, 10.0))
        logger.info(f"Region {area} changed after {change.elapsed * 1000:.1f} ms ({change.updates} updates)")
        return change.elapsed

    @keyword("Get Used Encodings", tags=["framebuffer", "getter"])
    @getter
    def get_used_encodings(self, *, check: Check, alias: str | None = None) -> list[str]:
        """The pixel encodings the server has used on this connection so far (``Tight``, ``ZRLE``...).

        What the connection asked for and how the rectangles were coded (``Tight jpeg``,
        ``ZRLE palette-rle``, ``Hextile subrects``...) are logged with their counts.

        Example:
        | Request Full Update |
        | Get Used Encodings | contains | Tight |
        """
        client = self.client(alias)
        logger.info(f"Asked for {', '.join(client.encoding_names)}; rectangles by encoding: "
                    f"{dict(client.rects_by_encoding)}; coded as: {dict(client.decoded)}")
        return check(lambda: [name for name, _ in client.rects_by_encoding.most_common()
                              if name in PIXEL_NAMES], "Encodings used by the server")

    @keyword("Screens Should Match", tags=["framebuffer", "assertion"])
    def screens_should_match(self, alias: str, other: str, max_mean_error: float = 0.0, max_error: int = 0,
                             outliers: float = 0.0, region: str | None = None) -> None:
        """Fetch the whole screen (or ``region``) on two connections and fail unless they show the same pixels.

        Two connections to one desktop with different ``encodings=`` must decode it alike: equal
        pixel for pixel by default. For a lossy encoding (Tight with ``jpeg_quality``) allow a mean
        channel error ``max_mean_error`` and a share ``outliers`` (0-1) of the pixels off by more
        than ``max_error`` in a channel. The screen must stay still meanwhile.

        Example:
        | Connect To VNC | ${address} | encodings=Raw | alias=raw |
        | Connect To VNC | ${address} | encodings=ZRLE | alias=zrle |
        | Screens Should Match | raw | zrle |
        | Connect To VNC | ${address} | encodings=Tight | jpeg_quality=6 | alias=jpeg |
        | Screens Should Match | raw | jpeg | max_mean_error=3 | max_error=48 | outliers=0.01 |
        """
        first, second = self.client(alias), self.client(other)
        area = self.region(first, region)
        self.region(second, str(area))
        refresh(first, area)
        refresh(second, area)
        found = check_same_screen(
            first.framebuffer.image.crop(area.box), second.framebuffer.image.crop(area.box),
            f"The screen of '{other}' ({', '.join(second.encoding_names)}) compared with '{alias}'",
            float(max_mean_error), int(max_error), float(outliers))
        logger.info(f"Screens of '{alias}' and '{other}' in {area}: {found}")

    @keyword("Get Region Color", tags=["framebuffer", "getter"])
    @getter
    def get_region_color(self, region: str | None = None, *, check: Check, alias: str | None = None) -> str:
        """The most frequent colour in ``region`` (``x,y,width,height``; empty for the whole screen) as ``#rrggbb``.

        The region is fetched fresh on every try; with ``timeout`` the assertion is retried.

        Example:
        | Get Region Color | 0,0,50,50 | == | #000000 |
        """
        client = self.client(alias)
        area = self.region(client, region)

        def probe() -> str:
            refresh(client, area)
            return colour_hex(client.framebuffer.dominant_colour(area))

        value = check(probe, f"Colour of region {area}")
        if check.operator is None:
            logger.info(f"Colour of region {area}: {value}")
        return value

    @keyword("Region Should Have Color", tags=["framebuffer", "wait"])
    def region_should_have_color(self, region: str | None, color: str, tolerance: int = 0, share: float = 1.0,
                                 timeout: str = "5s", alias: str | None = None) -> None:
        """Wait until at least ``share`` (0-1) of the pixels of ``region`` have ``color`` (± ``tolerance`` per channel).

        Example:
        | Region Should Have Color | 8,8,14,14 | #ffffff |
        | Region Should Have Color | ${EMPTY} | black | share=0.9 | timeout=2s |
        """
        client = self.client(alias)
        area = self.region(client, region)
        wanted = parse_colour(color)

        def probe() -> float:
            refresh(client, area)
            return client.framebuffer.share_of_colour(area, wanted, int(tolerance))

        def describe(found: float) -> str:
            common = ", ".join(f"{colour_hex(c)} x{n}" for n, c in client.framebuffer.colours(area)[:3])
            return f"{found:.1%} of the pixels matched; most common: {common}"

        wait = Wait(f"Region {area} to have colour {colour_hex(wanted)} (share {share:g}, tolerance {tolerance})",
                    self.seconds(timeout, 5.0), 0.1)
        outcome = wait.until(probe, lambda found: found >= float(share), describe)
        logger.info(f"Region {area}: {outcome.value:.1%} {colour_hex(wanted)} after {outcome.tries} tries")

    @keyword("Wait Until Desktop Is Drawn", tags=["framebuffer", "wait"])
    def wait_until_desktop_is_drawn(self, region: str | None = None, timeout: str = "10s",
                                    alias: str | None = None) -> None:
        """Wait until the desktop (or ``region``) shows more than one colour: a program has drawn on it.

        A session's VNC server may answer while the programs of its desktop are still starting: the screen is
        then the X server's plain background, and a click or a key sent now reaches no program. Wait for the
        desktop before interacting with it, as a user waits to see it.

        Example:
        | Connect To VNC | ${url} |
        | Wait Until Desktop Is Drawn | timeout=10s |
        """
        client = self.client(alias)
        area = self.region(client, region)

        def probe() -> list[tuple[int, tuple[int, int, int]]]:
            refresh(client, area)
            return client.framebuffer.colours(area)[:2]

        def describe(found: list[tuple[int, tuple[int, int, int]]]) -> str:
            return f"one colour only ({colour_hex(found[0][1])})" if found else "no pixels"

        wait = Wait(f"The desktop {area} of {client.description} to be drawn (more than one colour)",
                    self.seconds(timeout, 10.0), 0.1)
        outcome = wait.until(probe, lambda found: len(found) > 1, describe)
        logger.info(f"The desktop {area} is drawn (after {outcome.tries} tries, {outcome.elapsed:.2f} s)")
