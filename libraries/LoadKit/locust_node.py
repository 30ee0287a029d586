"""A Locust master or worker for a LoadKit run (Locust used as a library, with the kit's locustfile).

    python libraries/LoadKit/locust_node.py worker --master-host HOST [--master-port 5557]
    python libraries/LoadKit/locust_node.py master --results FILE --workers N [--bind-host H]
                                         [--bind-port P] [--worker-timeout S] [--max-duration S] [--csv PREFIX]

The master reads the plan (a JSON line on its standard input: it holds the token), listens, waits
for ``--workers`` workers, hands each its share of the count, starts the users and collects every
call's sample. It prints one JSON
line per event on stdout for the kit (``listening`` with the port, ``worker`` with how many are
connected, ``error``, ``done``), writes the samples and Locust's own statistics to ``--results``,
Locust's statistics as CSV to ``--csv``, and stops the workers when it ends.
"""

from __future__ import annotations

# ruff: noqa: E402 - the imports after the path fix and Locust come last on purpose
import sys
from pathlib import Path

# Run as a script, never as ``-m LoadKit...``: importing the LoadKit package first would load ssl before
# Locust patches the standard library for gevent. The libraries folder, not this one, goes on the path.
sys.path[0] = str(Path(__file__).resolve().parents[1])

import locust  # noqa: F401, I001 - before anything that may import ssl

import argparse
import csv
import json
import os
import time
from typing import Any

from gevent.event import Event
from locust import events
from locust.env import Environment
from locust.log import setup_logging
from locust.runners import MasterRunner
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

from LoadKit.locustfile import KitUser

STOP_GRACE = 10.0  # seconds after the deadline for workers to finish the calls in flight and report


def emit(event: str, **data: Any) -> None:
    """One event for the kit, as a JSON line on stdout."""
    print(json.dumps({"event": event, **data}), flush=True)


def shares(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` shares that differ by at most one."""
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]


class MasterSide:
    """The master's part of a run: hands out the plan, counts workers, gathers samples."""

    def __init__(self, runner: MasterRunner, plan: dict[str, Any], workers: int) -> None:
        self.runner = runner
        self.plan = plan
        self.workers = workers
        self.quotas = shares(int(plan["count"]), workers)
        self.connected: set[str] = set()
        self.numbers: dict[str, int] = {}  # worker id -> 1, 2, ... in the order they asked for the plan
        self.all_connected = Event()
        self.finished = Event()
        self.samples: list[list[Any]] = []
        self.reports: dict[int, dict[str, Any]] = {}

    def on_connect(self, client_id: str, **_: Any) -> None:
        self.connected.add(client_id)
        emit("worker", connected=len(self.connected), expected=self.workers)
        if len(self.connected) >= self.workers:
            self.all_connected.set()

    def on_hello(self, environment: Any, msg: Any, **_: Any) -> None:
        if msg.node_id in self.numbers:
            return
        number = len(self.numbers) + 1
        self.numbers[msg.node_id] = number
        quota = self.quotas[number - 1] if number <= len(self.quotas) else 0
        self.runner.send_message("loadkit_plan", {**self.plan, "quota": quota}, client_id=msg.node_id)

    def on_samples(self, environment: Any, msg: Any, **_: Any) -> None:
        number = self.numbers.get(msg.node_id, 0)
        self.samples.extend([number, *sample] for sample in msg.data["samples"])

    def on_done(self, environment: Any, msg: Any, **_: Any) -> None:
        self.reports[self.numbers.get(msg.node_id, 0)] = msg.data
        if len(self.reports) >= self.workers:
            self.finished.set()


def locust_figures(environment: Environment) -> dict[str, Any]:
    """Locust's own totals (its response times are rounded to two significant digits above 100 ms)."""
    total = environment.stats.total
    return {"requests": total.num_requests, "failures": total.num_failures,
            "p50_ms": total.get_response_time_percentile(0.5), "p95_ms": total.get_response_time_percentile(0.95),
            "max_ms": total.max_response_time, "errors": {e["error"]: e["occurrences"]
                                                          for e in environment.stats.serialize_errors().values()}}


def write_csv(environment: Environment, prefix: str) -> None:
    writer = StatsCSV(environment, PERCENTILES_TO_REPORT)
    with open(f"{prefix}_stats.csv", "w", newline="") as file:
        writer.requests_csv(csv.writer(file))
    with open(f"{prefix}_failures.csv", "w", newline="") as file:
        writer.failures_csv(csv.writer(file))


def run_master(args: argparse.Namespace) -> int:
    plan = json.loads(sys.stdin.readline())
    environment = Environment(user_classes=[KitUser], events=events)
    runner = environment.create_master_runner(args.bind_host, args.bind_port)
    side = MasterSide(runner, plan, args.workers)
    runner.register_message("loadkit_hello", side.on_hello)
    runner.register_message("loadkit_samples", side.on_samples)
    runner.register_message("loadkit_done", side.on_done)
    environment.events.worker_connect.add_listener(side.on_connect)
    environment.events.init.fire(environment=environment, runner=runner, web_ui=None)
    emit("listening", port=runner.server.port)
    if not side.all_connected.wait(args.worker_timeout):
        emit("error", reason="workers", connected=len(side.connected), expected=args.workers,
             waited_s=args.worker_timeout)
        runner.quit()
        return 3
    started = time.time()
    users = int(plan["users"])
    runner.start(users, spawn_rate=max(users, 1))
    stopped_early = ""
    if not side.finished.wait(args.max_duration):
        stopped_early = f"stopped after max_duration {args.max_duration:g} s"
        runner.send_message("loadkit_stop", {})
        side.finished.wait(float(plan["operation"].get("timeout") or 5.0) + STOP_GRACE)
    result = {"started": started, "samples": side.samples, "workers": side.reports, "stopped_early": stopped_early,
              "locust": locust_figures(environment), "users": users}
    partial = Path(f"{args.results}.partial")
    partial.write_text(json.dumps(result))
    os.replace(partial, args.results)
    if args.csv:
        write_csv(environment, args.csv)
    runner.quit()
    emit("done", samples=len(side.samples), workers=len(side.reports))
    return 0


def run_worker(args: argparse.Namespace) -> int:
    environment = Environment(user_classes=[KitUser], events=events)
    runner = environment.create_worker_runner(args.master_host, args.master_port)
    environment.events.init.fire(environment=environment, runner=runner, web_ui=None)
    runner.greenlet.join()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="locust_node.py", description=__doc__.splitlines()[0])
    roles = parser.add_subparsers(dest="role", required=True)
    master = roles.add_parser("master")
    master.add_argument("--results", required=True)
    master.add_argument("--workers", type=int, required=True)
    master.add_argument("--bind-host", default="127.0.0.1")
    master.add_argument("--bind-port", type=int, default=0)
    master.add_argument("--worker-timeout", type=float, default=30.0)
    master.add_argument("--max-duration", type=float, default=600.0)
    master.add_argument("--csv", default="")
    worker = roles.add_parser("worker")
    worker.add_argument("--master-host", default="127.0.0.1")
    worker.add_argument("--master-port", type=int, default=5557)
    args = parser.parse_args(argv)
    setup_logging("INFO")
    return run_master(args) if args.role == "master" else run_worker(args)


if __name__ == "__main__":
    sys.exit(main())
