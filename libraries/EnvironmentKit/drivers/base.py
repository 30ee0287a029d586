"""What an environment driver does: the one interface the libraries and suites rely on.

A driver brings an environment up (or attaches to one already running), answers its
topology, and applies faults to its components. ``local`` talks to the supervisor's
control API; ``kind`` and ``compose`` drivers implement the same methods for their
targets, so no suite changes when the target does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from EnvironmentKit.topology import Topology


class EnvironmentDriver(ABC):
    """Start/stop an environment, read its topology, act on its components."""

    #: the name used in ``${ENVIRONMENT}``
    name: str = "abstract"
    #: True when every component of this environment is disposable (chaos may act on it)
    test_target: bool = False

    @abstractmethod
    def start(self, timeout: float) -> Topology:
        """Bring the environment up and return its topology once it is healthy."""

    @abstractmethod
    def attach(self, topology: dict[str, Any]) -> Topology:
        """Use an environment someone else started, described by ``topology``."""

    @abstractmethod
    def stop(self, timeout: float) -> None:
        """Stop what :meth:`start` started (does nothing for an attached environment)."""

    @abstractmethod
    def topology(self) -> Topology:
        """The current topology (fresh running flags and leaders)."""

    @abstractmethod
    def component(self, name: str, action: str) -> Topology:
        """``kill`` (crash), ``stop`` (graceful), ``start`` or ``restart`` one component."""

    @abstractmethod
    def partition(self, a: str, b: str) -> Topology:
        """Cut every link between components ``a`` and ``b`` (both ways)."""

    @abstractmethod
    def heal(self) -> Topology:
        """Restore every cut link."""

    @abstractmethod
    def partitions(self) -> list[dict[str, Any]]:
        """The cuts in force."""

    @property
    @abstractmethod
    def started_here(self) -> bool:
        """True when this driver started the environment (and must stop it)."""

    def agent_leader(self, platform: str) -> str | None:
        """The replica leading the platform's agent now."""
        return self.topology().agent_leader(platform)

    def kill(self, name: str) -> Topology:
        return self.component(name, "kill")

    def stop_component(self, name: str) -> Topology:
        return self.component(name, "stop")

    def start_component(self, name: str) -> Topology:
        return self.component(name, "start")

    def restart_component(self, name: str) -> Topology:
        return self.component(name, "restart")
