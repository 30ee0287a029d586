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

from kitcore.assertions import AssertionOperator, assert_value, get_and_assert
from kitcore.cleanup import CleanupListener
from kitcore.connections import Connections
from kitcore.credentials import SecretLike, new_password, reveal
from kitcore.errors import KitError, TargetRefused, WaitTimeout
from kitcore.getters import ASSERTIONS_DOC, Check, document_getters, getter
from kitcore.guard import TargetGuard
from kitcore.waits import Wait, to_seconds

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
