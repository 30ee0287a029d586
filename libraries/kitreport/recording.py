"""Keywords that record a measured figure with its budget and resolution (``resources/figures.resource``).

A figure is written as one line (``figure <name> = <value> <unit> (at most <budget>; resolution <r>)``)
into the log, the test's message and the suite's metadata, where the reports read it back. The
stopwatches and the arithmetic of figures (``kitreport.measuring``) come with them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from robot.api import logger
from robot.api.deco import keyword, library
from robot.libraries.BuiltIn import BuiltIn
from robot.utils import timestr_to_secs

from kitreport.budgets import BudgetKeywords
from kitreport.figures import DURATION_UNITS, RESOLUTION_SHARE, Figure, figure_line, kit_errors
from kitreport.measuring import MeasuringKeywords, checked_numbers, milliseconds_minus_seconds, seconds_to_milliseconds

Amount = float | int | str | timedelta | None


def in_unit(amount: Amount, unit: str) -> float | None:
    """A number in ``unit``: numbers as they are; a time (``8.3s``, ``2 min``) converted for a duration unit."""
    if amount is None or amount == "":
        return None
    if isinstance(amount, timedelta):
        seconds = amount.total_seconds()
    elif isinstance(amount, (int, float)):
        return float(amount)
    else:
        try:
            return float(amount)
        except ValueError:
            seconds = float(timestr_to_secs(amount))
    if unit not in DURATION_UNITS:
        raise ValueError(f"a time ({amount}) is a budget only for a duration in s, ms or min, not in '{unit}'")
    return seconds / DURATION_UNITS[unit]


@library(scope="GLOBAL", auto_keywords=False)
class FigureKeywords(MeasuringKeywords, BudgetKeywords):
    """Record measured figures, each compared with its budget and carrying its resolution.

    A duration (unit ``s``, ``ms`` or ``min``) needs a budget and the resolution it was measured with;
    one without is recorded with a warning and listed as a kit error in the reports. A resolution
    coarser than a tenth of the budget fails the keyword: such a figure cannot tell a kept promise
    from a broken one.

    Stopwatches (`Start A Stopwatch`, `Seconds Since`), moments (`Get Epoch Seconds`,
    `Get Seconds Between`), rates (`Get Rate Per Minute`) and budgets (`Get Budget For Steps In A Row`,
    `Get Window Of Heartbeats`) are keywords too, each naming what it gives and its unit, so that suites
    and resources compute nothing themselves; so are latencies measured in seconds and recorded in
    milliseconds (`Record Latency In Milliseconds Of At Most`, `Record Overhead In Milliseconds Of At Most`)
    and the slowest of several durations (`Record Slowest Duration Within Budget`).
    """

    @keyword("Record Figure", tags=["figures"])
    def record_figure(self, name: str, value: Any, unit: str = "", budget: Amount = None,
                      resolution: Amount = None) -> None:
        """Log a measured figure, add it to the test message (when in a test) and the suite metadata;
        with ``budget`` fail when it is above it (``budget`` and ``resolution`` in ``unit``, or as times
        for a duration).

        Example:
        | Record Figure | start_seconds | ${timing}[seconds] | s | budget=8s | resolution=${timing}[resolution] |
        | Record Figure | sessions_lost | 0 |
        """
        figure = self._record(name, value, unit, in_unit(budget, unit), "at most", in_unit(resolution, unit))
        if figure.budget is not None and figure.number is not None and figure.number > figure.budget:
            raise AssertionError(f"{name} was {figure.value} {unit}, above its budget of {figure.budget:g} {unit}"
                                 .replace("  ", " "))

    @keyword("Record Figure Of At Most", tags=["figures"])
    def record_figure_of_at_most(self, name: str, value: float, limit: Amount, unit: str = "",
                                 resolution: Amount = None, margin: float = 0.0) -> None:
        """Record a figure and fail when it is above its limit (both in ``unit``); ``margin`` widens the
        limit by that share of it (0.25: a quarter more), for a limit that measuring noise may cross.

        Example:
        | Record Figure Of At Most | vnc_latency_ms | ${ms} | ${MAX_VNC_LATENCY_MS} | ms | resolution=0.001 |
        | Record Figure Of At Most | container_cpu_cores | ${cores} | ${quota} | cores | margin=0.25 |
        """
        base = in_unit(limit, unit)
        widened = base * (1 + float(margin)) if base is not None else None
        figure = self._record(name, value, unit, widened, "at most", in_unit(resolution, unit))
        if figure.number is None or figure.budget is None or figure.number > figure.budget:
            raise AssertionError(f"{name} was {value} {unit}, above the limit of {figure.budget:g} {unit}"
                                 .replace("  ", " "))

    @keyword("Record Figure Of At Least", tags=["figures"])
    def record_figure_of_at_least(self, name: str, value: float, target: Amount, unit: str = "") -> None:
        """Record a figure and fail when it is below its target (both in ``unit``).

        Example:
        | Record Figure Of At Least | sessions_per_minute_at_5 | ${per_minute} | ${MIN_SESSIONS_PER_MINUTE} |
        """
        figure = self._record(name, value, unit, in_unit(target, unit), "at least", None)
        if figure.number is None or figure.budget is None or figure.number < figure.budget:
            raise AssertionError(f"{name} was {value} {unit}, below the target of {figure.budget:g} {unit}"
                                 .replace("  ", " "))

    @keyword("Record Duration Within Budget", tags=["figures"])
    def record_duration_within_budget(self, name: str, seconds: float, budget: Amount,
                                      resolution: Amount = None) -> None:
        """Record a duration in seconds and fail when it is above its budget (a time: ``30s``, ``2 min``).

        ``resolution`` is how finely the duration was measured (seconds): the interval between the
        last look that saw the old state and the first that saw the new one.

        Example:
        | Record Duration Within Budget | leader_election_seconds | ${seconds} | 5.5s | resolution=0.05 |
        """
        limit = in_unit(budget, "s")
        self._record(name, seconds, "s", limit, "at most", in_unit(resolution, "s"))
        if limit is None or float(seconds) > limit:
            raise AssertionError(f"{name} took {seconds} s, above the budget of {limit} s")

    @keyword("Record Slowest Duration Within Budget", tags=["figures"])
    def record_slowest_duration_within_budget(self, name: str, seconds: list[float], budget: Amount,
                                              resolution: Amount = None) -> float:
        """Record the slowest of several durations measured in seconds (e.g. each answer of a service that
        must answer within its budget) and fail when it is above ``budget`` (a time); returns it.

        Example:
        | Record Slowest Duration Within Budget | database_error_answer_seconds | ${seconds} | 30s | resolution=0.001 |
        """
        if not seconds:
            raise AssertionError(f"{name}: no duration was measured, so none can be held to its budget")
        slowest = max(checked_numbers(tuple(seconds), "slowest"))
        self.record_figure(name, slowest, "s", budget, resolution)
        return slowest

    @keyword("Record Latency In Milliseconds Of At Most", tags=["figures"])
    def record_latency_in_milliseconds_of_at_most(self, name: str, seconds: float, limit: Amount,
                                                  resolution: Amount = None) -> float:
        """Record a latency measured in seconds as a figure in milliseconds (kept to a tenth of a millisecond)
        and fail when it is above ``limit`` (milliseconds); returns the milliseconds.

        Example:
        | Record Latency In Milliseconds Of At Most | vnc_latency_ms | ${seconds} | 250 | resolution=1 |
        """
        milliseconds = seconds_to_milliseconds(seconds)
        self.record_figure_of_at_most(name, milliseconds, limit, "ms", resolution)
        return milliseconds

    @keyword("Record Overhead In Milliseconds Of At Most", tags=["figures"])
    def record_overhead_in_milliseconds_of_at_most(self, name: str, through: float, direct: float, limit: Amount,
                                                   resolution: Amount = None) -> float:
        """Record what a go-between adds to a latency: the latency ``through`` it less the latency ``direct`` to
        the target (both measured in seconds), as a figure in milliseconds (kept to a tenth of a millisecond);
        fail when it is above ``limit`` (milliseconds). Returns the milliseconds.

        Example:
        | Record Overhead In Milliseconds Of At Most | websocket_overhead_ms | ${through} | ${direct} | 50 |
        """
        overhead = milliseconds_minus_seconds(seconds_to_milliseconds(through), direct)
        self.record_figure_of_at_most(name, overhead, limit, "ms", resolution)
        return overhead

    @staticmethod
    def _record(name: str, value: Any, unit: str, budget: float | None, kind: str,
                resolution: float | None) -> Figure:
        text = f"{round(value, 4):g}" if isinstance(value, float) else str(value)
        figure = Figure(name, text, unit, round(budget, 4) if budget is not None else None,
                        kind if budget is not None else "", round(resolution, 4) if resolution is not None else None)
        line = figure_line(figure)
        builtin = BuiltIn()
        logger.info(line)
        if builtin.get_variable_value("${TEST NAME}"):
            builtin.set_test_message(line, append=True, separator="\n")
        builtin.set_suite_metadata(f"figure {name}", figure.text)
        problems = kit_errors(figure)
        coarse = [p for p in problems if "coarser than" in p]
        if coarse:
            raise AssertionError(coarse[0])
        for problem in problems:
            logger.warn(f"Kit error: {problem}")
        return figure


__all__ = ["RESOLUTION_SHARE", "FigureKeywords", "in_unit"]
