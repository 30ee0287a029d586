"""Agent configuration: timings and labels from a JSON file, secrets from a file or the environment.

The JSON file holds (every key optional; nested ``"timings"`` and ``"labels"`` objects, as in the
local topology, are read too)::

    {"heartbeatInterval": 1.0, "reconnectBackoff": [0.2, 0.4, 0.8, 1.6, 3.2],
     "leaseDuration": 3.0, "renewDeadline": 2.0, "retryPeriod": 0.5, "dockerLeaderLease": 3.0,
     "requestTimeout": 5.0, "startTimeout": 60.0, "region": "local",
     "capacity": {"maxSessions": 60, "cpu": "2", "memory": "4Gi"},
     "labels": {"run": "streamspace.kit/run=ab12cd34"}, "network": "streamspace",
     "homeSize": "1Gi"}
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from environments.local.procs import BackendError


@dataclass
class AgentConfig:
    heartbeat_interval: float = 30.0
    reconnect_backoff: list[float] = field(default_factory=lambda: [2.0, 4.0, 8.0, 16.0, 32.0])
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    docker_leader_lease: float = 15.0
    request_timeout: float = 5.0
    start_timeout: float = 120.0
    region: str = "local"
    capacity: dict[str, Any] = field(default_factory=lambda: {"maxSessions": 60, "cpu": "2", "memory": "4Gi"})
    run_label: tuple[str, str] | None = None
    network: str = "streamspace"
    home_size: str = "1Gi"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def labels(self) -> dict[str, str]:
        """The run label as a dict (empty when none is configured)."""
        return {self.run_label[0]: self.run_label[1]} if self.run_label else {}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentConfig:
        flat = {**data, **(data.get("timings") or {})}
        cfg = cls()
        number = {"heartbeatInterval": "heartbeat_interval", "leaseDuration": "lease_duration",
                  "renewDeadline": "renew_deadline", "retryPeriod": "retry_period",
                  "dockerLeaderLease": "docker_leader_lease", "requestTimeout": "request_timeout",
                  "startTimeout": "start_timeout"}
        for key, attr in number.items():
            if key in flat:
                setattr(cfg, attr, float(flat[key]))
        if "reconnectBackoff" in flat:
            backoff = flat["reconnectBackoff"]
            if isinstance(backoff, str):
                backoff = [part for part in re.split(r"[,\s]+", backoff) if part]
            cfg.reconnect_backoff = [float(b) for b in backoff] or [1.0]
        for key, attr in (("region", "region"), ("network", "network"), ("homeSize", "home_size")):
            if key in flat:
                setattr(cfg, attr, str(flat[key]))
        if isinstance(flat.get("capacity"), dict):
            cfg.capacity = dict(flat["capacity"])
        run = (flat.get("labels") or {}).get("run") or flat.get("runLabel")
        if run:
            key, sep, value = str(run).partition("=")
            if not sep or not key:
                raise BackendError("Agent configuration", f"the run label '{run}' is not 'key=value'",
                                   "write it like streamspace.kit/run=ab12cd34")
            cfg.run_label = (key, value)
        cfg.extra = flat
        if cfg.renew_deadline >= cfg.lease_duration:
            raise BackendError("Agent configuration", "renewDeadline must be shorter than leaseDuration",
                               "e.g. leaseDuration 3, renewDeadline 2, retryPeriod 0.5")
        return cfg

    @classmethod
    def load(cls, path: str | None) -> AgentConfig:
        if not path:
            return cls()
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise BackendError("Agent configuration", f"cannot read {path}: {error}",
                               "pass --config with a readable JSON file") from None
        if not isinstance(data, dict):
            raise BackendError("Agent configuration", f"{path} does not hold a JSON object", "write {...}")
        return cls.from_dict(data)


def read_secret(path: str | None, env_name: str, what: str) -> str:
    """A secret from a file (first line) or, failing that, from the environment variable ``env_name``."""
    if path:
        try:
            value = Path(path).read_text().strip()
        except OSError as error:
            raise BackendError(f"{what} cannot be read", f"{path}: {error.strerror}",
                               "pass a readable file (mode 600) holding the key") from None
        if value:
            return value
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise BackendError(f"{what} is missing", f"no key file given and {env_name} is not set",
                           f"pass --agent-key-file FILE or set {env_name}")
    return value


def parse_urls(text: str) -> list[str]:
    urls = [u.strip().rstrip("/") for u in text.split(",") if u.strip()]
    if not urls:
        raise BackendError("Agent configuration", "no Control Plane URL given",
                           "pass --api-urls http://host:port[,http://host2:port...]")
    return urls
