"""Load from Locust in distributed mode: one master and N workers, here or on other machines.

The kit starts the master (``libraries/LoadKit/locust_node.py master``) and ``local_workers`` workers
on this machine, each a separate process in its own process group; the others are started on other
machines with ``python libraries/LoadKit/locust_node.py worker --master-host <this machine>
--master-port <port>``. The master waits ``worker_timeout`` for all ``workers`` and fails naming how many came.
Locust is never imported here (it patches the standard library for gevent); its processes report
events as JSON lines, and the run's samples and Locust's statistics come back as a results file. The
plan, which holds the token, reaches the master through its standard input, never a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from kitcore import CleanupListener, KitError
from LoadKit.operations import HttpOperation
from LoadKit.runner import RunResult, Sample

LIBRARIES = Path(__file__).resolve().parents[1]
NODE = Path(__file__).resolve().with_name("locust_node.py")
START_TIMEOUT = 60.0  # for the master to import Locust and listen
STOP_TIMEOUT = 15.0  # for a process to end after the run, before it is killed
WORKER_QUIT_TIMEOUT = 5.0  # for a worker to follow the master's quit before it gets SIGTERM
LOG_TAIL = 1500
GENERATORS = ("threads", "locust")


@dataclass
class GeneratorSettings:
    """Which generator runs load, and for Locust where its master listens and how many workers it waits for."""

    engine: str = "threads"
    workers: int = 2
    local_workers: int | None = None  # started here; None: all of them
    master_bind: str = "127.0.0.1"
    master_port: int = 0  # 0: any free port (workers started here are told which)
    worker_timeout: float = 30.0

    def __post_init__(self) -> None:
        self.engine = str(self.engine).strip().lower()
        if self.engine not in GENERATORS:
            raise KitError(f"No load generator '{self.engine}'", fix=f"use one of: {', '.join(GENERATORS)}")
        self.workers = int(self.workers)
        if self.workers < 1:
            raise KitError(f"A Locust run needs at least one worker, not {self.workers}",
                           fix="set workers= to 1 or more")
        if self.local_workers is not None:
            self.local_workers = int(self.local_workers)
            if not 0 <= self.local_workers <= self.workers:
                raise KitError(f"local_workers={self.local_workers} is not between 0 and workers={self.workers}",
                               fix="start at most as many workers here as the master waits for")

    @property
    def started_here(self) -> int:
        return self.workers if self.local_workers is None else self.local_workers


def _die_with_parent() -> None:
    """In a child before exec: end with SIGTERM when the process that started it dies (Linux)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class LocustRun:
    """The processes of one distributed run; ``stop()`` ends them all (also from the cleanup listener)."""

    def __init__(self, folder: Path, settings: GeneratorSettings) -> None:
        self.folder = folder
        self.settings = settings
        self.master: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []
        self.environment = {**os.environ,
                            "PYTHONPATH": os.pathsep.join(filter(None, [str(LIBRARIES), os.environ.get("PYTHONPATH")]))}

    def _spawn(self, args: list[str], log_name: str, stdout: int, stdin: int) -> subprocess.Popen[bytes]:
        log = (self.folder / log_name).open("wb")
        self.logs.append(log)
        return subprocess.Popen([sys.executable, str(NODE), *args], stdout=stdout, stderr=log,
                                stdin=stdin, env=self.environment, start_new_session=True,
                                preexec_fn=_die_with_parent)

    def start_master(self, plan: dict[str, Any], results: Path, max_duration: float, csv_prefix: Path) -> None:
        """Start the master and hand it the plan on its standard input."""
        self.master = self._spawn(
            ["master", "--results", str(results), "--workers", str(self.settings.workers),
             "--bind-host", self.settings.master_bind, "--bind-port", str(self.settings.master_port),
             "--worker-timeout", str(self.settings.worker_timeout), "--max-duration", str(max_duration),
             "--csv", str(csv_prefix)], "master.log", subprocess.PIPE, subprocess.PIPE)
        assert self.master.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # a master that died at once is reported by its exit
            self.master.stdin.write(json.dumps(plan).encode() + b"\n")
            self.master.stdin.close()

    def start_workers(self, port: int) -> None:
        host = "127.0.0.1" if self.settings.master_bind in ("0.0.0.0", "*", "") else self.settings.master_bind  # noqa: S104
        for number in range(1, self.settings.started_here + 1):
            self.workers.append(self._spawn(["worker", "--master-host", host, "--master-port", str(port)],
                                            f"worker-{number}.log", subprocess.DEVNULL, subprocess.DEVNULL))

    def events(self, deadline: float) -> Any:
        """The master's events (dicts) as they come, until it closes its output; a KitError at ``deadline``."""
        assert self.master is not None and self.master.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.master.stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise KitError("The Locust master did not finish in time",
                                   cause="no word from it within the run's budget; its log ends: "
                                         f"{self.log_tail('master.log')}",
                                   fix="raise max_duration=, or look at the master's log next to log.html")
                line = self.master.stdout.readline()
                if not line:
                    return
                with contextlib.suppress(ValueError):
                    yield json.loads(line)

    def log_tail(self, name: str) -> str:
        path = self.folder / name
        text = path.read_text(errors="replace").strip() if path.exists() else ""
        return text[-LOG_TAIL:] or "(empty)"

    def stop(self, interrupted: bool = False) -> None:
        """End the master, then the workers: after a run they are already ending and get STOP_TIMEOUT;
        when the run is interrupted their process groups get SIGTERM at once. SIGKILL for any left."""
        processes = [p for p in [self.master, *self.workers] if p is not None]
        for proc in processes:
            try:
                if interrupted:
                    raise subprocess.TimeoutExpired(proc.args, 0)
                proc.wait(STOP_TIMEOUT if proc is self.master else WORKER_QUIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(STOP_TIMEOUT)

    def close(self) -> None:
        """Close this side's ends of the processes' output (after ``stop``)."""
        if self.master is not None and self.master.stdout is not None:
            self.master.stdout.close()
        for log in self.logs:
            log.close()


def run_distributed(operation: Any, label: str, count: int, concurrency: int, rate: float | None,
                    max_duration: float, settings: GeneratorSettings, cleanup: CleanupListener,
                    artefacts: Path) -> RunResult:
    """Run ``operation`` ``count`` times from ``concurrency`` Locust users spread over the workers."""
    if not isinstance(operation, HttpOperation):
        raise KitError(f"Load operation '{label}' cannot run on Locust workers",
                       cause="only HTTP operations travel to other processes; a Python callable runs in this one",
                       fix="define it with 'Define HTTP Operation' (or write 'GET http://...'), or use the "
                           "threads generator")
    count, concurrency = max(0, int(count)), int(concurrency)
    if concurrency < settings.workers:
        raise KitError(f"Concurrency {concurrency} is lower than the {settings.workers} Locust workers",
                       fix="give each worker at least one user: raise concurrency= or lower workers=")
    artefacts.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", label).strip("-").lower()[:60] or "load"
    plan = {"operation": operation.spec(), "label": label, "count": count, "users": concurrency, "rate": rate}
    results = artefacts / "samples.json"
    run = LocustRun(artefacts, settings)
    key = f"locust-{id(run)}"
    cleanup.register(f"Locust master and workers of '{label}'", lambda: run.stop(interrupted=True), key=key)
    try:
        run.start_master(plan, results, max_duration, artefacts / safe)
        _follow(run, max_duration)
    except BaseException:
        run.stop(interrupted=True)
        raise
    else:
        run.stop()
    finally:
        run.close()
        cleanup.forget(key)
    if not results.exists():
        raise KitError(f"The Locust master of '{label}' ended without results",
                       cause=f"exit code {run.master.returncode if run.master else None}; its log ends: "
                             f"{run.log_tail('master.log')}", fix="see master.log next to log.html")
    data = json.loads(results.read_text())
    results.unlink()  # every call's sample: large, and now in the kit's figures
    return to_result(data, concurrency, rate)


def _follow(run: LocustRun, max_duration: float) -> None:
    """Start the workers once the master listens; fail clearly when they do not all come."""
    settings = run.settings
    deadline = time.monotonic() + START_TIMEOUT
    port = settings.master_port
    for event in run.events(deadline):
        kind = event.get("event")
        if kind == "listening":
            port = int(event["port"])
            run.start_workers(port)
            deadline = time.monotonic() + settings.worker_timeout + max_duration + START_TIMEOUT
        elif kind == "error" and event.get("reason") == "workers":
            elsewhere = settings.workers - settings.started_here
            raise KitError(
                f"Only {event['connected']} of {event['expected']} Locust workers connected to the master within "
                f"{float(event['waited_s']):g} s",
                cause=f"{settings.started_here} started on this machine, {elsewhere} expected from elsewhere; "
                      f"the first local worker's log ends: "
                      f"{run.log_tail('worker-1.log') if run.workers else '(none started here)'}",
                fix="start the missing workers with 'python libraries/LoadKit/locust_node.py worker --master-host "
                    f"<this machine> --master-port {port}' (the master must listen on an address they reach: "
                    "master_bind=), or lower workers=")
        elif kind == "done":
            return


def to_result(data: dict[str, Any], concurrency: int, rate: float | None) -> RunResult:
    """The master's results as the kit's run result: samples relative to the first call, Locust's own
    totals and each worker's share and CPU use in ``extra``."""
    rows = data["samples"]
    t0 = min((row[1] for row in rows), default=float(data["started"]))
    samples = sorted((Sample(row[1] - t0, row[2], row[3], row[4]) for row in rows), key=lambda s: s.start)
    wall = max((s.start + s.latency for s in samples), default=0.0)
    per_worker: dict[str, int] = {}
    for row in rows:
        per_worker[str(row[0])] = per_worker.get(str(row[0]), 0) + 1
    reports = data.get("workers") or {}
    cpu = sum(float(r.get("cpu_s") or 0.0) for r in reports.values())
    busiest = max((100.0 * float(r.get("cpu_s") or 0.0) / max(float(r.get("wall_s") or 0.0), 1e-9)
                   for r in reports.values()), default=0.0)
    figures = {"generator": "locust", "workers": len(reports),
               "requests_per_worker": {number: per_worker.get(number, 0) for number in sorted(reports, key=int)},
               "locust": data.get("locust") or {}}
    return RunResult(samples, wall, concurrency, cpu, rate, data.get("stopped_early") or "",
                     {"figures": figures, "client_cpu_percent": busiest})
