"""API availability: GET a path through every replica URL at an interval; downtime and RTO."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from typing import Any

import requests

from kitcore.stats import percentile
from ProbesKit.probes.base import Probe, iso
from ProbesKit.probes.windows import Window, downtime_windows, merge_any_up, summarise


class EndpointChecker(Probe):
    """Checks one URL with a fresh connection each time (what a new client would see)."""

    kind = "endpoint"

    def __init__(self, url: str, interval: float, max_duration: float, timeout: float,
                 expect_status: int = 200) -> None:
        super().__init__(url, interval, max_duration)
        self.url = url
        self.timeout = timeout
        self.expect_status = expect_status
        self.samples: list[tuple[float, bool]] = []
        self.latencies: list[float] = []
        self.error_kinds: Counter[str] = Counter()
        self._http = requests.Session()
        self._http.trust_env = False

    def tick(self) -> None:
        start = self.now()
        try:
            response = self._http.get(self.url, timeout=self.timeout, headers={"Connection": "close"})
            ok = response.status_code == self.expect_status
            error = "" if ok else f"HTTP {response.status_code}"
        except requests.RequestException as exc:
            ok, error = False, _error_kind(exc)
        latency = self.now() - start
        with self._lock:
            self.samples.append((start, ok))
            if ok:
                self.latencies.append(latency)
            else:
                self.error_kinds[error] += 1

    def teardown(self) -> None:
        self._http.close()

    def series(self) -> list[tuple[float, bool]]:
        with self._lock:
            return list(self.samples)

    def figures(self) -> dict[str, Any]:
        samples = self.series()
        with self._lock:
            latencies = list(self.latencies)
            errors = dict(self.error_kinds)
        windows = downtime_windows(samples)
        return {
            "up_now": bool(samples and samples[-1][1]),
            "checks": len(samples),
            "errors": sum(1 for _, ok in samples if not ok),
            "error_kinds": errors,
            **summarise(windows),
            "windows": [window_dict(w, self.started_wall) for w in windows],
            "resolution": round(max((b[0] - a[0] for a, b in itertools.pairwise(samples)), default=0.0), 3),
            "latency_p50": round(percentile(latencies, 50), 4),
            "latency_max": round(max(latencies, default=0.0), 4),
        }


class AvailabilityProbe:
    """One checker thread per replica URL; the service counts as up while any replica answers."""

    kind = "availability"

    def __init__(self, name: str, urls: list[str], path: str = "/health", interval: float = 0.1,
                 timeout: float = 1.0, max_duration: float = 600.0, expect_status: int = 200) -> None:
        self.name = name
        self.path = path if path.startswith("/") else "/" + path
        self.urls = [u.rstrip("/") for u in urls]
        self.interval = interval
        self.checkers = [EndpointChecker(u + self.path, interval, max_duration, timeout, expect_status)
                         for u in self.urls]

    def start(self) -> AvailabilityProbe:
        clock = (time.monotonic(), time.time())  # one clock for all checkers
        for checker in self.checkers:
            checker.start(clock)
        return self

    @property
    def running(self) -> bool:
        return any(c.running for c in self.checkers)

    def stop(self, timeout: float = 10.0) -> dict[str, Any]:
        for checker in self.checkers:
            checker.request_stop()  # all at once, then join
        for checker in self.checkers:
            checker.stop(timeout)
        return self.report()

    def keep_running(self, seconds: float) -> bool:
        """Wait ``seconds`` while the checkers observe; False when one stopped by itself before."""
        deadline = time.monotonic() + seconds
        alive = [c.keep_running(max(0.0, deadline - time.monotonic())) for c in self.checkers]
        return all(alive)

    def report(self) -> dict[str, Any]:
        base = self.checkers[0]
        duration = min(c.ended_mono if c.ended_mono is not None else c.now() for c in self.checkers)
        replicas = {c.url: {"replica_url": u, **c.figures()} for u, c in zip(self.urls, self.checkers, strict=True)}
        service = downtime_windows(merge_any_up({c.url: c.series() for c in self.checkers}))
        figures = summarise(service)
        return {
            "name": self.name,
            "kind": self.kind,
            "started": iso(base.started_wall),
            "duration": round(duration, 3),
            "watched_from": base.started_mono,
            "watched_until": base.started_mono + duration,
            "running": self.running,
            "interval": self.interval,
            "path": self.path,
            "up_now": any(r["up_now"] for r in replicas.values()),
            "checks": sum(r["checks"] for r in replicas.values()),
            "errors": sum(r["errors"] for r in replicas.values()),
            **figures,
            "rto": figures["longest_downtime"],
            "windows": [window_dict(w, base.started_wall) for w in service],
            "replica_downtime": round(sum(r["downtime"] for r in replicas.values()), 3),
            "longest_replica_downtime": max((r["longest_downtime"] for r in replicas.values()), default=0.0),
            "replicas": replicas,
        }


def window_dict(window: Window, started_wall: float) -> dict[str, Any]:
    return {"start": iso(started_wall + window.start), "end": iso(started_wall + window.end),
            "seconds": round(window.seconds, 3), "open": window.open}


def _error_kind(error: Exception) -> str:
    if isinstance(error, requests.Timeout):
        return "timeout"
    if isinstance(error, requests.ConnectionError):
        return "connection refused or reset"
    return type(error).__name__
