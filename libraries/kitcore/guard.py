"""The safety latch: destructive keywords act only on allow-listed test targets."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable

from kitcore.errors import TargetRefused

LOOPBACK_TARGETS = "127.*,localhost:*,[::1]:*"
"""Servers on this machine: what the libraries whose targets are ``host:port...`` allow by default."""


class TargetGuard:
    """An allow-list of glob patterns per kind of target (namespace, context, label...).

    Patterns come from the library's import arguments and from the environment variable
    named ``env_var`` (comma separated), so a user can allow a target without editing code.
    """

    def __init__(self, library: str, env_var: str, patterns: Iterable[str] = (),
                 import_arg: str = "test_targets") -> None:
        self.library = library
        self.env_var = env_var
        self.import_arg = import_arg
        self.patterns = [p.strip() for p in patterns if p and p.strip()]
        self.patterns += [p.strip() for p in os.environ.get(env_var, "").split(",") if p.strip()]

    def allow(self, pattern: str) -> None:
        self.patterns.append(pattern)

    def allows(self, target: str) -> bool:
        return any(fnmatch.fnmatchcase(target, p) for p in self.patterns)

    def check(self, action: str, kind: str, target: str) -> None:
        """Raise :class:`TargetRefused` unless ``target`` matches the allow-list."""
        if self.allows(target):
            return
        allowed = ", ".join(self.patterns) or "nothing"
        raise TargetRefused(
            f"{self.library} refused to {action} {kind} '{target}'",
            cause=f"it is not allow-listed as a test target (allowed: {allowed})",
            fix=(
                f"if '{target}' really is a disposable test target, import {self.library} with "
                f"{self.import_arg}={target} (glob patterns, comma separated) or set the environment variable "
                f"{self.env_var}={target}"
            ),
        )
