"""Reading the chaos timeline."""

from __future__ import annotations

from typing import Any

from robot.api.deco import keyword

from ChaosKit.core import ChaosCore
from kitcore import AssertionOperator, get_and_assert
from kitcore.logging import log_table


class TimelineKeywords:
    def __init__(self, core: ChaosCore) -> None:
        self.core = core

    @keyword("Get Chaos Timeline")
    def get_chaos_timeline(self) -> list[dict[str, Any]]:
        """Every chaos action of this run: ``time``, ``action``, ``target``, ``undoneAt`` (None
        while in force) and ``details``; also logged as a table.

        Example:
        | @{events} = | Get Chaos Timeline |
        | Should Not Be Equal | ${events}[0][undoneAt] | ${None} |
        """
        events = [e.as_dict() for e in self.core.timeline.events()]
        log_table("Chaos timeline", ["time", "action", "target", "undone at", "details"],
                  [[e["time"], e["action"], e["target"], e["undoneAt"] or "in force", e["details"]] for e in events])
        return events

    @keyword("Get Time Of First Fault")
    def get_time_of_first_fault(self, after: float = 0.0) -> float:
        """The moment (on the clock of ``Start A Stopwatch``) of the first chaos action made after
        ``after``: where the window a probe must watch begins. Fails when there was none.

        Example:
        | ${watching} = | Start A Stopwatch |
        | Kill API Replica | 1 |
        | ${fault_at} = | Get Time Of First Fault | after=${watching} |
        """
        times = [e.monotonic for e in self.core.timeline.events() if e.monotonic >= float(after)]
        if not times:
            raise AssertionError("no fault was applied after the probes started watching: there is nothing "
                                 "their figures could tell about")
        return min(times)

    @keyword("Chaos Should Be Undone")
    def chaos_should_be_undone(self, timeout: str | None = None) -> None:
        """Fail if any chaos action is still in force (retrying until ``timeout``, for undos that
        run in the background such as ``Lose Redis  duration=``).

        Example:
        | Heal Everything |
        | Chaos Should Be Undone |
        | Chaos Should Be Undone | timeout=10s |
        """
        def in_force() -> str:
            return ", ".join(f"{e.action} {e.target}" for e in self.core.timeline.pending()) or "nothing"

        get_and_assert(in_force, AssertionOperator["=="], "nothing", "chaos still in force", timeout)

    @keyword("Get Partitions")
    def get_partitions(self) -> list[dict[str, Any]]:
        """The network cuts in force in the environment (``a``/``b`` pairs).

        Example:
        | ${cuts} = | Get Partitions |
        | Should Be Empty | ${cuts} |
        """
        return self.core.driver().partitions()
