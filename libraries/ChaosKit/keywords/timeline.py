"""Reading the chaos timeline."""

from __future__ import annotations

from typing import Any

from robot.api.deco import keyword

from ChaosKit.core import ChaosCore
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

    @keyword("Chaos Should Be Undone")
    def chaos_should_be_undone(self) -> None:
        """Fail if any chaos action is still in force.

        Example:
        | Heal Everything |
        | Chaos Should Be Undone |
        """
        pending = self.core.timeline.pending()
        if pending:
            raise AssertionError("Chaos still in force: " + ", ".join(f"{e.action} {e.target}" for e in pending))
