"""Figures of a load run: count, success rate, throughput, latency percentiles, generator cost."""

from __future__ import annotations

from collections import Counter
from typing import Any

import psutil

from kitcore.stats import percentile
from LoadKit.runner import RunResult

SATURATED_CPU_PERCENT = 85.0  # of one core: past this, the generator may be the bottleneck
# Latencies are timed with time.perf_counter around each request and kept to 0.01 ms.
LATENCY_RESOLUTION_MS = 0.01



def summarise(result: RunResult, name: str = "load") -> dict[str, Any]:
    samples = result.samples
    ok = [s.latency for s in samples if s.ok]
    errors = Counter(s.error for s in samples if not s.ok)
    examples: dict[str, str] = {}
    for sample in samples:
        if sample.error and sample.detail and sample.error not in examples:
            examples[sample.error] = sample.detail
    count = len(samples)
    wall = max(result.wall, 1e-9)
    # with several generator processes, the busiest one says whether the generator limited the run
    cpu_percent = float(result.extra.get("client_cpu_percent", 100.0 * result.client_cpu / wall))
    ms = 1000.0
    return {
        "name": name,
        "count": count,
        "succeeded": len(ok),
        "failed": count - len(ok),
        "success_rate": round(100.0 * len(ok) / count, 2) if count else 0.0,
        "error_rate": round(100.0 * (count - len(ok)) / count, 2) if count else 0.0,
        "errors": dict(errors.most_common(10)),
        "error_examples": {error: examples[error] for error, _ in errors.most_common(10) if error in examples},
        "concurrency": result.concurrency,
        "target_rate": result.target_rate,
        "duration_s": round(result.wall, 3),
        "throughput_per_s": round(count / wall, 2),
        "success_throughput_per_s": round(len(ok) / wall, 2),
        "p50_ms": round(percentile(ok, 50) * ms, 2),
        "p95_ms": round(percentile(ok, 95) * ms, 2),
        "p99_ms": round(percentile(ok, 99) * ms, 2),
        "max_ms": round(max(ok, default=0.0) * ms, 2),
        "mean_ms": round(sum(ok) / len(ok) * ms, 2) if ok else 0.0,
        "latency_resolution_ms": LATENCY_RESOLUTION_MS,
        "client_cpu_percent": round(cpu_percent, 1),
        "client_cpu_per_op_ms": round(result.client_cpu / count * ms, 3) if count else 0.0,
        "client_cores": psutil.cpu_count() or 1,
        "generator_saturated": cpu_percent >= SATURATED_CPU_PERCENT,
        "stopped_early": result.stopped_early,
        "generator": "threads",
        **result.extra.get("figures", {}),
    }
