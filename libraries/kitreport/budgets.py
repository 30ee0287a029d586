"""Budgets and windows of time that follow from a budget or an interval the environment states.

A suite says what a stretch of time is for (sessions started one after another, heartbeats awaited),
and the keyword here works it out from the budget or interval it is given, in seconds, so that the
reasoning is written once and named, never left to arithmetic in a resource.
"""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from kitcore import KitError
from kitreport.measuring import multiply_time


def repeated(duration: Any, count: int, what: str) -> float:
    """``duration`` (a time) ``count`` times, in seconds; a negative ``count`` fails, naming ``what`` it counts."""
    if int(count) < 0:
        raise KitError(f"A time for {count} {what} cannot be worked out", fix=f"give how many {what}, 0 or more")
    return multiply_time(duration, int(count))


class BudgetKeywords:
    """Budgets and windows of time, each named for what it allows."""

    @keyword("Get Budget For Steps In A Row", tags=["figures", "time", "budgets"])
    def get_budget_for_steps_in_a_row(self, budget: Any, steps: int) -> float:
        """The seconds ``steps`` things done one after another may take when each may take ``budget``
        (a time: ``8.5s``, ``1 min``, or seconds): e.g. sessions asked for at once that an agent may start
        one by one, each within the session start budget.

        Example:
        | ${budget} = | Get Budget For Steps In A Row | ${SESSION_START_BUDGET} | ${count} |
        | Wait Until Sessions Are | ${names} | running | timeout=${budget} |
        """
        seconds = repeated(budget, steps, "steps")
        logger.info(f"{steps} steps in a row, each within {budget}: {seconds:g} s")
        return seconds

    @keyword("Get Window Of Heartbeats", tags=["figures", "time", "budgets"])
    def get_window_of_heartbeats(self, interval: Any, heartbeats: int) -> float:
        """The seconds that ``heartbeats`` heartbeat intervals (``interval``: the environment's
        ``heartbeatInterval``, a time or seconds) last: the window in which an agent that keeps beating
        is heard from, or in which what every heartbeat refreshes must stay put.

        Example:
        | ${window} = | Get Window Of Heartbeats | ${BUDGET_TIMINGS}[heartbeatInterval] | 2 |
        | Get Agent Heartbeat Age In Seconds | ${agent} | <= | ${window} |
        """
        seconds = repeated(interval, heartbeats, "heartbeats")
        logger.info(f"{heartbeats} heartbeat intervals of {interval}: {seconds:g} s")
        return seconds


__all__ = ["BudgetKeywords", "repeated"]
