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
    HAS_GETTERS = True  # False: no getter, so the intro does not explain their arguments

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        module = sys.modules[cls.__module__]
        doc = cls.__doc__ or module.__doc__ or ""
        cls.__doc__ = document_getters(doc) if cls.HAS_GETTERS else doc
        cls.ROBOT_LIBRARY_VERSION = str(getattr(module, "__version__", ""))

    def assemble(self, ctx: Any, areas: Iterable[Callable[[Any], object]]) -> None:
        """Keep ``ctx``, listen with its ``cleanup``, and offer the keywords of each area built on it."""
        self.ctx = ctx
        self.offer([area(ctx) for area in areas], ctx.cleanup)

    def offer(self, keyword_objects: list[object], *listeners: object) -> None:
        """Offer the keywords of ``keyword_objects``; ``listeners`` (the cleanup listener first) hear the run."""
        self.ROBOT_LIBRARY_LISTENER = listeners[0] if len(listeners) == 1 else list(listeners)
        DynamicCore.__init__(self, keyword_objects)
        # Python callers reach a keyword method as a plain attribute, not through PythonLibCore's __getattr__
        vars(self).update({name: method for name, method in self.attributes.items()
                           if name.isidentifier() and not hasattr(type(self), name)})


__all__ = ["KitLibrary"]
