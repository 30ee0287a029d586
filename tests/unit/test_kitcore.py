"""The shared library core: waits, assertions, connections, cleanup, guard, units, secrets."""

from __future__ import annotations

import itertools
import time

import pytest
from robot.api.types import Secret

from kitcore import AssertionOperator, CleanupListener, Connections, KitError, TargetGuard, TargetRefused, Wait
from kitcore.assertions import get_and_assert
from kitcore.credentials import mask, reveal
from kitcore.errors import WaitTimeout
from kitcore.units import converted, format_bytes, format_cpu, parse_bytes, parse_cpu
from kitcore.waits import to_seconds


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.1
        return self.now


def test_wait_returns_value_and_counts_tries() -> None:
    counter = itertools.count(1)
    outcome = Wait("counter reaches 3", timeout=5, poll=0).until(lambda: next(counter), lambda v: v >= 3)
    assert outcome.value == 3
    assert outcome.tries == 3


def test_wait_timeout_reports_last_seen_tries_and_budget() -> None:
    with pytest.raises(WaitTimeout) as caught:
        Wait("state is running", timeout=0.3, poll=0.05).until(lambda: "pending", lambda v: v == "running")
    error = caught.value
    assert error.last_seen == "'pending'"
    assert error.tries >= 2
    assert "0.3 s budget" in str(error)
    assert "last seen: 'pending'" in str(error)


def test_a_wait_ends_when_robot_was_asked_to_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Robot's signal handler raises in whatever runs; when it could not (no keyword seemed to run) a
    five-minute wait ran on to its timeout after SIGTERM. The wait asks at each turn."""
    from robot.errors import ExecutionFailed
    from robot.running.signalhandler import STOP_SIGNAL_MONITOR

    tries = itertools.count(1)
    monkeypatch.setattr(STOP_SIGNAL_MONITOR, "_signal_count", 0)
    with pytest.raises(WaitTimeout):
        Wait("never", timeout=0.2, poll=0.01).until(lambda: next(tries), lambda v: False)
    monkeypatch.setattr(STOP_SIGNAL_MONITOR, "_signal_count", 1)
    started = time.monotonic()
    with pytest.raises(ExecutionFailed, match="terminated by signal"):
        Wait("never", timeout=300, poll=0.01).until(lambda: next(tries), lambda v: False)
    assert time.monotonic() - started < 1
    assert Wait("at once", timeout=300, poll=0.01).until(lambda: 1, lambda v: True).value == 1, \
        "a wait that is already met returns its value"


def test_wait_treats_exceptions_as_not_yet() -> None:
    def probe() -> str:
        raise ConnectionRefusedError("refused")

    with pytest.raises(WaitTimeout, match="ConnectionRefusedError: refused"):
        Wait("server answers", timeout=0.2, poll=0.05).until(probe)


def test_to_seconds_understands_robot_time_strings() -> None:
    assert to_seconds("1 min 30 s") == 90
    assert to_seconds("500ms") == 0.5
    assert to_seconds(None, 7) == 7
    assert to_seconds(2) == 2.0


def test_get_and_assert_without_operator_returns_value() -> None:
    assert get_and_assert(lambda: "running", None, None, "state") == "running"


def test_get_and_assert_fails_with_readable_message() -> None:
    with pytest.raises(AssertionError, match="state"):
        get_and_assert(lambda: "pending", AssertionOperator["=="], "running", "state")


def test_get_and_assert_retries_until_true() -> None:
    values = iter(["pending", "pending", "running"])
    value = get_and_assert(lambda: next(values), AssertionOperator["=="], "running", "state", timeout=2, poll=0)
    assert value == "running"


def test_get_and_assert_retry_failure_says_what_it_still_read() -> None:
    with pytest.raises(AssertionError, match=r"^count should be > '5': it was still 1 after .* \(\d+ tries\)$"):
        get_and_assert(lambda: 1, AssertionOperator[">"], "5", "count", timeout=0.2, poll=0.05)


def test_get_and_assert_retry_failure_names_the_last_error() -> None:
    def broken() -> int:
        raise ConnectionError("the server went away")

    with pytest.raises(AssertionError, match=r"retried for .* tries\); the last try failed: .*the server went away"):
        get_and_assert(broken, AssertionOperator["=="], 1, "count", timeout=0.2, poll=0.05)


def test_numeric_expected_given_as_text_is_compared_as_number() -> None:
    assert get_and_assert(lambda: 10, AssertionOperator[">="], "9", "count") == 10


def test_connections_switch_and_close_all() -> None:
    closed: list[str] = []
    cache: Connections[str] = Connections("Redis", "Connect To Redis Server", closed.append)
    cache.add("first", "a")
    cache.add("second", "b")
    assert cache.current == "second"
    assert cache.switch("a") == "first"
    with pytest.raises(KitError, match=r"No Redis connection named 'zzz'.*open ones: a, b"):
        cache.get("zzz")
    cache.close_all()
    assert closed == ["first", "second"]
    with pytest.raises(KitError, match="call 'Connect To Redis Server' first"):
        _ = cache.current


def test_cleanup_runs_newest_first_per_test_and_survives_failures() -> None:
    done: list[str] = []
    listener = CleanupListener("TestLib")
    listener.start_suite(None, None)
    listener.register("suite thing", lambda: done.append("suite"))
    listener.start_test(None, None)
    listener.register("first", lambda: done.append("first"))
    listener.register("broken", lambda: 1 / 0)
    listener.register("second", lambda: done.append("second"), key="k2")
    listener.register("forgotten", lambda: done.append("forgotten"), key="gone")
    listener.forget("gone")
    listener.end_test(None, None)
    assert done == ["second", "first"]
    listener.end_suite(None, None)
    assert done == ["second", "first", "suite"]
    assert listener.pending() == []


def test_guard_refuses_with_fix_and_allows_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIT_TEST_TARGETS", "extra-*")
    guard = TargetGuard("KubeKit", "KIT_TEST_TARGETS", ["kit-*"])
    guard.check("delete", "namespace", "kit-123")
    guard.check("delete", "namespace", "extra-1")
    with pytest.raises(TargetRefused) as caught:
        guard.check("delete", "namespace", "production")
    assert "refused to delete namespace 'production'" in str(caught.value)
    assert "KIT_TEST_TARGETS=production" in str(caught.value)


@pytest.mark.parametrize(("text", "value"), [("512Mi", 512 * 1024**2), ("1Gi", 1024**3), ("1G", 10**9),
                                             ("1.5Gi", int(1.5 * 1024**3)), ("1024", 1024)])
def test_parse_bytes(text: str, value: int) -> None:
    assert parse_bytes(text) == value


def test_units_round_trip_and_reject_garbage() -> None:
    assert format_bytes(512 * 1024**2) == "512Mi"
    assert format_bytes(1536 * 1024**2) == "1.5Gi"
    assert parse_cpu("500m") == 0.5
    assert format_cpu(2.0) == "2"
    with pytest.raises(ValueError, match="not a memory size"):
        parse_bytes("lots")
    with pytest.raises(ValueError, match="not a CPU amount"):
        parse_cpu("fast")


def test_a_quantity_that_cannot_be_read_is_named_with_how_to_write_it() -> None:
    assert converted("64Mi", parse_bytes, "bytes") == 64 * 1024**2
    assert converted("250m", parse_cpu, "cores") == 0.25
    with pytest.raises(KitError, match=r"Cannot convert 'lots' to bytes.*write it like 512Mi"):
        converted("lots", parse_bytes, "bytes")
    with pytest.raises(KitError, match=r"Cannot convert 'fast' to cores.*write it like 500m"):
        converted("fast", parse_cpu, "cores")


def test_secrets_are_revealed_only_on_purpose() -> None:
    secret = Secret("hunter2")
    assert str(secret) == "<secret>"
    assert reveal(secret) == "hunter2"
    assert reveal("plain") == "plain"
    assert mask("password=hunter2;", secret) == "password=***;"
