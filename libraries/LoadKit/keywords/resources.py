"""Sample processes, containers and PostgreSQL connections during a run."""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from kitcore import CleanupListener, KitError, to_seconds
from kitcore.logging import log_table
from LoadKit.plots import plot_resources
from LoadKit.sampling import ContainerGroup, PostgresConnections, ProcessGroup, ResourceSampler


def environment_engine_url() -> str | None:
    """The running environment's container engine, if EnvironmentKit has one (else the Docker default)."""
    try:
        from EnvironmentKit import state

        active = state.current()
        engine = active.topology.data.get("engine") if active else None
        return str(engine["url"]) if isinstance(engine, dict) and engine.get("url") else None
    except ImportError:
        return None


class ResourceKeywords:
    def __init__(self, listener: CleanupListener) -> None:
        self.listener = listener
        self.samplers: dict[str, ResourceSampler] = {}

    @keyword("Start Resource Sampling")
    def start_resource_sampling(self, pids: list[int] | None = None, process_pattern: str | None = None,
                                containers: list[str] | None = None, container_label: str | None = None,
                                engine_url: str | None = None, dsn: str | None = None, interval: str = "1s",
                                max_duration: str = "30 min", name: str = "resources") -> str:
        """Sample in the background, every ``interval``: CPU % and RSS of processes (``pids`` or a
        regular expression ``process_pattern`` on name and command line), CPU % and memory of
        containers (names, or ``container_label`` like ``app=streamspace``; ``engine_url`` defaults to
        the running environment's engine, else Docker's default), and PostgreSQL client connections
        (``dsn``).

        Example:
        | Start Resource Sampling | process_pattern=environments.local.platform | dsn=${dsn} |
        | Run Load | list-sessions | count=500 |
        | ${usage} = | Stop Resource Sampling |
        """
        if name in self.samplers:
            raise KitError(f"Resource sampling '{name}' is already running", fix="stop it or use another name=")
        groups: list[Any] = []
        try:
            if pids or process_pattern:
                groups.append(ProcessGroup("processes", [int(p) for p in pids or []], process_pattern))
            if containers or container_label:
                engine = engine_url or environment_engine_url()
                groups.append(ContainerGroup("containers", list(containers or []), engine, container_label))
            if dsn:
                groups.append(PostgresConnections("postgres", dsn))
        except Exception as error:  # noqa: BLE001 - docker/psycopg raise many kinds; all mean 'cannot sample'
            for group in groups:
                if hasattr(group, "close"):
                    group.close()
            raise KitError("Resource sampling cannot start", cause=f"{type(error).__name__}: {error}",
                           fix="check the engine URL / DSN (Get Container Engine URL, Get Database DSN)") from None
        if not groups:
            raise KitError("Nothing to sample", fix="give pids=, process_pattern=, containers=, container_label= "
                                                    "or dsn=")
        sampler = ResourceSampler(name, groups, to_seconds(interval), to_seconds(max_duration)).start()
        self.samplers[name] = sampler
        self.listener.register(f"resource sampling '{name}'", lambda: self._stop(name), key=f"sampling-{name}")
        return name

    def _stop(self, name: str) -> dict[str, Any]:
        sampler = self.samplers.pop(name, None)
        if sampler is None:
            raise KitError(f"No resource sampling named '{name}'",
                           cause=f"running: {', '.join(self.samplers) or 'none'}", fix="check the name=")
        self.listener.forget(f"sampling-{name}")
        return sampler.stop() | {"_series": sampler.series()}

    @keyword("Stop Resource Sampling")
    def stop_resource_sampling(self, name: str = "resources", plot: bool = True) -> dict[str, Any]:
        """Stop sampling; returns per target the max and mean CPU %, memory and connections
        (also logged, with plots).

        Example:
        | ${usage} = | Stop Resource Sampling |
        | Should Be True | ${usage}[targets][postgres][max_connections] < 100 |
        """
        result = self._stop(name)
        series = result.pop("_series")
        rows = [[label, *(f"{k}={v}" for k, v in figures.items() if k != "kind")]
                for label, figures in result["targets"].items()]
        width = max((len(r) for r in rows), default=1)
        log_table(f"Resources: {name}", ["target", *[""] * (width - 1)], [r + [""] * (width - len(r)) for r in rows])
        if result["errors"]:
            logger.info(f"sampling errors: {result['errors']}")
        if plot:
            for ylabel, data in series.items():
                if data:
                    plot_resources(data, ylabel, name)
        return result
