"""A probe: a bounded background loop that observes the system and keeps figures."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import requests


def first_answer(http: requests.Session, urls: Iterable[str], path: str, headers: dict[str, str], timeout: float,
                 skip: Callable[[requests.Response], bool]) -> requests.Response | None:
    """GET ``path`` on each API replica in turn; the first answer ``skip`` keeps, or None when none did.

    A replica that cannot be reached counts as skipped."""
    for url in urls:
        try:
            response = http.get(f"{url}{path}", headers=headers, timeout=timeout)
        except requests.RequestException:
            continue
        if not skip(response):
            return response
    return None


def iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Probe(ABC):
    """Runs :meth:`tick` every ``interval`` seconds in a daemon thread, until stopped or until
    ``max_duration`` has passed. A failing tick is counted, never fatal."""

    kind = "probe"

    def __init__(self, name: str, interval: float, max_duration: float) -> None:
        self.name = name
        self.interval = max(0.001, interval)
        self.max_duration = max_duration
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.started_mono = 0.0
        self.started_wall = 0.0
        self.ended_mono: float | None = None
        self.ticks = 0
        self.probe_errors: list[str] = []

    # -- clock ----------------------------------------------------------------------------
    def now(self) -> float:
        """Seconds since the probe started (monotonic)."""
        return time.monotonic() - self.started_mono

    def wall(self, offset: float) -> str:
        return iso(self.started_wall + offset)

    # -- life cycle -------------------------------------------------------------------------
    def start(self, clock: tuple[float, float] | None = None) -> Probe:
        """Start the loop; ``clock`` = (monotonic, wall) start shared with sibling probes."""
        self.started_mono, self.started_wall = clock or (time.monotonic(), time.time())
        self.setup()
        self._thread = threading.Thread(target=self._run, name=f"probe-{self.name}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        deadline = self.started_mono + self.max_duration
        next_tick = time.monotonic()
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    self.tick()
                except Exception as error:  # noqa: BLE001 - a probe keeps running and reports it
                    with self._lock:
                        self.probe_errors.append(f"{type(error).__name__}: {error}")
                self.ticks += 1
                next_tick += self.interval
                delay = next_tick - time.monotonic()
                if delay < 0:  # a slow tick: do not try to catch up in a burst
                    next_tick = time.monotonic()
                    delay = 0
                self._stop.wait(min(delay, max(0.0, deadline - time.monotonic())))
        finally:
            self.ended_mono = self.now()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def request_stop(self) -> None:
        """Ask the loop to end after its current tick."""
        self._stop.set()

    def join(self, timeout: float = 10.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def keep_running(self, seconds: float) -> bool:
        """Wait ``seconds`` while the probe observes; False when it stopped by itself before
        (its ``max_duration`` ran out, or it was stopped)."""
        if self._thread is None:
            return False
        self._thread.join(seconds)
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> dict[str, Any]:
        self.request_stop()
        self.join(timeout)
        self.teardown()
        return self.report()

    def setup(self) -> None:  # noqa: B027 - optional hook
        """Open what the probe needs (called before the thread starts)."""

    def teardown(self) -> None:  # noqa: B027 - optional hook
        """Close what the probe opened (called after the thread ended)."""

    @abstractmethod
    def tick(self) -> None:
        """One observation."""

    @abstractmethod
    def figures(self) -> dict[str, Any]:
        """The probe's own figures."""

    def report(self) -> dict[str, Any]:
        duration = self.ended_mono if self.ended_mono is not None else self.now()
        with self._lock:
            errors = list(self.probe_errors)
        return {
            "name": self.name,
            "kind": self.kind,
            "started": iso(self.started_wall),
            "duration": round(duration, 3),
            "watched_from": self.started_mono,
            "watched_until": self.started_mono + duration,
            "running": self.running,
            "interval": self.interval,
            "ticks": self.ticks,
            "probe_errors": errors[-10:],
            **self.figures(),
        }
