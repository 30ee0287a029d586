"""Downtime windows from a series of up/down observations (pure functions, unit tested)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """A period of unavailability: from the first failed check to the first good one after it.

    ``open`` means it had not ended when the probe stopped (``end`` is then the last check).
    """

    start: float
    end: float
    open: bool = False

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


def downtime_windows(samples: Iterable[tuple[float, bool]]) -> list[Window]:
    """``[(time, ok), ...]`` (any order) -> the windows where checks failed."""
    windows: list[Window] = []
    down_since: float | None = None
    last = 0.0
    for when, ok in sorted(samples, key=lambda s: s[0]):
        last = when
        if not ok and down_since is None:
            down_since = when
        elif ok and down_since is not None:
            windows.append(Window(down_since, when))
            down_since = None
    if down_since is not None:
        windows.append(Window(down_since, last, open=True))
    return windows


def merge_any_up(series: dict[str, Sequence[tuple[float, bool]]]) -> list[tuple[float, bool]]:
    """One series from several: up at a moment when *any* member's latest check was good.

    Before every member has been checked once, the members not yet seen do not count.
    """
    events = sorted((when, key, ok) for key, samples in series.items() for when, ok in samples)
    state: dict[str, bool] = {}
    merged: list[tuple[float, bool]] = []
    for when, key, ok in events:
        state[key] = ok
        merged.append((when, any(state.values())))
    return merged


def summarise(windows: Sequence[Window]) -> dict[str, float | int]:
    return {
        "downtime": round(sum(w.seconds for w in windows), 3),
        "longest_downtime": round(max((w.seconds for w in windows), default=0.0), 3),
        "outages": len(windows),
    }


def longest_gap(arrivals: Sequence[float], start: float, end: float) -> float:
    """The longest time with no arrival between ``start`` and ``end`` (edges included)."""
    points = [start, *sorted(arrivals), end]
    return max((b - a for a, b in itertools.pairwise(points)), default=0.0)
