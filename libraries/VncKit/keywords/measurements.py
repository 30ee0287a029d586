"""Latency, throughput and stability measurements. Durations in seconds, throughput in bytes/s."""

from __future__ import annotations

import time

from robot.api import logger
from robot.api.deco import keyword

from kitcore.logging import log_table
from VncKit.errors import VncError
from VncKit.keysyms import key_combo
from VncKit.keywords.base import KeywordGroup
from VncKit.rfb import RfbClient
from VncKit.screen import input_change, refresh, stream, summary


def log_samples(title: str, samples: list[float]) -> dict[str, float]:
    stats = summary(samples)
    rows = [[i + 1, f"{s * 1000:.2f}"] for i, s in enumerate(samples)]
    if len(samples) > 1:
        log_table(f"{title} (ms)", ["sample", "ms"], rows)
    logger.info(f"{title}: median {stats['median'] * 1000:.2f} ms, p95 {stats['p95'] * 1000:.2f} ms, "
                f"min {stats['min'] * 1000:.2f} ms, max {stats['max'] * 1000:.2f} ms (n={stats['n']})")
    return stats


def encodings_asked(client: RfbClient) -> str:
    """What a figure was measured with: ``asked for Tight (CopyRect, Tight, ZRLE, ...)``."""
    return f"asked for {client.preferred_encoding} ({', '.join(client.encoding_names)})"


def encodings_used(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} x{count}" for name, count in counts.items()) or "no pixel encoding"


def check_samples(samples: int) -> int:
    if int(samples) < 1:
        raise VncError(f"samples={samples} measures nothing", fix="use samples=1 or more")
    return int(samples)


class MeasurementKeywords(KeywordGroup):
    @keyword("Measure Connect Latency", tags=["measurement"])
    def measure_connect_latency(self, samples: int = 1, alias: str | None = None) -> float:
        """Seconds to open a new connection to the current connection's server and finish the handshake.

        Covers TCP (or WebSocket upgrade), version, security (and authentication) and ServerInit.
        Each sample uses a new connection (asking for the same encodings), closed at once. Returns
        the median of ``samples``; the log names the encodings asked for.

        Example:
        | ${seconds} = | Measure Connect Latency | samples=10 |
        | Should Be True | ${seconds} < 0.5 |
        """
        client = self.client(alias)
        values = []
        for _ in range(check_samples(samples)):
            probe = client.reopen().connect()
            probe.close()
            values.append(probe.timings.handshake)
        return log_samples(f"Connect latency to {client.description}, {encodings_asked(client)}",
                           values)["median"]

    @keyword("Measure Time To First Frame", tags=["measurement"])
    def measure_time_to_first_frame(self, samples: int = 1, alias: str | None = None) -> float:
        """Seconds from opening a new connection until the first full framebuffer has arrived.

        Each sample: connect, handshake, ask for the whole screen, wait for every pixel, close.
        Returns the median of ``samples``; the log gives the encodings the frame came in and its bytes.

        Example:
        | ${seconds} = | Measure Time To First Frame |
        """
        client = self.client(alias)
        values = []
        sizes = []
        used: dict[str, int] = {}
        for _ in range(check_samples(samples)):
            probe = client.reopen().connect()
            try:
                update = refresh(probe)
            finally:
                probe.close()
            values.append(update.finished - probe.timings.started)
            sizes.append(update.nbytes)
            for name in update.encodings:
                used[name] = used.get(name, 0) + 1
        logger.info(f"First frame of {client.width}x{client.height}: {min(sizes)}-{max(sizes)} bytes in "
                    f"{encodings_used(used)}")
        return log_samples(f"Time to first frame from {client.description}, {encodings_asked(client)}",
                           values)["median"]

    @keyword("Measure Input Latency", tags=["measurement"])
    def measure_input_latency(self, key: str = "a", samples: int = 1, region: str | None = None,
                              timeout: str = "5s", alias: str | None = None) -> float:
        """Seconds from sending a key press until an update shows changed pixels (screen or ``region``).

        Needs a desktop that visibly reacts to the key (a text field, a terminal...). Each sample
        first brings the framebuffer up to date, then keeps an incremental request outstanding,
        presses and releases ``key`` and times the first update that changes the pixels.
        Returns the median of ``samples``; the log gives the encodings and the bytes per update
        of the answering updates.

        Example:
        | ${seconds} = | Measure Input Latency | key=a | samples=10 |
        """
        client = self.client(alias)
        area = self.region(client, region)
        codes = key_combo(key)
        budget = self.seconds(timeout, 5.0)

        def press() -> None:
            for code in codes:
                client.key(code, True)
            for code in reversed(codes):
                client.key(code, False)

        changes = [input_change(client, press, area, budget) for _ in range(check_samples(samples))]
        used: dict[str, int] = {}
        for change in changes:
            for name in change.encodings:
                used[name] = used.get(name, 0) + 1
        updates = sum(change.updates for change in changes)
        logger.info(f"Input answered by {updates} updates, {sum(c.nbytes for c in changes) / updates:.0f} bytes per "
                    f"update, in {encodings_used(used)}")
        return log_samples(f"Input latency ({key}) on {client.description}, {encodings_asked(client)}",
                           [change.elapsed for change in changes])["median"]

    @keyword("Measure Stream Throughput", tags=["measurement"])
    def measure_stream_throughput(self, window: str = "3s", incremental: bool = True,
                                  alias: str | None = None) -> float:
        """Bytes per second the server streams over ``window`` of continuous updates.

        One update request is kept outstanding: incremental (the default: the server sends what
        changes, so a still screen streams almost nothing) or, with ``incremental=False``, full
        frames back to back (the link's capacity for Raw frames). Returns bytes/s.

        Example:
        | ${rate} = | Measure Stream Throughput | window=5s |
        """
        client = self.client(alias)
        stats = stream(client, self.seconds(window, 3.0), incremental=bool(incremental))
        logger.info(f"Stream from {client.description}: {stats.nbytes} bytes in {stats.seconds:.2f} s = "
                    f"{stats.bytes_per_second / 1e6:.3f} MB/s ({stats.updates} updates, "
                    f"{stats.bytes_per_update:.0f} bytes per update, {'incremental' if incremental else 'full'} "
                    f"requests; {encodings_asked(client)}; used {encodings_used(stats.encodings)})")
        return stats.bytes_per_second

    @keyword("Check Stream Stability", tags=["measurement"])
    def check_stream_stability(self, duration: str = "10s", gap_threshold: str = "1s", interval: str = "100ms",
                               max_gaps: int | None = None, alias: str | None = None) -> float:
        """Keep the stream open ``duration``; count gaps between updates longer than ``gap_threshold``.

        Every ``interval`` VncKit asks for a small full update (the server must answer at once), so
        on a healthy link updates come about every ``interval``; a stalled server or link shows as
        a gap. Returns the longest gap in seconds. With ``max_gaps`` it fails when there were more.

        Example:
        | ${max_gap} = | Check Stream Stability | duration=5s | gap_threshold=500ms | max_gaps=0 |
        """
        client = self.client(alias)
        threshold = self.seconds(gap_threshold, 1.0)
        area = self.region(client, f"0,0,{min(client.width, 16)},{min(client.height, 16)}")
        start = time.monotonic()
        stats = stream(client, self.seconds(duration, 10.0), incremental=False,
                       interval=self.seconds(interval, 0.1), gap_threshold=threshold, region=area)
        logger.info(f"Stream stability of {client.description} over {time.monotonic() - start:.1f} s: "
                    f"{stats.updates} updates, {len(stats.gaps)} gaps > {threshold * 1000:.0f} ms, "
                    f"longest gap {stats.max_gap * 1000:.1f} ms")
        if max_gaps is not None and len(stats.gaps) > int(max_gaps):
            raise AssertionError(
                f"The VNC stream from {client.description} had {len(stats.gaps)} gaps longer than "
                f"{threshold * 1000:.0f} ms (allowed {max_gaps}); longest {stats.max_gap * 1000:.0f} ms, "
                f"gaps: {', '.join(f'{g * 1000:.0f} ms' for g in stats.gaps[:10])}")
        return stats.max_gap
