"""Stopwatches, moments and rates of measured figures, as keywords whose names say their units.

Suites and resources compute nothing themselves (tests/unit/test_suite_language.py): a duration or a
rate that has to be worked out is one of these keywords (a budget is one of ``kitreport.budgets``), and
`FigureKeywords` (which ``resources/figures.resource`` imports) offers them beside ``Record Figure``.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from robot.api.deco import keyword
from robot.utils import timestr_to_secs

from kitcore import KitError

Number = int | float


def seconds_since(start: float, now: float | None = None) -> float:
    """Seconds from ``start`` (monotonic seconds) to ``now`` (default: the monotonic clock now), to the ms."""
    return round((time.monotonic() if now is None else now) - float(start), 3)


def seconds_to_milliseconds(seconds: Number) -> float:
    """``0.01234`` s -> ``12.3`` ms (to a tenth of a millisecond)."""
    return round(float(seconds) * 1000, 1)


def milliseconds_minus_seconds(milliseconds: Number, seconds: Number) -> float:
    """``milliseconds`` less ``seconds`` (as milliseconds), to a tenth of a millisecond."""
    return round(float(milliseconds) - float(seconds) * 1000, 1)


def per_minute(count: Number, seconds: Number) -> float:
    """How many per minute ``count`` things in ``seconds`` make, to one decimal."""
    if float(seconds) <= 0:
        raise KitError(f"A rate per minute needs a time above zero, not {seconds} s",
                       fix="give the seconds the things took (Seconds Since a stopwatch)")
    return round(count * 60 / float(seconds), 1)


def time_in_seconds(duration: Any) -> float:
    """A time as Robot Framework writes it (``8.5s``, ``1 min 30 s``, ``2.5``) in seconds."""
    try:
        return float(timestr_to_secs(duration))
    except (TypeError, ValueError):
        raise KitError(f"'{duration}' is not a time", fix="write it like 8.5s, 1 min 30 s or 2.5") from None


def multiply_time(duration: Any, factor: Number) -> float:
    """``duration`` (a time) ``factor`` times, in seconds."""
    return time_in_seconds(duration) * factor


def moment(value: Any) -> datetime:
    """An ISO 8601 date and time (``2026-12-06T23:00:00.123456Z``, ``...+00:00``) as a datetime."""
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value).strip())
    except ValueError:
        raise KitError(f"'{value}' is not a date and time in ISO 8601",
                       fix="give it like 2026-12-06T23:00:00.123Z, as the platform and Kubernetes write them",
                       ) from None


def seconds_between(earlier: Any, later: Any) -> float:
    """Seconds from the moment ``earlier`` to the moment ``later`` (negative when ``later`` comes first)."""
    first, second = moment(earlier), moment(later)
    if (first.tzinfo is None) != (second.tzinfo is None):
        raise KitError(f"Cannot tell how far apart '{earlier}' and '{later}' are",
                       cause="one of them has a time zone and the other has none",
                       fix="give both with their time zone (Z or +00:00)")
    return (second - first).total_seconds()


def checked_numbers(values: tuple[Any, ...], what: str) -> list[Number]:
    """The numbers given, or a KitError naming what is not one."""
    if not values:
        raise KitError(f"No numbers to take the {what} of", fix="give at least one number")
    found: list[Number] = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise KitError(f"'{value}' is not a number", fix=f"give the {what} numbers only")
        found.append(value)
    return found


class MeasuringKeywords:
    """Stopwatches, moments and rates, each keyword naming its unit."""

    @keyword("Start A Stopwatch", tags=["figures", "time"])
    def start_a_stopwatch(self) -> float:
        """The moment to measure from (monotonic seconds); give it to `Seconds Since`.

        Example:
        | ${start} = | Start A Stopwatch |
        | Hibernate Session | ${name} |
        | ${seconds} = | Seconds Since | ${start} |
        """
        return time.monotonic()

    @keyword("Seconds Since", tags=["figures", "time"])
    def seconds_since(self, start: float) -> float:
        """Seconds elapsed since a stopwatch was started (`Start A Stopwatch`), rounded to milliseconds.

        Example:
        | ${seconds} = | Seconds Since | ${start} |
        """
        return seconds_since(start)

    @keyword("Get Epoch Seconds", tags=["figures", "time"])
    def get_epoch_seconds(self) -> float:
        """The moment now as seconds since 1970-01-01 UTC (microseconds as decimals), for keywords that
        time from a moment on the wall clock (e.g. KubeKit's ``Wait Until Lease Holder Changes  since=``).

        Example:
        | ${at} = | Get Epoch Seconds |
        """
        return time.time()

    @keyword("Get Seconds Between", tags=["figures", "time"])
    def get_seconds_between(self, earlier: str, later: str) -> float:
        """Seconds from the moment ``earlier`` to the moment ``later`` (both ISO 8601 dates and times, with
        their time zone), to the microsecond; negative when ``later`` comes first.

        Example:
        | ${lead} = | Get Seconds Between | ${command}[sent_at] | ${acquired} |
        | Should Be True | $lead > 0 | msg=the command was sent after the Lease changed hands |
        """
        return seconds_between(earlier, later)

    @keyword("Get Rate Per Minute", tags=["figures"])
    def get_rate_per_minute(self, count: int | float, seconds: float) -> float:
        """How many per minute ``count`` things done in ``seconds`` make, to one decimal.

        Example:
        | ${per_minute} = | Get Rate Per Minute | ${count} | ${seconds} |
        """
        return per_minute(count, seconds)


__all__ = ["MeasuringKeywords", "checked_numbers", "milliseconds_minus_seconds", "multiply_time", "per_minute",
           "seconds_between", "seconds_since", "seconds_to_milliseconds", "time_in_seconds"]
