"""Measured figures: the ``figure <name> = <value> <unit>`` lines of the kit's suites."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

FIGURE_LINE = re.compile(r"^\s*figure\s+(?P<name>[^\s=]+)\s*=\s*(?P<rest>.*?)\s*$")


@dataclass(frozen=True)
class Figure:
    """One measured figure; ``number`` is set when the value is numeric."""

    name: str
    value: str
    unit: str = ""

    @property
    def number(self) -> float | None:
        try:
            number = float(self.value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None

    @property
    def text(self) -> str:
        return f"{self.value} {self.unit}".strip()


def parse_figure(line: str) -> Figure | None:
    """A figure from one line, or None when the line is not a figure line."""
    match = FIGURE_LINE.match(line)
    if not match:
        return None
    rest = match.group("rest")
    value, _, unit = rest.partition(" ")
    candidate = Figure(match.group("name"), value, unit.strip())
    if candidate.number is not None:
        return candidate
    return Figure(match.group("name"), rest.strip().strip('"'), "")  # a text figure keeps all its words


def parse_figure_lines(text: str) -> list[Figure]:
    """Every figure line in a (multi-line) text, in order."""
    figures = []
    for line in (text or "").splitlines():
        figure = parse_figure(line)
        if figure is not None:
            figures.append(figure)
    return figures


def merge(*sources: Iterable[Figure]) -> dict[str, Figure]:
    """Figures by name; a later source (or a later line) wins for the same name."""
    merged: dict[str, Figure] = {}
    for source in sources:
        for figure in source:
            merged[figure.name] = figure
    return merged


SERIES = re.compile(r"^(?P<base>.+?)_(?:at_|c)(?P<step>\d+)$")


def concurrency_series(figures: Iterable[Figure]) -> dict[str, list[tuple[int, Figure]]]:
    """Figures measured per concurrency step (``throughput_c5``, ``sessions_per_minute_at_10``),
    by series name, sorted by step; only series with at least two numeric steps."""
    series: dict[str, list[tuple[int, Figure]]] = {}
    for figure in figures:
        match = SERIES.match(figure.name)
        if match and figure.number is not None:
            series.setdefault(match.group("base"), []).append((int(match.group("step")), figure))
    return {base: sorted(points, key=lambda p: p[0]) for base, points in series.items() if len(points) >= 2}


RECOVERY_WORDS = ("failover", "election", "reconnect", "recovery", "downtime", "outage", "converge")


def recovery_figures(figures: Iterable[Figure]) -> list[Figure]:
    """Durations (in seconds) measured from a fault to a recovery: the bars of a failover timeline."""
    return [f for f in figures
            if f.unit == "s" and f.number is not None and any(w in f.name for w in RECOVERY_WORDS)]
