"""One connection model for every library: connect with an alias, switch, close all."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Generic, TypeVar

from robot.utils import ConnectionCache
from robot.utils.connectioncache import NoConnection

from kitcore.errors import KitError

C = TypeVar("C")


class Connections(Generic[C]):
    """Named connections; the last one opened (or switched to) is the current one."""

    def __init__(self, kind: str, connect_keyword: str, closer: Callable[[C], None]) -> None:
        self.kind = kind
        self.connect_keyword = connect_keyword
        self._closer = closer
        self._cache = ConnectionCache(no_current_msg=f"No {kind} connection.")

    def add(self, connection: C, alias: str | None = None) -> C:
        self._cache.register(connection, alias)
        return connection

    @property
    def current(self) -> C:
        current = self._cache.current
        if isinstance(current, NoConnection):
            raise KitError(
                f"No {self.kind} connection is open",
                fix=f"call '{self.connect_keyword}' first",
            )
        return current

    def get(self, alias: str | None = None) -> C:
        if alias is None:
            current = self._cache.current  # what ``current`` returns, without its call (it runs on every keyword)
            return self.current if isinstance(current, NoConnection) else current
        try:
            return self._cache.get_connection(alias)
        except RuntimeError:
            raise KitError(
                f"No {self.kind} connection named '{alias}'",
                cause=f"open ones: {', '.join(self.aliases) or 'none'}",
                fix=f"use '{self.connect_keyword}  alias={alias}' first",
            ) from None

    def switch(self, alias: str) -> C:
        self.get(alias)
        self._cache.switch(alias)
        return self._cache.current

    @property
    def aliases(self) -> list[str]:
        return [str(a) for a in self._cache._aliases]

    def all(self) -> list[C]:
        return list(self._cache)

    def close_all(self) -> None:
        for connection in self._cache:
            with contextlib.suppress(Exception):  # closing must never fail a teardown
                self._closer(connection)
        self._cache.empty_cache()

    def __bool__(self) -> bool:
        return bool(self._cache)
