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

from kitcore.errors import KitError, WaitTimeout
from kitcore.waits import Wait, to_seconds

T = TypeVar("T")

__all__ = ["AssertionOperator", "assert_value", "check_message", "get_and_assert"]


PLACEHOLDERS = ("value", "value_type", "expected", "expected_type")


def check_message(message: str | None) -> str | None:
    """A getter's ``message=`` as given; refused at once when it has a placeholder the failure cannot fill."""
    if message is None:
        return None
    try:
        str(message).format(**dict.fromkeys(PLACEHOLDERS, ""))
    except (KeyError, IndexError, ValueError) as error:
        raise KitError(
            f"message={message!r} cannot be filled in",
            cause=f"{type(error).__name__}: {error}",
            fix="use only {value}, {value_type}, {expected} and {expected_type}; write {{ and }} for braces",
        ) from None
    return str(message)


def assert_value(
    value: T,
    operator: AssertionOperator | None,
    expected: Any,
    what: str,
    message: str | None = None,
) -> T:
    """Assert ``value <operator> expected`` once; returns the value (or the evaluation).

    ``what`` names the value in the failure; ``message``, when given, replaces the whole failure
    message (AssertionEngine fills ``{value}``, ``{value_type}``, ``{expected}``, ``{expected_type}``).
    """
    if operator is None:
        return value
    if isinstance(value, (int, float)) and isinstance(expected, str):
        with contextlib.suppress(ValueError):
            expected = type(value)(expected)
    return verify_assertion(value, operator, expected, what, None if message is None else check_message(message))


def get_and_assert(
    getter: Callable[[], T],
    operator: AssertionOperator | None,
    expected: Any,
    what: str,
    timeout: float | str | None = None,
    poll: float | str | None = None,
    message: str | None = None,
) -> T:
    """Call ``getter`` and assert its value; retry until ``timeout`` when one is given.

    With no operator the value is returned at once. With a timeout, only the last try
    is logged, and a failure says that it retried, for how long, and what it last saw.
    ``message``, when given, replaces the failure message of an assertion that does not hold
    (on a timeout: as the last try failed; the retries are logged); an error reading the value
    keeps its own message.
    """
    if operator is None:
        return getter()
    if message is not None:
        message = check_message(message)
    if timeout is None:  # asserted once, at once
        return assert_value(getter(), operator, expected, what, message)
    budget = to_seconds(timeout, 0.0)
    if budget <= 0:
        return assert_value(getter(), operator, expected, what, message)
    result: dict[str, Any] = {}

    def probe() -> bool:
        result.pop("seen", None)
        result.pop("failure", None)
        value = getter()
        result["value"] = result["seen"] = value
        try:
            result["asserted"] = assert_value(value, operator, expected, what, message)
        except AssertionError as failure:
            result["failure"] = str(failure)
            raise
        return True

    wait = Wait(f"{what} {operator.value} {expected!r}".strip(), budget, to_seconds(poll, 0.2))
    try:
        outcome = wait.until(probe)
    except WaitTimeout as error:
        retried = f"{error.elapsed:.1f} s of {budget:g} s ({error.tries} tries)"
        if message is not None and "failure" in result:  # the caller's message, as the last try failed
            logger.info(f"{what} should be {operator.value} {expected!r}: it was still {result['seen']!r} "
                        f"after {retried}")
            raise AssertionError(result["failure"]) from None
        if "seen" in result:  # the last try read a value that did not do
            raise AssertionError(
                f"{what} should be {operator.value} {expected!r}: it was still {result['seen']!r} after {retried}"
            ) from None
        raise AssertionError(
            f"{what} should be {operator.value} {expected!r}: retried for {retried}; "
            f"the last try failed: {error.last_seen}"
        ) from None
    logger.info(f"{what}: {result['value']!r} (after {outcome.tries} tries, {outcome.elapsed:.2f} s)")
    return result["asserted"]
