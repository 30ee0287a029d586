"""Run an operation N times at concurrency C (optionally at a target rate) in worker threads;
keep each call's start, latency and outcome, and the generator's own CPU use."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil


@dataclass(frozen=True)
class Sample:
    start: float  # seconds since the run began
    latency: float  # seconds
    error: str | None = None
    detail: str | None = None  # what the target answered, for an operation that says (e.g. an HTTP body)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class RunResult:
    samples: list[Sample]
    wall: float
    concurrency: int
    client_cpu: float  # CPU seconds the generator process used during the run
    target_rate: float | None = None
    stopped_early: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def error_text(error: Exception) -> str:
    text = str(error).split("\n")[0][:120]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_load(operation: Callable[[], Any], count: int, concurrency: int, rate: float | None = None,
             max_duration: float = 600.0) -> RunResult:
    """Call ``operation`` ``count`` times from ``concurrency`` threads.

    With ``rate`` (operations/s) call *i* is not started before ``i / rate`` seconds (an open
    model); the workers still bound how many run at once. Nothing new starts after
    ``max_duration`` seconds, so a run always ends.
    """
    count = max(0, int(count))
    concurrency = max(1, min(int(concurrency), max(1, count)))
    if hasattr(operation, "resize"):
        operation.resize(concurrency)
    lock = threading.Lock()
    next_index = [0]
    results: list[list[Sample]] = [[] for _ in range(concurrency)]
    stop = threading.Event()
    process = psutil.Process()
    cpu_before = process.cpu_times()
    t0 = time.perf_counter()
    deadline = t0 + max_duration

    def worker(slot: int) -> None:
        mine = results[slot]
        while not stop.is_set():
            with lock:
                index = next_index[0]
                if index >= count:
                    return
                next_index[0] += 1
            if rate:
                due = t0 + index / rate
                delay = due - time.perf_counter()
                if delay > 0 and stop.wait(delay):  # pacing, interruptible
                    return
            started = time.perf_counter()
            if started >= deadline:
                stop.set()
                return
            try:
                operation()
            except Exception as error:  # noqa: BLE001 - every failure is a data point
                mine.append(Sample(started - t0, time.perf_counter() - started, error_text(error),
                                   getattr(error, "detail", None)))
            else:
                mine.append(Sample(started - t0, time.perf_counter() - started))

    threads = [threading.Thread(target=worker, args=(i,), name=f"load-{i}", daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - time.perf_counter()) + 30.0)
    stop.set()
    wall = time.perf_counter() - t0
    cpu_after = process.cpu_times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    samples = sorted((s for chunk in results for s in chunk), key=lambda s: s.start)
    early = f"stopped after max_duration {max_duration:g} s" if len(samples) < count else ""
    return RunResult(samples, wall, concurrency, cpu, rate, early)
