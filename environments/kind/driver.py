"""The ``kind`` driver: StreamSpace in HA on a kind cluster (environments/kind/).

The cluster and the Helm release are brought up outside the kit (environments/kind/README.md);
``start`` attaches to them through the Kubernetes API, waits until the install is healthy, and
opens stable local ports (port-forwards) for each API replica, Redis and PostgreSQL. ``stop``
heals any cut and closes the ports; it never deletes the cluster.

Settings come from ``robot -V environments/kind/variables.yaml`` (``KIND_*`` variables), the
environment (``KIND_*``) or keyword arguments (see :class:`environments.kind.settings.KindSettings`).
"""

from __future__ import annotations

import contextlib
import http.client
from typing import Any

from EnvironmentKit.drivers.base import EnvironmentDriver
from EnvironmentKit.topology import Topology
from kitcore import KitError, Wait, WaitTimeout
from kitcore.variables import robot_variable

REPLICA_OPTIONS = {"api_replicas": "api_replicas", "k8s_agents": "agent_replicas"}


class KindDriver(EnvironmentDriver):
    name = "kind"

    def __init__(self, **options: Any) -> None:
        from environments.kind.settings import KindSettings

        overrides = {REPLICA_OPTIONS.get(k, k): v for k, v in options.items()
                     if k not in ("docker_agents", "only")}  # no Docker agent on kind; --only is local's
        self.settings = KindSettings.load(robot_variable, **overrides)
        self.cluster: Any = None
        self._started = False
        self._approved = False
        self._approval = ""  # the last approval attempt, for the "not ready" message

    # -- life cycle ---------------------------------------------------------------------------
    @property
    def test_target(self) -> bool:  # type: ignore[override]
        return bool(self.cluster is not None and self.cluster.is_test_target)

    @property
    def started_here(self) -> bool:
        return self._started

    def _connect(self) -> Any:
        from environments.kind.cluster import KindCluster
        from KubeKit.connection import open_kubeconfig, open_url

        s = self.settings
        timeout = s.request_timeout
        conn = (open_url(s.api_url, timeout) if s.api_url
                else open_kubeconfig(s.kubeconfig or None, s.context or None, timeout))
        return KindCluster(s, conn)

    def start(self, timeout: float) -> Topology:
        if self.cluster is None:
            self.cluster = self._connect()
        self._started = True
        try:
            outcome = Wait("StreamSpace on kind is ready", timeout=timeout, poll=1.0).until(
                self.cluster.topology, self._ready, self._describe)
        except WaitTimeout as error:
            self.stop()
            raise KitError("The kind environment was not ready in time", cause=error.cause,
                           fix=f"look at 'kubectl --context {self.settings.context} -n {self.settings.namespace} "
                               "get pods,lease' and the pods' events; environments/kind/README.md lists the "
                               "install steps") from None
        except BaseException:
            self.stop()  # e.g. the admin login refused: no forwards left open
            raise
        return Topology(outcome.value)

    def _ready(self, data: dict[str, Any]) -> bool:
        s = self.settings
        api = sum(1 for r in data["api"] if r["running"])
        agents = data["agents"]["kubernetes"]["replicas"]
        ready = (api >= s.api_replicas and sum(1 for r in agents if r["running"]) >= s.agent_replicas
                 and any(r["leader"] for r in agents) and data["redis"]["running"] and data["postgres"]["running"])
        return ready and self._agent_approved(data)

    def _agent_approved(self, data: dict[str, Any]) -> bool:
        """A fresh install's agent waits, pending, for an administrator: approve it (environments/kind/approval.py)."""
        if self._approved:
            return True
        from environments.kind.approval import approve_pending_agent

        admin = (data.get("credentials") or {}).get("admin")
        urls = [r["url"] for r in data["api"] if r["running"] and r.get("url")]
        if not admin or not urls:
            return False
        agent = self.settings.agent_id
        try:
            status = approve_pending_agent(urls[0], admin["username"], admin["password"], agent)
        except (OSError, http.client.HTTPException) as error:  # the API pod runs but does not answer yet
            self._approval = f"agent {agent} not approved yet: the API did not answer ({type(error).__name__}: {error})"
            return False
        self._approved = status == "approved"
        self._approval = f"agent {agent}: {'not registered yet' if status == 'absent' else status}"
        return self._approved

    def _describe(self, data: dict[str, Any]) -> str:
        agents = data["agents"]["kubernetes"]
        running = [r["name"] for r in data["api"] if r["running"]]
        return (f"API replicas running: {running or 'none'}; agent replicas running: "
                f"{[r['name'] for r in agents['replicas'] if r['running']] or 'none'}; lease holder: "
                f"{agents.get('leaseHolder') or 'none'}; redis running: {data['redis']['running']}; "
                f"postgres running: {data['postgres']['running']}" + (f"; {self._approval}" if self._approval else ""))

    def attach(self, topology: dict[str, Any]) -> Topology:
        """Attach to the install a kind topology document describes (its namespace and context)."""
        kube = topology.get("kubernetes", {}) if isinstance(topology, dict) else {}
        for key in ("namespace", "context", "kubeconfig"):
            if kube.get(key):
                setattr(self.settings, key, kube[key])
        if self.cluster is None:
            self.cluster = self._connect()
        return Topology(self.cluster.topology())

    def stop(self, timeout: float = 30.0) -> None:
        cluster, self.cluster = self.cluster, None
        self._started = False
        if cluster is not None:
            cluster.close()
            with contextlib.suppress(Exception):
                cluster.conn.close()

    # -- topology and faults ---------------------------------------------------------------------
    def _cluster(self) -> Any:
        if self.cluster is None:
            raise KitError("No kind environment is attached", fix="call 'Start Test Environment' first")
        return self.cluster

    def topology(self) -> Topology:
        return Topology(self._cluster().topology())

    def component(self, name: str, action: str) -> Topology:
        self._cluster().component(name, action)
        return self.topology()

    def partition(self, a: str, b: str) -> Topology:
        self._cluster().partition(a, b)
        return self.topology()

    def heal(self) -> Topology:
        self._cluster().heal()
        return self.topology()

    def partitions(self) -> list[dict[str, Any]]:
        return self._cluster().partitions()


def register() -> None:
    """Make ``ENVIRONMENT=kind`` use this driver."""
    from EnvironmentKit.drivers import register_driver

    register_driver("kind", KindDriver)
