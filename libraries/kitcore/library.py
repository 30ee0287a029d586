"""The frame a keyword library of the kit is built in: one class assembled from keyword classes by area."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from robotlibcore import DynamicCore

from kitcore.getters import document_getters


class KitLibrary(DynamicCore):
    """A library of the kit: global scope, documentation in Robot Framework's format, and keyword classes
    by area that share one context, whose ``cleanup`` listener removes what the library created.

    A library's documentation is its module's (with the arguments of getters explained under
    ``= Assertions =``, see :func:`kitcore.getters.document_getters`) and its version its module's
    ``__version__``.
    """

    ROBOT_LIBRARY_SCOPE = "GLOBAL"
    ROBOT_LIBRARY_DOC_FORMAT = "ROBOT"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        module = sys.modules[cls.__module__]
        cls.__doc__ = document_getters(cls.__doc__ or module.__doc__ or "")
        cls.ROBOT_LIBRARY_VERSION = str(getattr(module, "__version__", ""))

    def assemble(self, ctx: Any, areas: Iterable[Callable[[Any], object]]) -> None:
        """Keep ``ctx``, listen with its ``cleanup``, and offer the keywords of each area built on it."""
        self.ctx = ctx
        self.ROBOT_LIBRARY_LISTENER = ctx.cleanup
        DynamicCore.__init__(self, [area(ctx) for area in areas])


__all__ = ["KitLibrary"]
