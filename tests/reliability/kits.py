"""Calling the kit's keyword libraries from Python the way Robot Framework does."""

from __future__ import annotations

import importlib
from typing import Any


def new(name: str, *args: Any) -> Any:
    """A fresh instance of the keyword library ``name`` (import arguments ``args``)."""
    return getattr(importlib.import_module(name), name)(*args)


def kw(library: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    """Run keyword ``name`` of ``library`` by its Robot Framework name."""
    return library.run_keyword(name, list(args), kwargs)


def end_of_test(library: Any) -> None:
    """Run the library's cleanup listener(s), as Robot Framework does at the end of a test."""
    listeners = getattr(library, "ROBOT_LIBRARY_LISTENER", None) or []
    for listener in listeners if isinstance(listeners, list) else [listeners]:
        if hasattr(listener, "run_all"):
            listener.run_all()
