"""The platform's database, read through a connection DatabaseKit opened (``Connect To PostgreSQL  alias=``).

PlatformKit opens no database connection of its own: the keywords that read the platform's records
(``PlatformKit.keywords.records``) ask DatabaseKit, imported beside it, for the connection by its alias
and run their statements through it, under its statement timeout and with its logging.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from robot.libraries.BuiltIn import BuiltIn, RobotNotRunningError

from kitcore import KitError

DATABASE_LIBRARY = "DatabaseKit"


class SharedDatabase:
    """DatabaseKit's connections, as PlatformKit reads through them (the interface of DatabaseKit's context)."""

    @staticmethod
    def _context() -> Any:
        try:
            return BuiltIn().get_library_instance(DATABASE_LIBRARY).ctx
        except (RuntimeError, RobotNotRunningError):
            raise KitError("PlatformKit cannot read the platform's records: DatabaseKit is not imported in this run",
                           fix="import DatabaseKit beside PlatformKit (resources/platform.resource does) and open "
                               "the platform's database with Connect To PostgreSQL  alias=...") from None

    def handle(self, alias: str | None = None) -> Any:
        """DatabaseKit's connection called ``alias`` (default: its current one)."""
        return self._context().handle(alias)

    def run(self, handle: Any, statement: str, parameters: Sequence[Any], timeout: float | None = None,
            what: str | None = None) -> Any:
        """Run one statement through DatabaseKit on ``handle``; its result (``columns``, ``rows``)."""
        return self._context().run(handle, statement, parameters, timeout, what)


__all__ = ["DATABASE_LIBRARY", "SharedDatabase"]
