"""What a listing keyword selects and where it asks, declared once: the :func:`selecting` decorator.

The keywords that list sessions or agents (`List Sessions`, `List Session Names`, `Get Session Count`,
`Get Agents`, `Get Agent Ids`...) all take the platform's query filters (``user``, ``platform``,
``state`` or ``status``) and where and as whom to ask (``replica``, ``as_user``, ``alias``); the
getters of one object (`Get Session State`, `Get Agent Status`) take the latter only. A keyword
declares one parameter ``selection: Selection`` instead; the decorator shows the explicit options in
its place (Robot Framework and libdoc see them, with their types) and hands them to the keyword as one
:class:`Selection`::

    @keyword("Get Session Count", tags=["sessions", "assertion"])
    @getter
    @selecting("user", "platform", "state")
    def get_session_count(self, *, check: Check, selection: Selection) -> int:
        return check(lambda: len(self._listed(selection)), "Session count")
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kitcore.getters import show_signature

F = TypeVar("F", bound=Callable[..., Any])

SELECTION = "selection"
FILTERS = ("user", "platform", "state", "status")
"""The query filters the platform's list routes know."""
REACH: dict[str, Any] = {"replica": Any, "as_user": str | None, "alias": str | None}
"""Where and as whom a keyword asks: the API replica, the acting user, the connection."""


@dataclass(frozen=True)
class Selection:
    """The filters of a list call (a filter that is None is not asked for) and where and as whom to ask."""

    filters: dict[str, str | None] = field(default_factory=dict)
    replica: Any = None
    as_user: str | None = None
    alias: str | None = None

    @classmethod
    def of(cls, replica: Any = None, as_user: str | None = None, alias: str | None = None,
           **filters: str | None) -> Selection:
        """A selection with only the ``filters`` given (none: everything the acting user may see)."""
        return cls(dict(filters), replica, as_user, alias)

    @property
    def reach(self) -> dict[str, Any]:
        """Where and as whom to ask, as keyword arguments (``replica``, ``as_user``, ``alias``)."""
        return {"replica": self.replica, "as_user": self.as_user, "alias": self.alias}


def _options(names: tuple[str, ...], kind: Any) -> list[inspect.Parameter]:
    unknown = sorted(set(names) - set(FILTERS))
    if unknown:
        raise TypeError(f"unknown filters {', '.join(unknown)}: the platform's list routes know {', '.join(FILTERS)}")
    typed = {name: str | None for name in names} | REACH
    return [inspect.Parameter(name, kind, default=None, annotation=annotation) for name, annotation in typed.items()]


def selecting(*filters: str) -> Callable[[F], F]:
    """Show ``filters`` and ``replica``, ``as_user``, ``alias`` where the keyword declares ``selection`` (named
    only if it is), and pass them to it as one :class:`Selection`. Use under ``@keyword`` (and ``@getter``)."""

    def decorate(func: F) -> F:
        inner = inspect.signature(func)
        declared = inner.parameters.get(SELECTION)
        if declared is None:
            raise TypeError(f"{func.__qualname__} must take the parameter `{SELECTION}: Selection`")
        params = []
        for param in inner.parameters.values():
            params += _options(filters, param.kind) if param.name == SELECTION else [param]
        signature = inner.replace(parameters=params)
        shown = [p.name for p in params if p.name not in inner.parameters]

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            arguments = signature.bind(*args, **kwargs).arguments
            given = {name: arguments.pop(name, None) for name in shown}
            selection = Selection({name: given[name] for name in filters},
                                  given["replica"], given["as_user"], given["alias"])
            return func(**arguments, selection=selection)

        annotations = {key: value for key, value in func.__annotations__.items() if key != SELECTION}
        annotations |= {name: signature.parameters[name].annotation for name in shown}
        show_signature(wrapper, signature, annotations)
        return wrapper  # type: ignore[return-value]

    return decorate


__all__ = ["FILTERS", "REACH", "Selection", "selecting"]
