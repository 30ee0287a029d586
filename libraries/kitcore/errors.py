"""Errors that say what went wrong and what to do about it."""

from __future__ import annotations


class KitError(RuntimeError):
    """A failure with its cause and, where known, the fix.

    The message reads ``<what failed>: <cause>. Fix: <fix>`` so a tester can act on it
    without reading Python.
    """

    ROBOT_SUPPRESS_NAME = True

    def __init__(self, what: str, cause: str = "", fix: str = "") -> None:
        self.what = what
        self.cause = cause
        self.fix = fix
        text = what
        if cause:
            text += f": {cause}"
        if fix:
            text += f". Fix: {fix}"
        super().__init__(text)


WAIT_FIX = "if it is only slower than expected, raise timeout=; otherwise the last thing seen shows where it stuck"


class WaitTimeout(KitError, AssertionError):
    """A wait ran out of time. Carries what it last saw, tries and elapsed time."""

    def __init__(self, what: str, last_seen: str, tries: int, elapsed: float, budget: float,
                 fix: str = WAIT_FIX) -> None:
        self.last_seen = last_seen
        self.tries = tries
        self.elapsed = elapsed
        self.budget = budget
        cause = (
            f"still not true after {elapsed:.1f} s of {budget:g} s budget "
            f"({tries} {'try' if tries == 1 else 'tries'}); last seen: {last_seen}"
        )
        super().__init__(what, cause, fix)


class TargetRefused(KitError):
    """A destructive keyword refused a target that is not allow-listed."""
