"""Resource sampling during a run: processes (CPU %, RSS via psutil), containers (Docker API
stats) and PostgreSQL connections (pg_stat_activity), in one bounded background thread."""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psutil

from kitcore.containers import list_containers

MB = 1024 * 1024


@dataclass
class Series:
    points: list[tuple[float, float]] = field(default_factory=list)

    def add(self, when: float, value: float) -> None:
        self.points.append((when, value))

    def figures(self, unit: str) -> dict[str, float]:
        values = [v for _, v in self.points]
        if not values:
            return {f"max_{unit}": 0.0, f"mean_{unit}": 0.0, "samples": 0}
        return {f"max_{unit}": round(max(values), 2), f"mean_{unit}": round(sum(values) / len(values), 2),
                "samples": len(values)}


class ProcessGroup:
    """Processes by pid list or by a pattern matched against name and command line."""

    def __init__(self, label: str, pids: list[int] | None = None, pattern: str | None = None) -> None:
        self.label = label
        self.pids = pids or []
        self.pattern = re.compile(pattern) if pattern else None
        self._known: dict[int, psutil.Process] = {}
        self.cpu = Series()
        self.rss = Series()

    def _current(self) -> list[psutil.Process]:
        if self.pattern is None:
            wanted = set(self.pids)
        else:
            wanted = set()
            for proc in psutil.process_iter(["name", "cmdline"]):
                text = " ".join([proc.info.get("name") or "", *(proc.info.get("cmdline") or [])])
                if self.pattern.search(text) and proc.pid != psutil.Process().pid:
                    wanted.add(proc.pid)
        for pid in list(self._known):
            if pid not in wanted:
                self._known.pop(pid)
        for pid in wanted:
            if pid not in self._known:
                with contextlib.suppress(psutil.Error):
                    proc = psutil.Process(pid)
                    proc.cpu_percent(None)  # prime: the first call always answers 0
                    self._known[pid] = proc
        return list(self._known.values())

    def sample(self, when: float) -> None:
        cpu = rss = 0.0
        for proc in self._current():
            with contextlib.suppress(psutil.Error), proc.oneshot():
                cpu += proc.cpu_percent(None)
                rss += proc.memory_info().rss / MB
        self.cpu.add(when, cpu)
        self.rss.add(when, rss)

    def figures(self) -> dict[str, Any]:
        return {"kind": "processes", "processes": len(self._known), **self.cpu.figures("cpu_percent"),
                **{k: v for k, v in self.rss.figures("rss_mb").items() if k != "samples"}}


class ContainerGroup:
    """Containers by name or label through the Docker API (works with Podman's)."""

    def __init__(self, label: str, names: list[str], engine_url: str | None, label_filter: str | None) -> None:
        import docker

        self.label = label
        if engine_url:
            self.client = docker.DockerClient(base_url=engine_url, timeout=10)
        else:
            self.client = docker.from_env(timeout=10)
        self.names = names
        self.label_filter = label_filter
        self._previous: dict[str, dict[str, Any]] = {}
        self.cpu = Series()
        self.mem = Series()

    def _containers(self) -> list[Any]:
        if self.label_filter:
            return list_containers(self.client, filters={"label": self.label_filter})
        found = []
        for name in self.names:
            with contextlib.suppress(Exception):
                found.append(self.client.containers.get(name))
        return found

    def sample(self, when: float) -> None:
        cpu = mem = 0.0
        measured = False
        for container in self._containers():
            with contextlib.suppress(Exception):
                stats = container.stats(stream=False)
                # Podman leaves precpu_stats empty in one-shot stats: use this sampler's previous reading
                previous = self._previous.get(container.id)
                if previous and not (stats.get("precpu_stats", {}).get("cpu_usage", {}).get("total_usage")):
                    stats["precpu_stats"], stats["preread"] = previous["cpu_stats"], previous["read"]
                self._previous[container.id] = {"cpu_stats": stats.get("cpu_stats", {}), "read": stats.get("read")}
                mem += (stats.get("memory_stats", {}).get("usage") or 0) / MB
                if stats.get("precpu_stats", {}).get("cpu_usage", {}).get("total_usage"):  # else: no interval yet
                    cpu += container_cpu_percent(stats)
                    measured = True
        if measured:
            self.cpu.add(when, cpu)
        self.mem.add(when, mem)

    def figures(self) -> dict[str, Any]:
        return {"kind": "containers", **self.cpu.figures("cpu_percent"),
                **{k: v for k, v in self.mem.figures("memory_mb").items() if k != "samples"}}

    def close(self) -> None:
        self.client.close()


def container_cpu_percent(stats: dict[str, Any]) -> float:
    """CPU use between two readings of one-shot stats, as a percentage of one core (100 = one full core).

    Measured against the wall time between the readings (``preread`` -> ``read``) where both are
    known: Podman's ``system_cpu_usage`` does not count every core of the host, so the Docker
    formula (share of the host's CPU time x cores) overstates a busy container there. Without
    timestamps, the Docker formula is used.
    """
    cpu = stats.get("cpu_stats", {})
    pre = stats.get("precpu_stats", {})
    cpu_delta = (cpu.get("cpu_usage", {}).get("total_usage") or 0) - (pre.get("cpu_usage", {}).get("total_usage") or 0)
    if cpu_delta <= 0:
        return 0.0
    wall = _timestamp(stats.get("read")) - _timestamp(stats.get("preread"))
    if wall > 0 and _timestamp(stats.get("preread")) > 0:
        return 100.0 * cpu_delta / (wall * 1e9)
    system_delta = (cpu.get("system_cpu_usage") or 0) - (pre.get("system_cpu_usage") or 0)
    cores = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or []) or 1
    if system_delta <= 0:
        return 0.0
    return 100.0 * cpu_delta / system_delta * cores


def _timestamp(text: str | None) -> float:
    """Seconds since the epoch of an RFC 3339 time with up to nanoseconds (0.0 when absent or zero)."""
    if not text or text.startswith("0001-"):
        return 0.0
    main, _, rest = text.rstrip("Z").partition(".")
    fraction = "".join(ch for ch in rest if ch.isdigit())
    try:
        seconds = datetime.fromisoformat(main).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0
    return seconds + (float(f"0.{fraction}") if fraction else 0.0)


class PostgresConnections:
    """Client connections in pg_stat_activity (the sampler's own connection not counted)."""

    QUERY = ("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
             "AND pid <> pg_backend_pid()")

    def __init__(self, label: str, dsn: str) -> None:
        import psycopg

        self.label = label
        self.conn = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
        self.conn.execute("SET statement_timeout = 2000")
        self.count = Series()

    def sample(self, when: float) -> None:
        row = self.conn.execute(self.QUERY).fetchone()
        self.count.add(when, float(row[0] if row else 0))

    def figures(self) -> dict[str, Any]:
        return {"kind": "postgres", **self.count.figures("connections")}

    def close(self) -> None:
        self.conn.close()


class ResourceSampler:
    """Samples every group each ``interval`` until stopped or ``max_duration`` passed."""

    def __init__(self, name: str, groups: list[Any], interval: float, max_duration: float) -> None:
        self.name = name
        self.groups = groups
        self.interval = interval
        self.max_duration = max_duration
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"sampler-{name}", daemon=True)
        self._t0 = 0.0

    def start(self) -> ResourceSampler:
        self._t0 = time.monotonic()
        self._thread.start()
        return self

    def _run(self) -> None:
        deadline = self._t0 + self.max_duration
        while not self._stop.is_set() and time.monotonic() < deadline:
            when = time.monotonic() - self._t0
            for group in self.groups:
                try:
                    group.sample(when)
                except Exception as error:  # noqa: BLE001 - keep sampling the others
                    if len(self.errors) < 20:
                        self.errors.append(f"{group.label}: {type(error).__name__}: {error}")
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 15.0) -> dict[str, Any]:
        self._stop.set()
        self._thread.join(timeout)
        for group in self.groups:
            if hasattr(group, "close"):
                with contextlib.suppress(Exception):
                    group.close()
        return {"name": self.name, "duration_s": round(time.monotonic() - self._t0, 2),
                "interval": self.interval, "errors": self.errors,
                "targets": {g.label: g.figures() for g in self.groups}}

    def series(self) -> dict[str, dict[str, list[tuple[float, float]]]]:
        cpu: dict[str, list[tuple[float, float]]] = {}
        memory: dict[str, list[tuple[float, float]]] = {}
        connections: dict[str, list[tuple[float, float]]] = {}
        for group in self.groups:
            if isinstance(group, ProcessGroup):
                cpu[group.label], memory[group.label] = group.cpu.points, group.rss.points
            elif isinstance(group, ContainerGroup):
                cpu[group.label], memory[group.label] = group.cpu.points, group.mem.points
            elif isinstance(group, PostgresConnections):
                connections[group.label] = group.count.points
        return {"CPU %": cpu, "memory MB": memory, "PostgreSQL connections": connections}
