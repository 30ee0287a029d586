"""LoadKit's runner and summary with Python callables: counts, concurrency bound, pacing, errors."""

from __future__ import annotations

import threading
import time

import pytest

from kitcore import KitError
from kitcore.stats import percentile
from LoadKit import operations
from LoadKit.runner import RunResult, Sample, run_load
from LoadKit.summary import summarise


def test_percentile_is_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) == 0.0


def test_every_call_is_made_once_and_concurrency_is_bounded():
    lock = threading.Lock()
    state = {"now": 0, "peak": 0, "calls": 0}

    def operation() -> None:
        with lock:
            state["now"] += 1
            state["calls"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.005)
        with lock:
            state["now"] -= 1

    result = run_load(operation, count=60, concurrency=4)
    assert state["calls"] == 60
    assert len(result.samples) == 60
    assert 2 <= state["peak"] <= 4  # never more than the concurrency
    assert all(s.latency >= 0.004 for s in result.samples)


def test_errors_are_samples_with_their_kind():
    calls = iter(range(1000))

    def flaky() -> None:
        if next(calls) % 4 == 0:
            raise ValueError("every fourth fails")

    summary = summarise(run_load(flaky, count=40, concurrency=2))
    assert summary["count"] == 40
    assert summary["failed"] == 10
    assert summary["success_rate"] == 75.0
    assert summary["errors"] == {"ValueError: every fourth fails": 10}


def test_rate_paces_the_start_of_calls():
    result = run_load(lambda: None, count=11, concurrency=3, rate=50.0)
    starts = [s.start for s in result.samples]
    assert starts[-1] >= 0.19  # call 10 is due at 10/50 s
    assert result.wall < 2.0


def test_max_duration_ends_a_run():
    result = run_load(lambda: time.sleep(0.05), count=10_000, concurrency=2, max_duration=0.3)
    assert result.wall < 2.0
    assert 0 < len(result.samples) < 10_000
    assert "max_duration" in result.stopped_early


def test_summary_figures_from_known_samples():
    samples = [Sample(i * 0.01, (i + 1) / 1000) for i in range(100)]  # 1..100 ms
    summary = summarise(RunResult(samples, wall=2.0, concurrency=5, client_cpu=0.1))
    assert summary["p50_ms"] == 50.0
    assert summary["p95_ms"] == 95.0
    assert summary["max_ms"] == 100.0
    assert summary["throughput_per_s"] == 50.0
    assert summary["client_cpu_percent"] == 5.0
    assert summary["generator_saturated"] is False


def test_operations_resolve_names_callables_and_inline_http():
    operations.register_operation("unit-op", lambda: None)
    assert operations.resolve("unit-op")[0] == "unit-op"
    label, op = operations.resolve("GET http://127.0.0.1:9/x")
    assert isinstance(op, operations.HttpOperation) and label == "GET http://127.0.0.1:9/x"
    with pytest.raises(KitError, match=r"No load operation 'nothing-here'.*unit-op"):
        operations.resolve("nothing-here")


def test_http_operation_puts_the_token_in_a_header_only():
    op = operations.HttpOperation("post", "http://127.0.0.1:9/x", body={"a": 1}, token="s3cret")
    assert op.headers["Authorization"] == "Bearer s3cret"
    assert op.body == b'{"a": 1}'
    assert "s3cret" not in op.describe()


def test_secret_header_values_are_sent_in_clear_but_never_described():
    from robot.api.types import Secret

    op = operations.HttpOperation("GET", "http://127.0.0.1:9/x", headers={"X-Agent-API-Key": Secret("k3y")})
    assert op.headers["X-Agent-API-Key"] == "k3y"
    assert "k3y" not in op.describe()


def test_container_cpu_percent_is_a_share_of_one_core():
    from LoadKit.sampling import container_cpu_percent

    stats = {"cpu_stats": {"cpu_usage": {"total_usage": 1_500_000_000}, "system_cpu_usage": 14_000_000_000,
                           "online_cpus": 2},
             "precpu_stats": {"cpu_usage": {"total_usage": 1_000_000_000}, "system_cpu_usage": 12_000_000_000}}
    # 0.5 s of CPU over 1 s of wall time on 2 cores (2 s of system time) = half a core = 50 %
    assert container_cpu_percent(stats) == 50.0
    assert container_cpu_percent({"cpu_stats": {}, "precpu_stats": {}}) == 0.0


def test_container_cpu_percent_uses_the_wall_time_between_readings_when_known():
    from LoadKit.sampling import container_cpu_percent

    # Podman: system_cpu_usage advances slower than the host's CPU time; the readings' timestamps do not lie
    stats = {"read": "2026-11-21T18:47:25.345585159Z", "preread": "2026-11-21T18:47:25.031192883Z",
             "cpu_stats": {"cpu_usage": {"total_usage": 705_584_553}, "system_cpu_usage": 6_774_324_502_825,
                           "online_cpus": 2},
             "precpu_stats": {"cpu_usage": {"total_usage": 545_488_739}, "system_cpu_usage": 6_774_145_293_698}}
    assert 50.0 < container_cpu_percent(stats) < 52.0  # 0.160 s of CPU in 0.314 s: half a core
    stats["preread"] = "0001-01-01T00:00:00Z"  # Docker's one-shot stats: no previous reading time
    assert container_cpu_percent(stats) > 170  # the Docker formula, which Podman's figures overstate


def test_a_failed_operation_keeps_what_the_target_answered():
    calls = iter(range(10))

    def operation() -> None:
        if next(calls) % 2:
            raise operations.OperationFailed("HTTP 500", '{"error": "Failed to create session"}')

    summary = summarise(run_load(operation, count=10, concurrency=2))
    assert summary["errors"] == {"OperationFailed: HTTP 500": 5}
    assert summary["error_examples"] == {"OperationFailed: HTTP 500": '{"error": "Failed to create session"}'}
