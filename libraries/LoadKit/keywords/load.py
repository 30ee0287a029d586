"""Run load, step it up, find where it breaks."""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from kitcore import Check, CleanupListener, KitError, SecretLike, getter, reveal, to_seconds
from kitcore.logging import log_table
from kitcore.variables import robot_variable
from LoadKit import operations
from LoadKit.distributed import GeneratorSettings, run_distributed
from LoadKit.plots import output_dir, plot_latency, plot_steps, run_folder_name
from LoadKit.runner import RunResult, run_load
from LoadKit.summary import summarise

SUMMARY_COLUMNS = ["concurrency", "count", "success_rate", "throughput_per_s", "p50_ms", "p95_ms", "p99_ms",
                   "max_ms", "client_cpu_percent"]


class LoadKeywords:
    def __init__(self, settings: GeneratorSettings, listener: CleanupListener) -> None:
        self.settings = settings
        self.listener = listener
        self.summaries: dict[str, dict[str, Any]] = {}
        self.last: str | None = None

    def _generate(self, call: Any, label: str, count: int, concurrency: int, rate: float | None,
                  max_duration: float = 600.0, engine: str | None = None) -> RunResult:
        """One run on the chosen generator: this process's threads, or Locust's master and workers."""
        settings = self.settings if not engine else GeneratorSettings(**{**vars(self.settings), "engine": engine})
        if settings.engine == "threads":
            return run_load(call, count, concurrency, rate, max_duration)
        result = run_distributed(call, label, count, concurrency, rate, max_duration, settings, self.listener,
                                 output_dir("locust") / run_folder_name(label))
        locust = result.extra.get("figures", {}).get("locust", {})
        if locust.get("requests") != len(result.samples):
            logger.warn(f"Locust counted {locust.get('requests')} requests of '{label}' but {len(result.samples)} "
                        "came back to the kit: a worker's report was lost; the figures cover what came back")
        return result

    @keyword("Use Load Generator")
    def use_load_generator(self, engine: str = "threads", workers: int = 2, local_workers: int | None = None,
                           master_bind: str = "127.0.0.1", master_port: int = 0,
                           worker_timeout: str = "30s") -> None:
        """Choose what generates the load of the following runs: ``threads`` (this process; the
        default, right for small loads) or ``locust`` (a Locust master and ``workers`` worker
        processes). The same can be set when importing the library.

        With ``locust``, ``local_workers`` of the workers (default: all) are started on this machine;
        the rest are started elsewhere with
        ``python libraries/LoadKit/locust_node.py worker --master-host <this machine> --master-port <port>``
        and the master must listen where they reach it (``master_bind=0.0.0.0``, a fixed
        ``master_port``). The master waits ``worker_timeout`` for them all and fails naming how many
        came. Only HTTP operations run on Locust. Locust's logs and its statistics as CSV are kept
        under ``locust/`` next to log.html.

        Example:
        | Use Load Generator | locust | workers=2 |
        | ${summary} = | Run Load | list-sessions | count=2000 | concurrency=20 |
        | Should Be Equal | ${summary}[workers] | ${2} |
        """
        self.settings = GeneratorSettings(engine, workers, local_workers, master_bind, master_port,
                                          to_seconds(worker_timeout))
        logger.info(f"Load generator: {self.settings.engine}"
                    + (f" ({self.settings.workers} workers, {self.settings.started_here} started here)"
                       if self.settings.engine == "locust" else ""))

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
                 max_duration: str = "10 min", name: str | None = None, plot: bool = True,
                 engine: str | None = None) -> dict[str, Any]:
        """Run ``operation`` ``count`` times from ``concurrency`` threads (or Locust users), optionally
        at ``rate`` operations/s; returns the summary (also logged, with a latency-over-time plot).

        ``operation`` is a name from ``Define HTTP Operation`` or ``LoadKit.register_operation``,
        a Python callable, or simply ``GET http://host:port/path``. Robot keywords cannot be
        run from worker threads, so they are not operations.

        Summary keys: ``count``, ``succeeded``, ``failed``, ``success_rate`` and ``error_rate`` (%),
        ``throughput_per_s``, ``p50_ms``, ``p95_ms``, ``p99_ms``, ``max_ms``, ``mean_ms`` (kept to
        ``latency_resolution_ms``), ``errors``,
        ``error_examples`` (what the target answered, one per error), and the generator's own cost:
        ``client_cpu_percent`` (of one core), ``generator_saturated``, and ``generator``.

        ``engine`` overrides the generator for this run (see ``Use Load Generator``). On Locust the
        figures are the same, from every call the workers made, plus ``workers``,
        ``requests_per_worker`` and ``locust`` (Locust's own totals: requests, failures, p50/p95/max
        in ms, errors); ``client_cpu_percent`` is the busiest worker's.

        Example:
        | ${summary} = | Run Load | GET ${url}/health | count=500 | concurrency=20 |
        | Should Be True | ${summary}[success_rate] == 100 |
        """
        label, call = operations.resolve(operation)
        result = self._generate(call, name or label, int(count), int(concurrency), float(rate) if rate else None,
                                to_seconds(max_duration), engine)
        summary = summarise(result, name or label)
        log_summary([summary], f"Load: {summary['name']}")
        if summary["generator_saturated"]:
            remedy = ("add Locust workers (workers=), on other machines if this one is busy"
                      if summary["generator"] == "locust" else
                      "lower the concurrency, or spread the load over Locust workers ('Use Load Generator  locust')")
            logger.warn(f"The load generator used {summary['client_cpu_percent']} % CPU: it may be the bottleneck "
                        f"of this run; {remedy}")
        if plot and result.samples:
            plot_latency(result.samples, summary["name"])
        return self._keep(summary)

    @keyword("Run Load Steps")
    def run_load_steps(self, operation: Any, *concurrencies: int, count_per_step: int = 100,
                       rate: float | None = None, name: str | None = None, plot: bool = True,
                       engine: str | None = None) -> list[dict[str, Any]]:
        """Run the same load at each concurrency in turn (e.g. ``5 10 15 20``; default
        ``${LOAD_CONCURRENCY_STEPS}``); returns one summary per step and plots throughput per step.
        ``engine`` overrides the generator (see ``Use Load Generator``).

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
            result = self._generate(call, f"{title} @{int(level)}", int(count_per_step), int(level),
                                    float(rate) if rate else None, engine=engine)
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
                           name: str | None = None, plot: bool = True, engine: str | None = None) -> dict[str, Any]:
        """Raise the concurrency from ``start`` by ``step`` up to ``maximum`` until the error rate
        passes ``max_error_rate`` (%, default ``${FAILURE_MAX_ERROR_RATE}`` else 5) or p95 passes
        ``latency_factor`` (default ``${FAILURE_LATENCY_FACTOR}`` else 10) x the first step's p95.
        ``engine`` overrides the generator (see ``Use Load Generator``).

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
            summary = summarise(self._generate(call, f"{title} @{level}", int(count_per_step), level, None,
                                               engine=engine), f"{title} @{level}")
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
        if summary.get("generator") == "locust":
            locust = summary.get("locust", {})
            logger.info(f"{summary['name']}: generated by Locust with {summary['workers']} workers; requests per "
                        f"worker {summary['requests_per_worker']}; Locust's own count: {locust.get('requests')} "
                        f"requests, {locust.get('failures')} failures, p95 {locust.get('p95_ms')} ms")
        if summary["errors"]:
            logger.info(f"{summary['name']} errors: {summary['errors']}; examples: {summary.get('error_examples')}")
