"""Remove what a test or suite created, even when it fails: a library listener.

A library owns one :class:`CleanupListener` and sets ``ROBOT_LIBRARY_LISTENER`` to it.
Everything registered while a test runs is undone at the end of that test; everything
registered in a suite setup is undone at the end of that suite; anything left is
undone when the library is closed (and at interpreter exit, for Ctrl-C and SIGTERM).
Undo actions run newest first and a failing one never hides the others.
"""

from __future__ import annotations

import atexit
from collections.abc import Callable
from dataclasses import dataclass

from robot.api import logger


@dataclass
class Undo:
    description: str
    action: Callable[[], object]
    key: str | None = None


class CleanupListener:
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self, library: str) -> None:
        self.library = library
        self._scopes: list[list[Undo]] = [[]]
        atexit.register(self.run_all)

    # -- registration --------------------------------------------------------------------
    def register(self, description: str, action: Callable[[], object], key: str | None = None) -> None:
        """Remember how to undo something just created, in the innermost running scope."""
        self._scopes[-1].append(Undo(description, action, key))

    def forget(self, key: str) -> None:
        """Drop an undo whose object was already removed by a keyword."""
        for scope in self._scopes:
            scope[:] = [u for u in scope if u.key != key]

    def pending(self) -> list[str]:
        return [u.description for scope in self._scopes for u in scope]

    # -- listener interface --------------------------------------------------------------
    def start_suite(self, data: object, result: object) -> None:
        self._scopes.append([])

    def end_suite(self, data: object, result: object) -> None:
        self._run_scope()

    def start_test(self, data: object, result: object) -> None:
        self._scopes.append([])

    def end_test(self, data: object, result: object) -> None:
        self._run_scope()

    def close(self) -> None:
        self.run_all()

    # -- running -------------------------------------------------------------------------
    def _run_scope(self) -> None:
        if len(self._scopes) > 1:
            scope = self._scopes.pop()
        else:
            scope, self._scopes[0] = self._scopes[0], []
        self._undo(scope)

    def run_all(self) -> None:
        while len(self._scopes) > 1:
            self._run_scope()
        self._run_scope()

    def _undo(self, scope: list[Undo]) -> None:
        for undo in reversed(scope):
            try:
                undo.action()
            except Exception as error:  # noqa: BLE001 - report and go on with the rest
                logger.warn(f"{self.library}: could not undo {undo.description}: {error}")
            else:
                logger.info(f"{self.library}: removed {undo.description}")
