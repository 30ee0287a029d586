"""Getters that return a value and can assert it, retrying until a timeout.

Operators come from robotframework-assertion-engine (``==``, ``!=``, ``<``, ``>=``,
``contains``, ``matches``, ``validate`` ...), as in the Browser library.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from assertionengine import AssertionOperator, verify_assertion
from robot.api import logger

from kitcore.errors import WaitTimeout
from kitcore.waits import Wait, to_seconds

T = TypeVar("T")

__all__ = ["AssertionOperator", "assert_value", "get_and_assert"]


def assert_value(
    value: T,
    operator: AssertionOperator | None,
    expected: Any,
    message: str,
) -> T:
    """Assert ``value <operator> expected`` once; returns the value (or the evaluation)."""
    if operator is None:
        return value
    if isinstance(value, (int, float)) and isinstance(expected, str):
        with contextlib.suppress(ValueError):
            expected = type(value)(expected)
    return verify_assertion(value, operator, expected, message)


def get_and_assert(
    getter: Callable[[], T],
    operator: AssertionOperator | None,
    expected: Any,
    message: str,
    timeout: float | str | None = None,
    poll: float | str | None = None,
) -> T:
    """Call ``getter`` and assert its value; retry until ``timeout`` when one is given.

    With no operator the value is returned at once. With a timeout, only the last try
    is logged, and a failure says that it retried, for how long, and what it last saw.
    """
    if operator is None:
        return getter()
    budget = to_seconds(timeout, 0.0)
    if budget <= 0:
        return assert_value(getter(), operator, expected, message)
    result: dict[str, Any] = {}

    def probe() -> bool:
        result.pop("seen", None)
        value = getter()
        result["value"] = result["seen"] = value
        result["asserted"] = assert_value(value, operator, expected, message)
        return True

    wait = Wait(f"{message} {operator.value} {expected!r}".strip(), budget, to_seconds(poll, 0.2))
    try:
        outcome = wait.until(probe)
    except WaitTimeout as error:
        if "seen" in result:  # the last try read a value that did not do
            raise AssertionError(
                f"{message} should be {operator.value} {expected!r}: it was still {result['seen']!r} after "
                f"{error.elapsed:.1f} s of {budget:g} s ({error.tries} tries)"
            ) from None
        raise AssertionError(
            f"{message} should be {operator.value} {expected!r}: retried for "
            f"{error.elapsed:.1f} s of {budget:g} s ({error.tries} tries); the last try failed: {error.last_seen}"
        ) from None
    logger.info(f"{message}: {result['value']!r} (after {outcome.tries} tries, {outcome.elapsed:.2f} s)")
    return result["asserted"]
