"""The probes running in this process, by name; stopped at the end of the test that started them."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from robot.api import logger

from kitcore import CleanupListener, KitError


class RunningProbe(Protocol):
    name: str
    kind: str

    @property
    def running(self) -> bool: ...

    def stop(self, timeout: float = 10.0) -> dict[str, Any]: ...

    def keep_running(self, seconds: float) -> bool: ...

    def report(self) -> dict[str, Any]: ...


class ProbeRegistry:
    def __init__(self, listener: CleanupListener) -> None:
        self.listener = listener
        self._probes: dict[str, RunningProbe] = {}
        self._reports: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def add(self, probe: RunningProbe, start: Any) -> RunningProbe:
        with self._lock:
            if probe.name in self._probes:
                raise KitError(f"A probe named '{probe.name}' is already running",
                               fix="stop it first (Stop Probe) or give the new one another name=")
            self._probes[probe.name] = probe
            self._reports.pop(probe.name, None)
        try:
            start()
        except Exception:
            with self._lock:
                self._probes.pop(probe.name, None)
            raise
        self.listener.register(f"probe '{probe.name}'", lambda: self.stop(probe.name), key=f"probe-{probe.name}")
        logger.info(f"Started {probe.kind} probe '{probe.name}'")
        return probe

    def get(self, name: str) -> RunningProbe:
        with self._lock:
            probe = self._probes.get(name)
            known = ", ".join(self._probes) or "none"
        if probe is None:
            raise KitError(f"No running probe named '{name}'", cause=f"running probes: {known}",
                           fix="start one with a Start ... Probe keyword (name=...)")
        return probe

    def stop(self, name: str) -> dict[str, Any]:
        probe = self.get(name)
        report = probe.stop()
        with self._lock:
            self._probes.pop(name, None)
            self._reports[name] = report
        self.listener.forget(f"probe-{name}")
        return report

    def report(self, name: str) -> dict[str, Any]:
        with self._lock:
            probe = self._probes.get(name)
            stopped = self._reports.get(name)
        if probe is not None:
            return probe.report()
        if stopped is not None:
            return stopped
        raise KitError(f"No probe named '{name}'", cause="it was never started in this run",
                       fix="check the name= given to the Start ... Probe keyword")

    def names(self) -> list[str]:
        with self._lock:
            return list(self._probes)
