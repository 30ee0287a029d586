"""Measured figures: the ``figure <name> = <value> <unit>`` lines of the kit's suites.

A figure may carry its budget and its resolution in brackets after the unit::

    figure session_start_seconds = 0.412 s (at most 8.3 s; resolution 0.031 s)
    figure sessions_per_minute_at_5 = 41.2 (at least 10)

Every figure is a number with a budget (``at most`` or ``at least``): a figure with no budget, or one
that is not a number, is a kit error (:func:`kit_errors`), which the reports list. A duration (unit
``s``, ``ms`` or ``min``) must also say its resolution, at most a tenth of its budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

FIGURE_LINE = re.compile(r"^\s*figure\s+(?P<name>[^\s=]+)\s*=\s*(?P<rest>.*?)\s*$")
NOTES = re.compile(r"\s*\((?P<notes>(?:at most|at least|resolution)\b[^()]*)\)\s*$")
NOTE = re.compile(r"^(?P<key>at most|at least|resolution)\s+(?P<number>[-+0-9.eE]+)(?:\s+(?P<unit>\S+))?$")
DURATION_UNITS = {"s": 1.0, "ms": 0.001, "min": 60.0}
RESOLUTION_SHARE = 0.1  # a figure's resolution may be at most this share of its budget


@dataclass(frozen=True)
class Figure:
    """One measured figure; ``number`` is set when the value is numeric."""

    name: str
    value: str
    unit: str = ""
    budget: float | None = None
    budget_kind: str = ""  # "at most" or "at least"
    resolution: float | None = None

    @property
    def is_duration(self) -> bool:
        return self.unit in DURATION_UNITS and self.number is not None

    @property
    def notes(self) -> str:
        """``at most 8.3 s; resolution 0.031 s`` (empty when the figure carries neither)."""
        parts = []
        if self.budget is not None:
            parts.append(f"{self.budget_kind} {self.budget:g} {self.unit}".rstrip())
        if self.resolution is not None:
            parts.append(f"resolution {self.resolution:g} {self.unit}".rstrip())
        return "; ".join(parts)

    @property
    def number(self) -> float | None:
        try:
            number = float(self.value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None

    @property
    def text(self) -> str:
        """The value and unit, with the budget and resolution when it carries them."""
        base = f"{self.value} {self.unit}".strip()
        return f"{base} ({self.notes})" if self.notes else base


def figure_line(figure: Figure) -> str:
    """The line that records ``figure`` (what :func:`parse_figure` reads back)."""
    return f"figure {figure.name} = {figure.text}"


def _with_notes(figure: Figure, notes: str) -> Figure | None:
    budget: float | None = None
    kind = ""
    resolution: float | None = None
    for part in notes.split(";"):
        match = NOTE.match(part.strip())
        if not match:
            return None
        number = float(match.group("number"))
        if match.group("key") == "resolution":
            resolution = number
        else:
            kind, budget = match.group("key"), number
    return Figure(figure.name, figure.value, figure.unit, budget, kind, resolution)


def kit_errors(figure: Figure) -> list[str]:
    """What makes a figure unfit to judge a promise: no number, no budget, and for a duration no
    resolution or one coarser than a tenth of its budget."""
    if figure.number is None:
        return [f"figure {figure.name} = {figure.value} is not a number: log a text, record a number"]
    errors = []
    if figure.budget is None:
        kind = "a duration" if figure.is_duration else "a figure"
        errors.append(f"figure {figure.name} = {figure.value} {figure.unit} is {kind} with no budget to compare "
                      "it with".replace("  ", " "))
    if not figure.is_duration:
        return errors
    if figure.resolution is None:
        errors.append(f"figure {figure.name} = {figure.value} {figure.unit} does not say how finely it was measured")
    elif figure.budget is not None and figure.resolution > RESOLUTION_SHARE * figure.budget + 1e-12:
        errors.append(f"figure {figure.name} was measured only to within {figure.resolution:g} {figure.unit}, "
                      f"coarser than a tenth of its budget of {figure.budget:g} {figure.unit}: "
                      f"it cannot tell a kept promise from a broken one")
    return errors


def parse_figure(line: str) -> Figure | None:
    """A figure from one line, or None when the line is not a figure line."""
    match = FIGURE_LINE.match(line)
    if not match:
        return None
    rest = match.group("rest")
    notes = NOTES.search(rest)
    plain = rest[:notes.start()] if notes else rest
    value, _, unit = plain.partition(" ")
    candidate = Figure(match.group("name"), value, unit.strip())
    if candidate.number is not None:
        annotated = _with_notes(candidate, notes.group("notes")) if notes else candidate
        if annotated is not None:
            return annotated
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
