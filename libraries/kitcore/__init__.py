"""Shared building blocks of the kit's keyword libraries.

Every library uses the same pieces so that they behave alike:

- :mod:`kitcore.errors`      -- errors that name the cause and the fix
- :mod:`kitcore.waits`       -- waits with ``timeout``/``poll`` that report the last try
- :mod:`kitcore.assertions`  -- getters that can assert (AssertionEngine operators) and retry
- :mod:`kitcore.getters`     -- the one getter signature (``@getter``): subject, assertion, wait, options
- :mod:`kitcore.connections` -- ``Connect To X  alias=...`` / switch / close all
- :mod:`kitcore.cleanup`     -- a library listener that removes what a test or suite created
- :mod:`kitcore.guard`       -- the allow-list that destructive keywords check
- :mod:`kitcore.credentials`     -- Robot Framework ``Secret`` handling and masking
- :mod:`kitcore.units`       -- memory and CPU quantities in human units
- :mod:`kitcore.logging`     -- compact HTML tables and images in log.html
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kitcore.assertions import AssertionOperator, assert_value, get_and_assert
    from kitcore.cleanup import CleanupListener
    from kitcore.connections import Connections
    from kitcore.credentials import SecretLike, new_password, reveal
    from kitcore.errors import KitError, TargetRefused, WaitTimeout
    from kitcore.getters import ASSERTIONS_DOC, Check, document_getters, getter
    from kitcore.guard import TargetGuard
    from kitcore.waits import Wait, to_seconds

# Each name from the module that defines it, loaded when first used: a program that needs only a
# light part (kitcore.processes, kitcore.reaper) does not load Robot Framework with the rest.
_HOMES = {
    "kitcore.assertions": ("AssertionOperator", "assert_value", "get_and_assert"),
    "kitcore.cleanup": ("CleanupListener",),
    "kitcore.connections": ("Connections",),
    "kitcore.credentials": ("SecretLike", "new_password", "reveal"),
    "kitcore.errors": ("KitError", "TargetRefused", "WaitTimeout"),
    "kitcore.getters": ("ASSERTIONS_DOC", "Check", "document_getters", "getter"),
    "kitcore.guard": ("TargetGuard",),
    "kitcore.waits": ("Wait", "to_seconds"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _HOME_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'kitcore' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ASSERTIONS_DOC",
    "AssertionOperator",
    "Check",
    "CleanupListener",
    "Connections",
    "KitError",
    "SecretLike",
    "TargetGuard",
    "TargetRefused",
    "Wait",
    "WaitTimeout",
    "assert_value",
    "document_getters",
    "get_and_assert",
    "getter",
    "new_password",
    "reveal",
    "to_seconds",
]
