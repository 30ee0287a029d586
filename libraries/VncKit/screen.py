"""Operations over an open RFB connection: refresh, wait for change, measure timings.

These are plain functions over :class:`RfbClient`, shared by the keywords and the benchmark.
All times are seconds from ``time.monotonic``.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from kitcore.errors import WaitTimeout
from VncKit.framebuffer import Region
from VncKit.rfb import RfbClient, Update


def refresh(client: RfbClient, region: Region | None = None, timeout: float | None = None) -> Update:
    """Ask for a full (non-incremental) update of ``region`` and read until it has arrived."""
    region = region or Region(0, 0, client.width, client.height)
    budget = client.timeout if timeout is None else timeout
    start = time.monotonic()
    deadline = start + budget
    client.request_update(False, region)
    seen = 0
    while True:
        message = client.next_message(deadline)
        if message is None:
            raise WaitTimeout(f"Full update of {region} from {client.description}",
                              f"{seen} partial updates", seen + 1, time.monotonic() - start, budget)
        if isinstance(message, Update):
            seen += 1
            if message.covers(region):
                return message


@dataclass
class Change:
    elapsed: float
    updates: int
    finished: float
    nbytes: int = 0  # the bytes of the updates up to and including the one that changed the pixels
    encodings: list[str] = field(default_factory=list)  # the pixel encodings those updates used


def wait_for_change(client: RfbClient, region: Region, timeout: float, baseline: bytes | None = None,
                    started: float | None = None, already_requested: bool = False) -> Change:
    """Keep one incremental request outstanding until the region's pixels differ from ``baseline``.

    ``already_requested`` says the caller has just sent a request itself (the client knows of
    requests it sent; the flag is kept for callers that say so explicitly)."""
    baseline = client.framebuffer.rgb_bytes(region) if baseline is None else baseline
    start = time.monotonic() if started is None else started
    deadline = start + timeout
    updates = 0
    nbytes = 0
    encodings: dict[str, None] = {}
    client.request_pending = client.request_pending or already_requested
    while True:
        if not client.request_pending:
            client.request_update(True, region)
        message = client.next_message(deadline)
        if isinstance(message, Update):
            updates += 1
            nbytes += message.nbytes
            encodings.update(dict.fromkeys(message.encodings))
            if client.framebuffer.rgb_bytes(region) != baseline:
                return Change(message.finished - start, updates, message.finished, nbytes, list(encodings))
        if message is None:
            raise WaitTimeout(f"Screen region {region} of {client.description} to change",
                              f"{updates} updates, none changing the region's pixels", updates + 1,
                              time.monotonic() - start, timeout)


def catch_up(client: RfbClient, region: Region, quiet: float = 0.05, limit: float = 2.0) -> None:
    """Bring the region up to date with incremental updates, leaving one request outstanding.

    Done once the server has stayed quiet for ``quiet`` seconds with a request pending (nothing
    changed since the last update). Cheaper than a full refresh on a slow link.
    """
    end = time.monotonic() + limit
    if not client.request_pending:
        client.request_update(True, region)
    while time.monotonic() < end:
        message = client.next_message(min(end, time.monotonic() + quiet))
        if message is None:
            return
        if isinstance(message, Update) and not client.request_pending:
            client.request_update(True, region)


def input_latency(client: RfbClient, send_input: Callable[[], None], region: Region, timeout: float) -> float:
    """Seconds from sending input until an update shows changed pixels in ``region``."""
    return input_change(client, send_input, region, timeout).elapsed


def input_change(client: RfbClient, send_input: Callable[[], None], region: Region, timeout: float) -> Change:
    """The change that answers input: seconds from sending it until an update shows changed pixels
    in ``region``, with the bytes and encodings of the updates it took."""
    catch_up(client, region)
    baseline = client.framebuffer.rgb_bytes(region)
    start = time.monotonic()
    send_input()
    return wait_for_change(client, region, timeout, baseline, start, already_requested=True)


@dataclass
class StreamStats:
    seconds: float
    updates: int
    nbytes: int
    max_gap: float
    gaps: list[float]
    encodings: dict[str, int] = field(default_factory=dict)  # updates per pixel encoding used

    @property
    def bytes_per_second(self) -> float:
        return self.nbytes / self.seconds if self.seconds > 0 else 0.0

    @property
    def bytes_per_update(self) -> float:
        return self.nbytes / self.updates if self.updates else 0.0


def stream(client: RfbClient, duration: float, incremental: bool = True, interval: float = 0.0,
           gap_threshold: float = float("inf"), region: Region | None = None) -> StreamStats:
    """Keep updates flowing for ``duration`` seconds; count bytes, updates and gaps between updates.

    One request is kept outstanding: incremental ones (the server answers when pixels change),
    or non-incremental ones (the server must answer at once) sent at most every ``interval``.
    """
    region = region or Region(0, 0, client.width, client.height)
    assert client.reader is not None
    start = time.monotonic()
    end = start + duration
    bytes_before = client.reader.bytes_in
    last = start
    updates = 0
    gaps: list[float] = []
    max_gap = 0.0
    encodings: dict[str, int] = {}
    next_request = start
    outstanding = False
    while True:
        now = time.monotonic()
        if now >= end:
            break
        if incremental and client.request_pending:
            outstanding = True  # the viewer keeps its own incremental request pending
        elif not outstanding and now >= next_request:
            client.request_update(incremental, region)
            outstanding = True
            next_request = now + interval
        wait_until = end if outstanding else min(end, next_request)
        message = client.next_message(wait_until)
        if isinstance(message, Update):
            updates += 1
            outstanding = False
            for name in message.encodings:
                encodings[name] = encodings.get(name, 0) + 1
            gap = message.finished - last
            last = message.finished
            max_gap = max(max_gap, gap)
            if gap > gap_threshold:
                gaps.append(gap)
    tail = end - last
    max_gap = max(max_gap, tail)
    if tail > gap_threshold:
        gaps.append(tail)
    return StreamStats(time.monotonic() - start, updates, client.reader.bytes_in - bytes_before, max_gap, gaps,
                       encodings)


def summary(samples: list[float]) -> dict[str, float]:
    """Median, p95, min, max and n of a list of seconds."""
    ordered = sorted(samples)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"n": len(ordered), "median": statistics.median(ordered), "p95": p95,
            "min": ordered[0], "max": ordered[-1]}
