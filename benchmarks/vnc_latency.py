"""Handshake and input-to-update latency of VncKit's RFB client against a local TigerVNC.

Starts an Xvnc (VNC authentication) with keyboard_display.py on it and a WebSocket bridge in front,
then measures over TCP and over WebSocket:

- handshake: new connection -> ServerInit (TCP or WebSocket upgrade, version, DES auth, init);
- first frame: new connection -> every pixel of the first full update;
- input: key press sent -> first update whose pixels changed.

    .venv/bin/python benchmarks/vnc_latency.py [--samples 30] [--geometry 800x600]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for entry in (str(ROOT), str(ROOT / "libraries")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from benchmarks.keyboard_desktop import keyboard_desktop  # noqa: E402
from kitcore.processes import stop_like_ctrl_c  # noqa: E402
from tests.support.ws_bridge import WsBridge  # noqa: E402
from VncKit.framebuffer import Region  # noqa: E402
from VncKit.rfb import RfbClient  # noqa: E402
from VncKit.screen import input_latency, refresh, summary  # noqa: E402
from VncKit.transport import parse_target  # noqa: E402

PASSWORD = "bench-pw"


def measure(address: str, samples: int) -> dict[str, dict[str, float]]:
    handshakes, first_frames, inputs = [], [], []
    for _ in range(samples):
        client = RfbClient(parse_target(address), PASSWORD, timeout=10).connect()
        handshakes.append(client.timings.handshake)
        first_frames.append(refresh(client).finished - client.timings.started)
        client.close()
    client = RfbClient(parse_target(address), PASSWORD, timeout=10).connect()
    refresh(client)
    region = Region(0, 0, client.width, client.height)

    def press() -> None:
        client.key(0x61, True)
        client.key(0x61, False)

    for _ in range(samples):
        inputs.append(input_latency(client, press, region, timeout=5))
    client.close()
    return {"handshake": summary(handshakes), "first frame": summary(first_frames), "input": summary(inputs)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--geometry", default="800x600")
    args = parser.parse_args()
    stop_like_ctrl_c()
    with keyboard_desktop(PASSWORD, args.geometry) as server, WsBridge(server.port) as bridge:
        results = {
            "TCP": measure(f"127.0.0.1:{server.port}", args.samples),
            "WebSocket": measure(bridge.url, args.samples),
        }
    print(f"VncKit latency against TigerVNC {args.geometry}, VNC authentication, n={args.samples} per row "
          f"({time.strftime('%Y-%m-%d %H:%M')})")
    print(f"{'transport':<10} {'measure':<12} {'median ms':>10} {'p95 ms':>9} {'min ms':>8} {'max ms':>8}")
    for transport, rows in results.items():
        for name, stats in rows.items():
            print(f"{transport:<10} {name:<12} {stats['median'] * 1000:>10.2f} {stats['p95'] * 1000:>9.2f} "
                  f"{stats['min'] * 1000:>8.2f} {stats['max'] * 1000:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
