"""StreamSpace on a Kubernetes cluster, seen and hurt through the Kubernetes API.

- Topology: API replica pods and agent pods (by the chart's labels), the agent leader from the
  Lease ``streamspace-agent-<agentId>``, Redis and PostgreSQL pods, credentials from the chart's
  Secrets. Replicas get stable names (``api-1``.., ``k8s-agent-a``..): a pod that replaces a
  dead one takes its free slot, so names and local URLs survive a kill.
- Faults: kill = delete the pod with no grace period; stop/start = scale the workload (one
  replica of a Deployment goes by marking its pod with the lowest ``pod-deletion-cost`` first;
  Redis and PostgreSQL go to 0 and back to 1); restart = delete the pod gracefully (its
  controller replaces it); partition = NetworkPolicies (:mod:`environments.kind.netpol`).
- Every destructive action first checks that the kubeconfig context and the namespace are
  allow-listed test targets.
"""

from __future__ import annotations

import base64
import contextlib
import string
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from environments.kind import netpol
from environments.kind.forward import PortForwardChannel, StableForward, direct
from environments.kind.settings import KindSettings
from kitcore import KitError, TargetGuard, TargetRefused

DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
CONTEXTS_ENV = "KIT_TEST_CONTEXTS"
NAMESPACES_ENV = "KIT_TEST_NAMESPACES"
BACKENDS = {"redis": "redis", "postgres": "database"}
ACTIONS = ("kill", "stop", "start", "restart")


def pod_running(pod: Any) -> bool:
    """Running, not being deleted, and every container ready (when the status says)."""
    status = pod.status
    if pod.metadata.deletion_timestamp is not None or status is None or status.phase != "Running":
        return False
    statuses = status.container_statuses or []
    return all(s.ready for s in statuses)


def _created(pod: Any) -> tuple[str, str]:
    stamp = pod.metadata.creation_timestamp
    return (stamp.isoformat() if stamp else "", pod.metadata.name)


@dataclass
class Slots:
    """Stable names for the pods of a replicated component."""

    names: list[str]
    pods: dict[str, str | None] = field(default_factory=dict)
    stopped: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for name in self.names:
            self.pods.setdefault(name, None)

    def reconcile(self, live: list[str], new_name: Any) -> None:
        """Free the slots of pods that are gone; give new pods the first free slot (not a stopped one)."""
        for slot, pod in self.pods.items():
            if pod is not None and pod not in live:
                self.pods[slot] = None
        known = set(self.pods.values())
        for pod in live:
            if pod in known:
                continue
            free = [s for s in self.names if self.pods[s] is None and s not in self.stopped]
            free = free or [s for s in self.names if self.pods[s] is None]
            if not free:
                name = new_name(len(self.names))
                self.names.append(name)
                free = [name]
            self.pods[free[0]] = pod
            self.stopped.discard(free[0])

    def pod(self, slot: str) -> str | None:
        return self.pods.get(slot)

    def slot_of(self, pod: str) -> str | None:
        return next((s for s, p in self.pods.items() if p == pod), None)


def api_slot_name(index: int) -> str:
    return f"api-{index + 1}"


def agent_slot_name(index: int) -> str:
    letters = string.ascii_lowercase
    return f"k8s-agent-{letters[index]}" if index < len(letters) else f"k8s-agent-{index + 1}"


class KindCluster:
    """One StreamSpace install in one namespace, through one Kubernetes API connection."""

    def __init__(self, settings: KindSettings, conn: Any, run_id: str | None = None) -> None:
        self.settings = settings
        self.conn = conn
        self.run_id = run_id or uuid.uuid4().hex[:8]
        self.api_slots = Slots([api_slot_name(i) for i in range(settings.api_replicas)])
        self.agent_slots = Slots([agent_slot_name(i) for i in range(settings.agent_replicas)])
        self.forwards: dict[str, StableForward] = {}
        self.cuts: list[dict[str, Any]] = []
        self._secrets_dir: Path | None = None
        self.contexts = TargetGuard("EnvironmentKit (kind)", CONTEXTS_ENV, settings.test_contexts.split(","))
        self.namespaces = TargetGuard("EnvironmentKit (kind)", NAMESPACES_ENV, settings.test_namespaces.split(","))

    # -- reading ----------------------------------------------------------------------------------
    @property
    def namespace(self) -> str:
        return self.settings.namespace

    def pods(self, component: str) -> list[Any]:
        answer = self.conn.call(f"List the {component} pods in {self.namespace}", self.conn.core.list_namespaced_pod,
                                self.namespace, label_selector=self.settings.selector(component))
        return sorted(answer.items, key=_created)

    def leader_pod(self) -> str | None:
        try:
            lease = self.conn.call(f"Read the Lease {self.settings.lease_name}",
                                   self.conn.coordination.read_namespaced_lease, self.settings.lease_name,
                                   self.namespace)
        except KitError as error:
            if getattr(error, "status", 0) == 404:
                return None
            raise
        return (lease.spec.holder_identity or None) if lease.spec else None

    def _secret(self, name: str) -> dict[str, str]:
        try:
            secret = self.conn.call(f"Read the Secret {name}", self.conn.core.read_namespaced_secret, name,
                                    self.namespace)
        except KitError as error:
            if getattr(error, "status", 0) in (403, 404):
                return {}
            raise
        return {k: base64.b64decode(v).decode(errors="replace") for k, v in (secret.data or {}).items()}

    def credentials(self) -> dict[str, Any]:
        app = self._secret(f"{self.settings.name_prefix}-secrets")
        admin = self._secret(self.settings.admin_secret or f"{self.settings.name_prefix}-admin-credentials")
        credentials: dict[str, Any] = {"users": []}
        if "agent-bootstrap-key" in app:
            credentials["agentKey"] = app["agent-bootstrap-key"]
        if "jwt-secret" in app:
            credentials["jwtSecret"] = app["jwt-secret"]
        if "password" in admin:
            credentials["admin"] = {"username": admin.get("username", self.settings.admin_username),
                                    "password": admin["password"]}
        if "postgres-password" in app:
            credentials["postgres"] = {"username": self.settings.postgres_user, "password": app["postgres-password"]}
        return credentials

    # -- endpoints ----------------------------------------------------------------------------------
    def _channel(self, pod_name: str | None, port: int, what: str) -> Any:
        if not pod_name:
            raise KitError(f"{what} has no pod now", fix="wait until it runs again (Get Topology shows it)")
        if self.settings.endpoints == "direct":
            pod = self.conn.call(f"Read pod {pod_name}", self.conn.core.read_namespaced_pod, pod_name, self.namespace)
            if not pod.status or not pod.status.pod_ip:
                raise KitError(f"{what}: pod {pod_name} has no IP yet", fix="wait until the pod runs")
            return direct(pod.status.pod_ip, port)
        return PortForwardChannel(self.conn.core, pod_name, self.namespace, port)

    def _forward(self, name: str, resolve: Any, port: int) -> StableForward:
        if name not in self.forwards:
            self.forwards[name] = StableForward(name, lambda: self._channel(resolve(), port, name))
        return self.forwards[name]

    def service(self, component: str) -> dict[str, Any] | None:
        """The chart's Service of a backend (``<fullname>-redis``, ``-postgres``, ``-api``): name, cluster URL host."""
        name = f"{self.settings.name_prefix}-{component}"
        try:
            found = self.conn.call(f"Read the Service {name}", self.conn.core.read_namespaced_service, name,
                                   self.namespace)
        except KitError as error:
            if getattr(error, "status", 0) == 404:
                return None
            raise
        ports = [p.port for p in (found.spec.ports or [])] if found.spec else []
        return {"name": name, "host": f"{name}.{self.namespace}.svc", "ports": ports}

    def _backend_pod(self, component: str) -> str | None:
        running = [p for p in self.pods(component) if pod_running(p)]
        return running[0].metadata.name if running else None

    def _passfile(self, port: int, password: str) -> Path:
        if self._secrets_dir is None:
            self._secrets_dir = Path(tempfile.mkdtemp(prefix="kit-kind-"))
        passfile = self._secrets_dir / "pgpass"
        passfile.write_text(f"127.0.0.1:{port}:*:{self.settings.postgres_user}:{password}\n")
        passfile.chmod(0o600)
        return passfile

    # -- topology ------------------------------------------------------------------------------------
    def topology(self) -> dict[str, Any]:
        s = self.settings
        api_pods = {p.metadata.name: p for p in self.pods("api")}
        agent_pods = {p.metadata.name: p for p in self.pods("k8s-agent")}
        self.api_slots.reconcile(list(api_pods), api_slot_name)
        self.agent_slots.reconcile(list(agent_pods), agent_slot_name)
        holder = self.leader_pod()
        api = []
        for slot in self.api_slots.names:
            pod_name = self.api_slots.pod(slot)
            forward = self._forward(slot, lambda slot=slot: self.api_slots.pod(slot), s.api_port)
            api.append({"name": slot, "url": f"http://127.0.0.1:{forward.port}", "pod": pod_name,
                        "running": bool(pod_name and pod_running(api_pods[pod_name]))})
        replicas = []
        for slot in self.agent_slots.names:
            pod_name = self.agent_slots.pod(slot)
            running = bool(pod_name and pod_running(agent_pods[pod_name]))
            leader = bool(pod_name and holder and (holder == pod_name or holder.startswith(f"{pod_name}_")))
            replicas.append({"name": slot, "pod": pod_name, "running": running, "leader": leader})
        credentials = self.credentials()
        redis_pod = self._backend_pod("redis")
        postgres_pod = self._backend_pod("database")
        redis = self._forward("redis", lambda: self._backend_pod("redis"), s.redis_port)
        postgres = self._forward("postgres", lambda: self._backend_pod("database"), s.postgres_port)
        dsn = f"host=127.0.0.1 port={postgres.port} user={s.postgres_user} dbname={s.postgres_db}"
        if "postgres" in credentials:
            dsn += f" passfile={self._passfile(postgres.port, credentials['postgres']['password'])}"
        return {
            "environment": "kind", "runId": self.run_id, "control": None,
            "api": api,
            "agents": {"kubernetes": {"agentId": s.agent_id, "namespace": s.namespace, "lease": s.lease_name,
                                      "leaseHolder": holder, "replicas": replicas}},
            "redis": {"url": f"redis://127.0.0.1:{redis.port}/0", "running": redis_pod is not None,
                      "pod": redis_pod, "service": self.service("redis")},
            "postgres": {"dsn": dsn, "running": postgres_pod is not None, "pod": postgres_pod,
                         "service": self.service("postgres")},
            "apiService": self.service("api"),
            "kubernetes": {"url": self.conn.url, "namespace": s.namespace, "context": self.conn.context,
                           "kubeconfig": s.kubeconfig, "standIn": bool(getattr(self.conn, "stand_in", False))},
            "credentials": credentials,
            "timings": dict(s.timings),
            "labels": {"release": f"app.kubernetes.io/instance={s.release}"},
            "endpoints": s.endpoints,
        }

    # -- safety ----------------------------------------------------------------------------------------
    def guard(self, action: str, target: str) -> None:
        """Refuse unless both the context and the namespace are allow-listed test targets."""
        for guard, kind, value in ((self.contexts, "context", self.conn.context),
                                   (self.namespaces, "namespace", self.namespace)):
            if not guard.allows(value):
                allowed = ", ".join(guard.patterns) or "nothing"
                raise TargetRefused(
                    f"The kind environment refused to {action} '{target}'",
                    cause=f"the {kind} '{value}' is not allow-listed as a test target (allowed: {allowed})",
                    fix=f"only act on a disposable cluster; if '{value}' is one, add it to KIND_TEST_{kind.upper()}S "
                        f"in environments/kind/variables.yaml or to the environment variable {guard.env_var}")

    @property
    def is_test_target(self) -> bool:
        return self.contexts.allows(self.conn.context) and self.namespaces.allows(self.namespace)

    # -- faults ------------------------------------------------------------------------------------
    def _where(self, name: str) -> tuple[str, Slots | None]:
        """(component, slots) for a topology name."""
        if name in self.api_slots.pods:
            return "api", self.api_slots
        if name in self.agent_slots.pods:
            return "agent", self.agent_slots
        if name in BACKENDS:
            return name, None
        if name == "kubernetes":
            raise KitError("The kind environment does not act on the Kubernetes API itself",
                           fix="act on StreamSpace's components: API replicas, agent replicas, redis, postgres")
        known = [*self.api_slots.names, *self.agent_slots.names, *BACKENDS]
        raise KitError(f"No component '{name}' in the kind environment", cause=f"known: {', '.join(known)}",
                       fix="use a name from the topology (Get Topology shows it)")

    def _pods_of(self, name: str) -> list[str]:
        component, slots = self._where(name)
        if slots is None:
            return [p.metadata.name for p in self.pods(BACKENDS[component])]
        pod = slots.pod(name)
        return [pod] if pod else []

    def _delete_pods(self, name: str, grace: int | None) -> list[str]:
        pods = self._pods_of(name)
        if not pods:
            raise KitError(f"'{name}' has no pod to act on", cause="it is stopped or not scheduled yet",
                           fix="start it first, or wait until it runs (Get Topology shows it)")
        for pod in pods:
            kwargs = {"grace_period_seconds": grace} if grace is not None else {}
            with contextlib.suppress(KitError):  # already gone is fine
                self.conn.call(f"Delete pod {pod}", self.conn.core.delete_namespaced_pod, pod, self.namespace,
                               **kwargs)
        return pods

    def _scale(self, component: str, replicas: int | None = None, delta: int = 0) -> int:
        kind, workload = self.settings.workload(component)
        apps = self.conn.apps
        read, patch = ((apps.read_namespaced_stateful_set_scale, apps.patch_namespaced_stateful_set_scale)
                       if kind == "statefulset" else
                       (apps.read_namespaced_deployment_scale, apps.patch_namespaced_deployment_scale))
        current = self.conn.call(f"Read the scale of {kind} {workload}", read, workload, self.namespace)
        target = replicas if replicas is not None else max(0, (current.spec.replicas or 0) + delta)
        self.conn.call(f"Scale {kind} {workload} to {target}", patch, workload, self.namespace,
                       {"spec": {"replicas": target}})
        return target

    def component(self, name: str, action: str) -> None:
        if action not in ACTIONS:
            raise KitError(f"Unknown component action '{action}'", fix=f"use one of: {', '.join(ACTIONS)}")
        self.topology()  # fresh slots before resolving names
        component, slots = self._where(name)
        self.guard(action, name)
        if action == "kill":
            self._delete_pods(name, grace=0)
        elif action == "restart":
            self._delete_pods(name, grace=None)
        elif action == "stop":
            self._stop(name, component, slots)
        else:
            self._start(name, component, slots)

    def _stop(self, name: str, component: str, slots: Slots | None) -> None:
        if slots is None:
            self._scale(component, replicas=0)
            return
        pod = slots.pod(name)
        if pod is None:
            slots.stopped.add(name)
            return
        # the ReplicaSet removes the pod with the lowest deletion cost first: this one
        self.conn.call(f"Mark pod {pod} to go first", self.conn.core.patch_namespaced_pod, pod, self.namespace,
                       {"metadata": {"annotations": {DELETION_COST: "-2147483647"}}})
        slots.stopped.add(name)
        self._scale(component, delta=-1)

    def _start(self, name: str, component: str, slots: Slots | None) -> None:
        if slots is None:
            self._scale(component, replicas=1)
            return
        if name not in slots.stopped:
            return  # running (or coming back by itself after a kill): nothing to start
        slots.stopped.discard(name)
        self._scale(component, delta=1)

    # -- partitions --------------------------------------------------------------------------------
    def _pod_ips(self, pods: list[str]) -> list[str]:
        ips = []
        for pod in pods:
            found = self.conn.call(f"Read pod {pod}", self.conn.core.read_namespaced_pod, pod, self.namespace)
            if found.status and found.status.pod_ip:
                ips.append(found.status.pod_ip)
        return ips

    def _label(self, pods: list[str], key: str, value: str | None) -> None:
        for pod in pods:
            with contextlib.suppress(KitError):
                self.conn.call(f"Label pod {pod}", self.conn.core.patch_namespaced_pod, pod, self.namespace,
                               {"metadata": {"labels": {key: value}}})

    def partition(self, a: str, b: str) -> None:
        self.topology()
        if a == b:
            raise KitError(f"Cannot cut '{a}' from itself", fix="give two different components")
        self.guard("partition", f"{a} <-> {b}")
        pods_a, pods_b = self._pods_of(a), self._pods_of(b)
        if not pods_a or not pods_b:
            raise KitError(f"Cannot cut '{a}' from '{b}'", cause="one of them has no pod now",
                           fix="start both components first")
        cut_id = uuid.uuid4().hex[:6]
        key = netpol.cut_label(cut_id)
        bodies = netpol.policies(cut_id, self.run_id, (a, b), self._pod_ips(pods_a), self._pod_ips(pods_b))
        networking = self._networking()
        created: list[str] = []
        try:
            for body in bodies:
                self.conn.call(f"Create NetworkPolicy {body['metadata']['name']}",
                               networking.create_namespaced_network_policy, self.namespace, body)
                created.append(body["metadata"]["name"])
        except KitError as error:
            self._delete_policies(created)
            if getattr(error, "status", 0) == 404:
                raise KitError(f"Cannot cut '{a}' from '{b}'",
                               cause="the cluster does not serve NetworkPolicies (networking.k8s.io/v1)",
                               fix="use kind v0.24 or later (its kindnet enforces NetworkPolicies) or a CNI "
                                   "that does") from None
            raise
        self._label(pods_a, key, "a")
        self._label(pods_b, key, "b")
        self.cuts.append({"id": cut_id, "a": a, "b": b, "policies": created, "pods": pods_a + pods_b})

    def _networking(self) -> Any:
        from kubernetes import client

        return client.NetworkingV1Api(self.conn.api)

    def _delete_policies(self, names: list[str]) -> None:
        networking = self._networking()
        for name in names:
            with contextlib.suppress(KitError):
                self.conn.call(f"Delete NetworkPolicy {name}", networking.delete_namespaced_network_policy, name,
                               self.namespace)

    def heal(self) -> None:
        cuts, self.cuts = self.cuts, []
        for cut in cuts:
            self._delete_policies(cut["policies"])
            self._label(cut["pods"], netpol.cut_label(cut["id"]), None)  # null removes the label

    def partitions(self) -> list[dict[str, Any]]:
        return [{"a": c["a"], "b": c["b"], "policies": list(c["policies"])} for c in self.cuts]

    # -- end ------------------------------------------------------------------------------------------
    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.heal()
        for forward in self.forwards.values():
            forward.close(wait=False)
        for forward in self.forwards.values():
            forward.join()
        self.forwards.clear()
        if self._secrets_dir is not None:
            for file in self._secrets_dir.iterdir():
                file.unlink(missing_ok=True)
            self._secrets_dir.rmdir()
            self._secrets_dir = None
