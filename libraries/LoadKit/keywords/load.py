"""Run load, step it up, find where it breaks."""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from kitcore import Check, KitError, SecretLike, getter, reveal, to_seconds
from kitcore.logging import log_table
from kitcore.variables import robot_variable
from LoadKit import operations
from LoadKit.plots import plot_latency, plot_steps
from LoadKit.runner import run_load
from LoadKit.summary import summarise

SUMMARY_COLUMNS = ["concurrency", "count", "success_rate", "throughput_per_s", "p50_ms", "p95_ms", "p99_ms",
                   "max_ms", "client_cpu_percent"]


class LoadKeywords:
    def __init__(self) -> None:
        self.summaries: dict[str, dict[str, Any]] = {}
        self.last: str | None = None

    def _keep(self, summary: dict[str, Any]) -> dict[str, Any]:
        self.summaries[summary["name"]] = summary
        self.last = summary["name"]
        return summary

    @keyword("Define HTTP Operation")
    def define_http_operation(self, name: str, method: str, url: str, json: Any = None,
                              headers: dict[str, Any] | None = None, token: SecretLike = None,
                              expect_status: list[int] | None = None, timeout: str = "5s") -> None:
        """Name an HTTP request for ``Run Load``: method, URL, JSON body, headers (values may be
        ``Secret``) and a bearer ``token`` (a ``Secret``; never logged). Success is a 2xx unless
        ``expect_status``.

        Example:
        | Define HTTP Operation | list-sessions | GET | ${api}/api/v1/sessions | token=${token} |
        | Run Load | list-sessions | count=200 | concurrency=10 |
        """
        operation = operations.HttpOperation(method, url, json, headers, reveal(token),
                                             [int(s) for s in expect_status] if expect_status else None,
                                             to_seconds(timeout))
        operations.register_operation(name, operation)
        logger.info(f"Load operation '{name}': {method.upper()} {url}")

    @keyword("Run Load")
    def run_load(self, operation: Any, count: int = 100, concurrency: int = 10, rate: float | None = None,
                 max_duration: str = "10 min", name: str | None = None, plot: bool = True) -> dict[str, Any]:
        """Run ``operation`` ``count`` times from ``concurrency`` threads, optionally at ``rate``
        operations/s; returns the summary (also logged, with a latency-over-time plot).

        ``operation`` is a name from ``Define HTTP Operation`` or ``LoadKit.register_operation``,
        a Python callable, or simply ``GET http://host:port/path``. Robot keywords cannot be
        run from worker threads, so they are not operations.

        Summary keys: ``count``, ``succeeded``, ``failed``, ``success_rate`` and ``error_rate`` (%),
        ``throughput_per_s``, ``p50_ms``, ``p95_ms``, ``p99_ms``, ``max_ms``, ``mean_ms`` (kept to
        ``latency_resolution_ms``), ``errors``,
        ``error_examples`` (what the target answered, one per error), and the generator's own cost:
        ``client_cpu_percent`` (of one core), ``generator_saturated``.

        Example:
        | ${summary} = | Run Load | GET ${url}/health | count=500 | concurrency=20 |
        | Should Be True | ${summary}[success_rate] == 100 |
        """
        label, call = operations.resolve(operation)
        result = run_load(call, int(count), int(concurrency), float(rate) if rate else None, to_seconds(max_duration))
        summary = summarise(result, name or label)
        log_summary([summary], f"Load: {summary['name']}")
        if summary["generator_saturated"]:
            logger.warn(f"The load generator used {summary['client_cpu_percent']} % CPU: it may be the bottleneck "
                        "of this run; lower the concurrency or run the generator on another machine")
        if plot and result.samples:
            plot_latency(result.samples, summary["name"])
        return self._keep(summary)

    @keyword("Run Load Steps")
    def run_load_steps(self, operation: Any, *concurrencies: int, count_per_step: int = 100,
                       rate: float | None = None, name: str | None = None, plot: bool = True) -> list[dict[str, Any]]:
        """Run the same load at each concurrency in turn (e.g. ``5 10 15 20``; default
        ``${LOAD_CONCURRENCY_STEPS}``); returns one summary per step and plots throughput per step.

        Example:
        | @{steps} = | Run Load Steps | list-sessions | 5 | 10 | 15 | 20 | count_per_step=200 |
        """
        if not concurrencies:
            concurrencies = tuple(robot_variable("LOAD_CONCURRENCY_STEPS") or ())
        if not concurrencies:
            raise KitError("No concurrency steps given",
                           fix="list them after the operation, e.g. 5  10  15  20, or set ${LOAD_CONCURRENCY_STEPS}")
        label, call = operations.resolve(operation)
        title = name or label
        steps = []
        for level in concurrencies:
            result = run_load(call, int(count_per_step), int(level), float(rate) if rate else None)
            steps.append(summarise(result, f"{title} @{int(level)}"))
        log_summary(steps, f"Load steps: {title}")
        if plot:
            plot_steps(steps, title)
        for step in steps:
            self._keep(step)
        return steps

    @keyword("Find Failure Point")
    def find_failure_point(self, operation: Any, start: int = 5, step: int = 5, maximum: int = 100,
                           count_per_step: int = 100, max_error_rate: float | None = None,
                           latency_factor: float | None = None,
                           name: str | None = None, plot: bool = True) -> dict[str, Any]:
        """Raise the concurrency from ``start`` by ``step`` up to ``maximum`` until the error rate
        passes ``max_error_rate`` (%, default ``${FAILURE_MAX_ERROR_RATE}`` else 5) or p95 passes
        ``latency_factor`` (default ``${FAILURE_LATENCY_FACTOR}`` else 10) x the first step's p95.

        Returns ``failure_point`` (the first concurrency that failed, or None), ``reason``,
        ``last_good`` and every step's summary.

        Example:
        | ${found} = | Find Failure Point | list-sessions | start=5 | step=5 | maximum=50 |
        | Log | breaks at ${found}[failure_point]: ${found}[reason] |
        """
        label, call = operations.resolve(operation)
        title = name or label
        max_error_rate = float(max_error_rate if max_error_rate is not None
                               else robot_variable("FAILURE_MAX_ERROR_RATE") or 5.0)
        latency_factor = float(latency_factor if latency_factor is not None
                               else robot_variable("FAILURE_LATENCY_FACTOR") or 10.0)
        steps: list[dict[str, Any]] = []
        point, reason, last_good = None, "", None
        level = max(1, int(start))
        while level <= int(maximum):
            summary = summarise(run_load(call, int(count_per_step), level), f"{title} @{level}")
            steps.append(summary)
            baseline = steps[0]["p95_ms"]
            if summary["error_rate"] > float(max_error_rate):
                point, reason = level, f"error rate {summary['error_rate']} % > {float(max_error_rate):g} %"
            elif len(steps) > 1 and baseline > 0 and summary["p95_ms"] > float(latency_factor) * baseline:
                point, reason = level, (f"p95 {summary['p95_ms']} ms > {float(latency_factor):g} x first step's "
                                        f"{baseline} ms")
            if point is not None:
                break
            last_good = level
            level += max(1, int(step))
        if point is None:
            reason = f"no failure up to concurrency {int(maximum)}"
        log_summary(steps, f"Failure point search: {title}")
        logger.info(f"Failure point: {point} ({reason}); last good concurrency: {last_good}")
        if plot and steps:
            plot_steps(steps, title)
        return {"failure_point": point, "reason": reason, "last_good": last_good, "steps": steps}

    @keyword("Get Load Summary")
    def get_load_summary(self, name: str | None = None) -> dict[str, Any]:
        """The summary of the last load run (or of the run called ``name``).

        Example:
        | ${summary} = | Get Load Summary |
        """
        key = name or self.last
        if key is None or key not in self.summaries:
            raise KitError(f"No load summary{f' named {name!r}' if name else ''}",
                           cause=f"runs so far: {', '.join(self.summaries) or 'none'}", fix="call 'Run Load' first")
        return self.summaries[key]

    @keyword("Get Load Figure")
    @getter
    def get_load_figure(self, figure: str, *, check: Check, name: str | None = None) -> Any:
        """One figure of a load summary (``p95_ms``, ``success_rate``, ``throughput_per_s``...),
        optionally asserted.

        Example:
        | Get Load Figure | p95_ms | < | 200 |
        | Get Load Figure | success_rate | == | 100 |
        """
        summary = self.get_load_summary(name)
        if figure not in summary:
            raise KitError(f"No load figure '{figure}'", cause=f"figures: {', '.join(summary)}",
                           fix="use one of those names")
        return check(lambda: summary[figure], f"load {figure}")


def log_summary(summaries: list[dict[str, Any]], title: str) -> None:
    log_table(title, SUMMARY_COLUMNS, [[s[c] for c in SUMMARY_COLUMNS] for s in summaries])
    for summary in summaries:
        if summary["errors"]:
            logger.info(f"{summary['name']} errors: {summary['errors']}; examples: {summary.get('error_examples')}")
