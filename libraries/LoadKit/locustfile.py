"""The kit's locustfile: Locust users that repeat the operation of a LoadKit run.

Used by ``LoadKit/locust_node.py`` (the master and workers the kit starts) and by a plain
``locust -f LoadKit/locustfile.py --worker --master-host <master>`` on another machine.

The master holds the run's plan (the operation, the count, the rate). A worker asks for it once it
is connected (``loadkit_hello``) and gets its share of the count (``loadkit_plan``). Each call is a
Locust ``request`` event (so Locust's own statistics count it) and a sample ``[start, latency,
error, detail]`` the worker sends back to the master in batches (``loadkit_samples``) and, with its
CPU use, at the end (``loadkit_done``). The token travels inside the plan only: request names are
``METHOD URL`` and errors are short texts such as ``OperationFailed: HTTP 401``.
"""

from __future__ import annotations

import time
from typing import Any

import psutil
from gevent.event import Event
from locust import User, events, task
from locust.exception import StopUser
from locust.runners import WorkerRunner

from LoadKit.operations import HttpOperation
from LoadKit.runner import error_text

BATCH = 2000  # samples per message from a worker
PLAN_TIMEOUT = 30.0  # how long a user waits for its worker's plan


class WorkerSide:
    """A worker's share of the run: its plan, how many calls are left, and the samples not yet sent."""

    def __init__(self, runner: WorkerRunner) -> None:
        self.runner = runner
        self.planned = Event()
        self.operation: HttpOperation | None = None
        self.label = ""
        self.remaining = 0
        self.in_flight = 0
        self.pace = 0.0  # seconds between one user's calls (0: as fast as answers come)
        self.samples: list[list[Any]] = []
        self.sent = 0
        self.done = False
        self.process = psutil.Process()
        self.cpu_before = 0.0
        self.started = 0.0

    def on_plan(self, environment: Any, msg: Any, **_: Any) -> None:
        plan = msg.data
        self.operation = HttpOperation.from_spec(plan["operation"])
        self.operation.resize(max(1, int(plan["users"])))
        self.label = plan["label"]
        self.remaining = int(plan["quota"])
        rate = plan.get("rate")
        self.pace = float(plan["users"]) / float(rate) if rate else 0.0
        times = self.process.cpu_times()
        self.cpu_before = times.user + times.system
        self.started = time.monotonic()
        self.planned.set()
        if self.remaining <= 0:
            self.finish()

    def on_stop(self, environment: Any, msg: Any, **_: Any) -> None:
        """The master's deadline passed: start nothing new, report what was done."""
        self.remaining = 0
        if self.in_flight == 0:
            self.finish()

    def take(self) -> bool:
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        self.in_flight += 1
        return True

    def record(self, sample: list[Any]) -> None:
        self.in_flight -= 1
        self.samples.append(sample)
        if len(self.samples) >= BATCH:
            self.flush()
        if self.remaining <= 0 and self.in_flight == 0:
            self.finish()

    def flush(self) -> None:
        if self.samples:
            batch, self.samples = self.samples, []
            self.sent += len(batch)
            self.runner.send_message("loadkit_samples", {"samples": batch})

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        self.flush()
        report: dict[str, Any] = {}  # Locust's own statistics first, so the master has them all when done
        self.runner.environment.events.report_to_master.fire(client_id=self.runner.client_id, data=report)
        self.runner.send_message("stats", report)
        times = self.process.cpu_times()
        self.runner.send_message("loadkit_done", {
            "samples": self.sent, "cpu_s": times.user + times.system - self.cpu_before,
            "wall_s": time.monotonic() - self.started, "index": self.runner.worker_index})


_worker: WorkerSide | None = None


@events.init.add_listener
def on_init(environment: Any, **_: Any) -> None:
    """On a worker: take the plan handlers and ask the master for the plan. (The master's side is
    set up by ``locust_node.py``.)"""
    global _worker
    if isinstance(environment.runner, WorkerRunner):
        _worker = WorkerSide(environment.runner)
        environment.runner.register_message("loadkit_plan", _worker.on_plan)
        environment.runner.register_message("loadkit_stop", _worker.on_stop)
        environment.runner.send_message("loadkit_hello", {})


class KitUser(User):
    """One simulated client: repeats the plan's operation until its worker's share is done."""

    began = 0.0

    def wait_time(self) -> float:
        """With a target rate, each user starts a call every ``users / rate`` seconds (as Locust's
        ``constant_throughput``); without one, the next call starts when the answer came."""
        pace = _worker.pace if _worker else 0.0
        return max(0.0, self.began + pace - time.monotonic()) if pace else 0.0

    @task
    def operate(self) -> None:
        side = _worker
        if side is None or not side.planned.wait(PLAN_TIMEOUT) or side.operation is None:
            raise StopUser()
        if not side.take():
            raise StopUser()
        self.began = time.monotonic()
        started_wall = time.time()
        started = time.perf_counter()
        error: Exception | None = None
        try:
            side.operation()
        except Exception as caught:  # noqa: BLE001 - every failure is a data point
            error = caught
        latency = time.perf_counter() - started
        text = error_text(error) if error else None
        self.environment.events.request.fire(
            request_type=side.operation.method, name=side.label, response_time=latency * 1000.0,
            response_length=0, response=None, context={}, exception=text)
        side.record([started_wall, latency, text, getattr(error, "detail", None)])
