"""Per encoding, what a viewer of a local TigerVNC gets: handshake, first frame, input -> pixels, bytes per update.

Starts an Xvnc (VNC authentication) with keyboard_display.py on it (a key press paints a cell), then
for each encoding and each viewer path measures:

- handshake: new connection -> ServerInit (TCP, version, DES auth, init);
- first frame: new connection -> every pixel of the first full update;
- input: key press sent -> first update whose pixels changed;
- bytes/update: the bytes of the updates that answered the key presses, per update.

A path is one way of viewing: ``vnckit`` is VncKit's RFB client over TCP, ``browser`` headless Chromium
running noVNC over a WebSocket bridge (one row: noVNC chooses its encodings). Each path is a function
``(address, label, encodings, jpeg_quality, samples) -> Row`` in ``PATHS``; the rows of every path
and encoding are printed as one table.

    .venv/bin/python benchmarks/vnc_encodings.py [--samples 20] [--geometry 800x600] [--paths vnckit,browser]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for entry in (str(ROOT), str(ROOT / "libraries")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from benchmarks.keyboard_desktop import keyboard_desktop  # noqa: E402
from kitcore.processes import stop_like_ctrl_c  # noqa: E402
from VncKit.encodings import choose_encodings  # noqa: E402
from VncKit.framebuffer import Region  # noqa: E402
from VncKit.rfb import RfbClient  # noqa: E402
from VncKit.screen import input_change, refresh  # noqa: E402
from VncKit.transport import parse_target  # noqa: E402

PASSWORD = "bench-pw"
# (label, encodings asked for, JPEG quality): the browser's default first, then each encoding alone
ENCODINGS = [
    ("browser default", "CopyRect,Tight,ZRLE,Hextile,Raw", 6),
    ("Tight (JPEG 6)", "Tight", 6),
    ("Tight lossless", "Tight", None),
    ("ZRLE", "ZRLE", None),
    ("Hextile", "Hextile", None),
    ("Raw", "Raw", None),
]


@dataclass
class Row:
    path: str
    encoding: str
    handshake: list[float] = field(default_factory=list)
    first_frame: list[float] = field(default_factory=list)
    first_frame_bytes: list[int] = field(default_factory=list)
    input: list[float] = field(default_factory=list)
    input_bytes: int = 0
    input_updates: int = 0
    used: set[str] = field(default_factory=set)


Viewer = Callable[[str, str, str, int | None, int], Row]


def measure_vnckit(address: str, label: str, encodings: str, quality: int | None, samples: int) -> Row:
    """VncKit's RFB client over TCP, asking for ``encodings`` only."""
    asked = choose_encodings(encodings, quality, 2)
    row = Row("vnckit", label)
    for _ in range(samples):
        client = RfbClient(parse_target(address), PASSWORD, timeout=10, encodings=asked).connect()
        try:
            row.handshake.append(client.timings.handshake)
            update = refresh(client)
            row.first_frame.append(update.finished - client.timings.started)
            row.first_frame_bytes.append(update.nbytes)
            row.used.update(update.encodings)
        finally:
            client.close()
    client = RfbClient(parse_target(address), PASSWORD, timeout=10, encodings=asked).connect()
    try:
        refresh(client)
        region = Region(0, 0, client.width, client.height)

        def press() -> None:
            client.key(0x61, True)
            client.key(0x61, False)

        for _ in range(samples):
            change = input_change(client, press, region, timeout=5)
            row.input.append(change.elapsed)
            row.input_bytes += change.nbytes
            row.input_updates += change.updates
            row.used.update(change.encodings)
    finally:
        client.close()
    return row


def measure_browser(address: str, label: str, encodings: str, quality: int | None, samples: int) -> Row:
    """Headless Chromium running noVNC on the kit's viewer page (VncKit's browser keywords), over a WebSocket
    bridge to the server; noVNC asks for its own encodings, so ``encodings`` is not used. The page's clock
    times the handshake (connect -> handshake done), the first frame (connect -> the last message of the
    first update) and input (key event -> the message after which the screen changed)."""
    from tests.support.ws_bridge import WsBridge
    from VncKit.browser.desktop import BrowserDesktop

    row = Row("browser", "noVNC's own")
    port = int(address.rsplit(":", 1)[1])
    with WsBridge(port) as bridge:
        desktop = BrowserDesktop(f"the benchmark's desktop through {bridge.url}", timeout=10)
        desktop.launch()
        try:
            for _ in range(samples):
                desktop.load_page()
                desktop.connect(bridge.url, None, PASSWORD)
                desktop.wait_for_quiet(0.2, 5)  # the first update has arrived whole
                times = desktop.timings()
                row.handshake.append((times["connectedAt"] - times["startedAt"]) / 1000)
                row.first_frame.append((times["lastMessage"] - times["startedAt"]) / 1000)
                row.first_frame_bytes.append(int(times["bytes"] - times["bytesAtConnect"]))
            region = desktop.region(None)
            for _ in range(samples):
                before = desktop.timings()
                desktop.mark(region)
                desktop.type("a")
                change = desktop.wait_for_change(region, 5)
                if change.echo is None:
                    raise SystemExit(f"the browser's desktop did not show a key within 5 s: {change.info}")
                row.input.append(change.echo)
                desktop.wait_for_quiet(0.1, 2)
                after = desktop.timings()
                row.input_bytes += int(after["bytes"] - before["bytes"])
                row.input_updates += int(after["messages"] - before["messages"])
        finally:
            desktop.close()
    row.used.add("noVNC: Tight, ZRLE, Hextile, CopyRect, Raw (its choice)")
    return row


PATHS: dict[str, Viewer] = {"vnckit": measure_vnckit, "browser": measure_browser}


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:.2f}" if samples else "-"


def print_table(rows: list[Row], geometry: str, samples: int) -> None:
    print(f"Viewers of TigerVNC {geometry} (VNC authentication, loopback), medians of n={samples} "
          f"({time.strftime('%Y-%m-%d %H:%M')})")
    head = (f"{'path':<8} {'encoding':<16} {'handshake ms':>12} {'1st frame ms':>12} {'1st frame B':>11} "
            f"{'input ms':>9} {'B/update':>9}  used")
    print(head)
    print("-" * len(head))
    for row in rows:
        per_update = f"{row.input_bytes / row.input_updates:.0f}" if row.input_updates else "-"
        frame_bytes = f"{statistics.median(row.first_frame_bytes):.0f}" if row.first_frame_bytes else "-"
        print(f"{row.path:<8} {row.encoding:<16} {median_ms(row.handshake):>12} {median_ms(row.first_frame):>12} "
              f"{frame_bytes:>11} {median_ms(row.input):>9} {per_update:>9}  {', '.join(sorted(row.used))}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--geometry", default="800x600")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated, of: {', '.join(PATHS)}")
    args = parser.parse_args()
    paths = [name.strip() for name in args.paths.split(",") if name.strip()]
    unknown = [name for name in paths if name not in PATHS]
    if unknown:
        parser.error(f"unknown path {', '.join(unknown)}; known: {', '.join(PATHS)}")
    stop_like_ctrl_c()
    rows: list[Row] = []
    with keyboard_desktop(PASSWORD, args.geometry) as server:
        address = f"127.0.0.1:{server.port}"
        for name in paths:
            for label, encodings, quality in ENCODINGS if name != "browser" else ENCODINGS[:1]:
                rows.append(PATHS[name](address, label, encodings, quality, args.samples))
    print_table(rows, args.geometry, args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
