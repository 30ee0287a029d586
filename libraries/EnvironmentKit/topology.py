"""The topology of a running environment: endpoints, replicas, leaders and credentials.

Every environment driver answers the same JSON document (see docs/local-stack.md); this
class reads it so that no keyword digs through nested dictionaries itself.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kitcore import KitError

PLATFORMS = ("kubernetes", "docker")


class Topology:
    """A read-only view of one topology document."""

    def __init__(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict) or "api" not in data:
            raise KitError(
                "The environment's topology is not usable",
                cause="it has no 'api' list (is this a topology document?)",
                fix="point at the JSON the environment wrote when it became ready",
            )
        self.data = data

    # -- general ----------------------------------------------------------------------
    @property
    def environment(self) -> str:
        return str(self.data.get("environment", "unknown"))

    @property
    def run_id(self) -> str:
        return str(self.data.get("runId", ""))

    @property
    def control_url(self) -> str | None:
        value = self.data.get("control")
        return str(value) if value else None

    def public(self) -> dict[str, Any]:
        """The document with every credential replaced by ``***`` (safe to log or return)."""
        data = copy.deepcopy(self.data)
        if "credentials" in data:
            data["credentials"] = _masked(data["credentials"])
        return data

    # -- API replicas -----------------------------------------------------------------
    @property
    def api_replicas(self) -> list[dict[str, Any]]:
        return list(self.data.get("api", []))

    def api_names(self) -> list[str]:
        return [str(r["name"]) for r in self.api_replicas]

    def api_urls(self, running_only: bool = False) -> list[str]:
        return [str(r["url"]) for r in self.api_replicas if not running_only or r.get("running", True)]

    def api_replica(self, replica: str | int) -> dict[str, Any]:
        """A replica by name (``api-2``) or by 1-based index (``2``)."""
        replicas = self.api_replicas
        if not replicas:
            raise KitError("The environment has no API replica", fix="start it with at least one API replica")
        text = str(replica).strip()
        for entry in replicas:
            if entry.get("name") == text:
                return entry
        if text.isdigit():
            index = int(text)
            if 1 <= index <= len(replicas):
                return replicas[index - 1]
        raise KitError(
            f"No API replica '{replica}'",
            cause=f"known replicas: {', '.join(self.api_names())}",
            fix=f"give a name from that list or an index from 1 to {len(replicas)}",
        )

    # -- agents -----------------------------------------------------------------------
    def agent(self, platform: str) -> dict[str, Any]:
        agents = self.data.get("agents", {})
        key = platform.strip().lower()
        if key not in agents:
            raise KitError(
                f"The environment has no {platform} agent",
                cause=f"agents present: {', '.join(agents) or 'none'}",
                fix=f"use one of: {', '.join(PLATFORMS)}, and start the environment with that agent",
            )
        return dict(agents[key])

    def agent_replicas(self, platform: str) -> list[dict[str, Any]]:
        return list(self.agent(platform).get("replicas", []))

    def agent_platforms(self) -> list[str]:
        """The platforms whose agent runs in this environment (at least one replica)."""
        agents = self.data.get("agents", {})
        return [p for p in PLATFORMS if p in agents and agents[p].get("replicas")]

    def agent_leader(self, platform: str) -> str | None:
        """The name of the replica that leads the platform's agent now, or None."""
        for replica in self.agent_replicas(platform):
            if replica.get("leader") and replica.get("running", True):
                return str(replica["name"])
        return None

    def running_pids(self, part: str) -> list[Any]:
        """The process ids of the running ``api`` replicas or ``agents`` replicas (those the topology marks
        running and gives a pid)."""
        if part == "api":
            entries = self.api_replicas
        elif part == "agents":
            entries = [r for agent in self.data.get("agents", {}).values() for r in agent.get("replicas", [])]
        else:
            raise KitError(f"No process ids of '{part}'", fix="ask for those of 'api' or of 'agents'")
        return [entry["pid"] for entry in entries if entry.get("running") and entry.get("pid")]

    # -- components ---------------------------------------------------------------------
    def component_names(self) -> list[str]:
        names = self.api_names()
        for agent in self.data.get("agents", {}).values():
            names += [str(r["name"]) for r in agent.get("replicas", [])]
        names += [n for n in ("redis", "postgres", "kubernetes", "engine") if n in self.data]
        return names

    def _entries(self) -> list[dict[str, Any]]:
        """Every API and agent replica entry of the topology."""
        entries = self.api_replicas
        for agent in self.data.get("agents", {}).values():
            entries += list(agent.get("replicas", []))
        return entries

    def pod_of(self, name: str) -> str:
        """The pod name the platform uses for replica ``name`` (the replica's name when the topology gives none)."""
        for entry in self._entries():
            if entry.get("name") == name:
                return str(entry.get("pod") or name)
        raise KitError(f"No replica '{name}' in the environment",
                       cause=f"replicas: {', '.join(str(e.get('name')) for e in self._entries()) or 'none'}",
                       fix="use a replica name from the topology (Get Topology shows it)")

    def replica_of_pod(self, pod: str) -> str:
        """The replica (``api-2``, ``k8s-agent-b``...) that the platform knows as ``pod``."""
        for entry in self._entries():
            if str(entry.get("pod") or entry.get("name")) == pod:
                return str(entry["name"])
        known = ", ".join(f"{e.get('name')}={e.get('pod') or e.get('name')}" for e in self._entries())
        raise KitError(f"The platform names a pod '{pod}' that is none of the environment's replicas",
                       cause=f"replicas and their pods: {known or 'none'}",
                       fix="check which program wrote that name (its POD_NAME or hostname) against the topology")

    def is_running(self, name: str) -> bool | None:
        """The running flag of a component, or None when the topology does not say."""
        for entry in self.api_replicas:
            if entry.get("name") == name:
                return bool(entry.get("running", True))
        for agent in self.data.get("agents", {}).values():
            for entry in agent.get("replicas", []):
                if entry.get("name") == name:
                    return bool(entry.get("running", True))
        backend = self.data.get(name)
        if isinstance(backend, dict) and "running" in backend:
            return bool(backend["running"])
        return None

    def require_component(self, name: str) -> str:
        names = self.component_names()
        if name not in names:
            raise KitError(f"No component '{name}' in the environment", cause=f"known: {', '.join(names)}",
                           fix="use a name from the topology (Get Topology shows it)")
        return name

    # -- backends ---------------------------------------------------------------------
    def section(self, key: str, what: str) -> dict[str, Any]:
        value = self.data.get(key)
        if not isinstance(value, dict):
            raise KitError(f"The environment has no {what}", cause=f"its topology has no '{key}' entry",
                           fix=f"start the environment with {what} (it may have been left out with --only)")
        return value

    @property
    def credentials(self) -> dict[str, Any]:
        return dict(self.data.get("credentials", {}))

    def vnc_servers(self) -> dict[str, str]:
        """The environment's plain VNC servers (not sessions'), ``{name: "host:port"}``; empty when none."""
        servers: dict[str, str] = {}
        for server in self.data.get("vnc") or []:
            servers.setdefault(str(server["name"]), f"{server['host']}:{server['port']}")
        return servers


def with_database(url: str, db: int) -> str:
    """A Redis URL (``redis://host:port/0``) pointing at database ``db`` of the same server."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{int(db)}"))


def differing_timings(stated: Mapping[str, Any], running: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The timings of ``stated`` that ``running`` gives another value: ``{name: {stated, running}}``
    (a timing ``running`` does not give is taken as stated)."""
    return {name: {"stated": value, "running": running[name]}
            for name, value in stated.items() if running.get(name, value) != value}


def in_turn(order: Iterable[str], available: Iterable[str], count: int) -> list[str]:
    """``count`` items taken in turn from ``order``, leaving out those not ``available``; empty when none is."""
    present = set(available)
    usable = [item for item in order if item in present]
    return [usable[index % len(usable)] for index in range(int(count))] if usable else []


def _masked(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (_masked(v) if k in ("users", "admin") else "***") if k != "username" else v
                for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return "***"
