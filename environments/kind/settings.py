"""What the kind driver needs to know about the cluster, from Robot variables, the environment or defaults.

Each setting ``x`` is read from the Robot variable ``${KIND_X}`` (environments/kind/variables.yaml),
else the environment variable ``KIND_X``, else the default below.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from kitcore import KitError

REAL_TIMINGS = {  # StreamSpace's own defaults (docs/contract.md): the kind install runs the real ones
    "heartbeatInterval": 30.0, "staleAfter": 45.0, "leaseDuration": 15.0, "renewDeadline": 10.0,
    "retryPeriod": 2.0, "reconnectBackoff": [2.0, 4.0, 8.0, 16.0, 32.0], "dockerLeaderLease": 15.0,
}


@dataclass
class KindSettings:
    context: str = "kind-streamspace-kit"      # kubeconfig context (kind names it kind-<cluster>)
    kubeconfig: str = ""                       # default: $KUBECONFIG or ~/.kube/config
    api_url: str = ""                          # a Kubernetes API URL instead of a kubeconfig (the stand-in)
    namespace: str = "streamspace"
    release: str = "streamspace"               # Helm release; the chart's names derive from it
    fullname: str = ""                         # the chart's fullname (default: the release name)
    agent_id: str = "k8s-kind"                 # the ONE agent id all agent replicas share ([reference only])
    api_port: int = 8000
    redis_port: int = 6379
    postgres_port: int = 5432
    postgres_user: str = "streamspace"
    postgres_db: str = "streamspace"
    admin_username: str = "admin"
    admin_secret: str = ""                     # default: <fullname>-admin-credentials
    api_replicas: int = 3                      # what "ready" means at start
    agent_replicas: int = 3
    endpoints: str = "port-forward"            # port-forward | direct (pod IPs, when the tests run in-cluster)
    test_contexts: str = "kind-*"              # destructive actions only here...
    test_namespaces: str = "streamspace*,kit-*"  # ...and here
    request_timeout: float = 10.0
    timings: dict[str, Any] = field(default_factory=lambda: dict(REAL_TIMINGS))

    @property
    def name_prefix(self) -> str:
        return self.fullname or self.release

    def selector(self, component: str) -> str:
        """The label selector of a chart component (api, k8s-agent, redis, database)."""
        return f"app.kubernetes.io/instance={self.release},app.kubernetes.io/component={component}"

    @property
    def lease_name(self) -> str:
        return f"streamspace-agent-{self.agent_id}"

    def workload(self, component: str) -> tuple[str, str]:
        """(kind, name) of the workload that runs a component, as the StreamSpace chart names it."""
        workloads = {"api": ("deployment", f"{self.name_prefix}-api"),
                     "agent": ("deployment", f"{self.name_prefix}-k8s-agent"),
                     "redis": ("deployment", f"{self.name_prefix}-redis"),
                     "postgres": ("statefulset", f"{self.name_prefix}-postgres")}
        return workloads[component]

    @classmethod
    def load(cls, lookup: Callable[[str], Any] | None = None, **overrides: Any) -> KindSettings:
        """Settings from ``overrides``, then ``lookup('KIND_X')`` (Robot variables), then ``$KIND_X``."""
        values: dict[str, Any] = {}
        for item in fields(cls):
            key = f"KIND_{item.name.upper()}"
            value = overrides.get(item.name)
            if value in (None, "") and lookup is not None:
                value = lookup(key)
            if value in (None, ""):
                value = os.environ.get(key)
            if value in (None, ""):
                continue
            values[item.name] = _convert(item.name, item.type, value)
        return cls(**values)


def _convert(name: str, kind: Any, value: Any) -> Any:
    text = str(kind)
    try:
        if "int" in text:
            return int(value)
        if "float" in text:
            return float(value)
        if "dict" in text:
            data = json.loads(value) if isinstance(value, str) else dict(value)
            return {**REAL_TIMINGS, **data} if name == "timings" else data
    except (TypeError, ValueError) as error:
        raise KitError(f"The kind setting KIND_{name.upper()} is not usable", cause=f"{value!r}: {error}",
                       fix="correct it in environments/kind/variables.yaml (or the environment variable)") from None
    return str(value)
