"""Kubernetes agent platform: sessions as Deployment + Service (+ PVC) (docs/contract.md §4).

Per session: Deployment and Service named ``<sessionId>`` labelled ``app=streamspace-session,
session=<id>, user=<user>, template=<tmpl>`` (plus the run label when configured), container port
``vnc`` 5900, PVC ``<sessionId>-home`` when ``persistentHome``. Hibernate scales to 0 (PVC kept),
wake scales to 1, stop deletes the Deployment and Service (the PVC only when ``deleteHome`` is
asked). A session is ready when its pod is Running with a pod IP and its VNC port greets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from environments.local.platform.agents.config import AgentConfig
from environments.local.platform.agents.kube import ApiException, Kube, is_status
from environments.local.platform.agents.probe import vnc_greeting
from environments.local.platform.agents.runtime import CommandError
from environments.local.platform.agents.sessionspec import SessionSpec, label_value, wants_home_deleted

log = logging.getLogger("streamspace.agent")

VNC_PORT = 5900
APP = "streamspace-session"
HOME = "/home/session"


def idle_status(session_id: str, state: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The ``status`` of a session whose VNC server is not running (hibernated or terminated)."""
    return {"sessionId": session_id, "state": state, "vncReady": False, "vncPort": VNC_PORT, "platformMetadata": meta}


def pod_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or not status.get("podIP"):
        return False
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    conditions = status.get("conditions") or []
    return any(c.get("type") == "Ready" and str(c.get("status")) == "True" for c in conditions) or not conditions


def pod_vnc_port(pod: dict[str, Any]) -> int:
    for container in (pod.get("spec") or {}).get("containers") or []:
        for port in container.get("ports") or []:
            if port.get("name") == "vnc" and port.get("containerPort"):
                return int(port["containerPort"])
    return VNC_PORT


class KubernetesPlatform:
    platform = "kubernetes"

    def __init__(self, kube: Kube, namespace: str, config: AgentConfig) -> None:
        self.kube = kube
        self.namespace = namespace
        self.config = config
        self.default_image = str(config.extra.get("sessionImage") or "streamspace-session:local")
        self.namespaces: dict[str, str] = {}

    def metadata(self) -> dict[str, Any]:
        return {"namespace": self.namespace, "kind": "deployment", "standIn": True}

    async def _call(self, method: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.kube.call, method, *args, **kwargs),
                                          self.kube.timeout * 2 + 1)
        except ApiException:
            raise
        except TimeoutError:
            raise CommandError(f"the Kubernetes API at {self.kube.url} did not answer in time") from None
        except OSError as error:
            raise CommandError(f"the Kubernetes API at {self.kube.url} is unreachable: {error}") from None
        except Exception as error:
            if error.__class__.__module__.startswith("urllib3"):
                raise CommandError(f"the Kubernetes API at {self.kube.url} is unreachable: {error}") from None
            raise

    def _ns(self, session_id: str, payload: dict[str, Any] | None = None) -> str:
        namespace = str((payload or {}).get("namespace") or self.namespaces.get(session_id) or self.namespace)
        self.namespaces[session_id] = namespace
        return namespace

    # ------------------------------------------------------------------ manifests
    def _labels(self, spec: SessionSpec) -> dict[str, str]:
        return {"app": APP, "session": label_value(spec.session_id), "user": label_value(spec.user),
                "template": label_value(spec.template), **self.config.labels}

    def deployment(self, spec: SessionSpec) -> dict[str, Any]:
        labels = self._labels(spec)
        container: dict[str, Any] = {
            "name": "session", "image": spec.image,
            "ports": [{"name": "vnc", "containerPort": VNC_PORT, "protocol": "TCP"}],
            "resources": {"requests": {"memory": spec.memory, "cpu": spec.cpu},
                          "limits": {"memory": spec.memory, "cpu": spec.cpu}},
            "env": [{"name": k, "value": v} for k, v in spec.env.items()],
        }
        pod_spec: dict[str, Any] = {"containers": [container]}
        if spec.persistent_home:
            container["volumeMounts"] = [{"name": "home", "mountPath": HOME}]
            pod_spec["volumes"] = [{"name": "home",
                                    "persistentVolumeClaim": {"claimName": f"{spec.session_id}-home"}}]
        return {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": spec.session_id, "namespace": spec.namespace, "labels": labels},
                "spec": {"replicas": 1,
                         "selector": {"matchLabels": {"app": APP, "session": labels["session"]}},
                         "template": {"metadata": {"labels": labels}, "spec": pod_spec}}}

    def service(self, spec: SessionSpec) -> dict[str, Any]:
        labels = self._labels(spec)
        return {"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": spec.session_id, "namespace": spec.namespace, "labels": labels},
                "spec": {"selector": {"app": APP, "session": labels["session"]},
                         "ports": [{"name": "vnc", "port": VNC_PORT, "targetPort": "vnc", "protocol": "TCP"}]}}

    def claim(self, spec: SessionSpec) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": f"{spec.session_id}-home", "namespace": spec.namespace,
                             "labels": self._labels(spec)},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": self.config.home_size}}}}

    async def _create(self, method: Any, namespace: str, body: dict[str, Any]) -> bool:
        try:
            await self._call(method, namespace, body)
            return True
        except ApiException as error:
            if error.status == 409:
                return False
            raise CommandError(f"creating {body['kind']} {body['metadata']['name']} failed: HTTP {error.status} "
                               f"{error.reason}") from None

    # ------------------------------------------------------------------ commands
    async def run_command(self, action: str, payload: dict[str, Any]) -> tuple[dict[str, Any], dict | None]:
        session_id = str(payload.get("sessionId") or "")
        if not session_id:
            raise CommandError(f"{action} without sessionId")
        if action == "start_session":
            return await self._start(SessionSpec.from_payload(payload, self.default_image, self.namespace))
        namespace = self._ns(session_id, payload)
        if action == "hibernate_session":
            return await self._scale(session_id, namespace, 0)
        if action == "wake_session":
            return await self._scale(session_id, namespace, 1)
        return await self._stop(session_id, namespace, payload)

    async def _start(self, spec: SessionSpec) -> tuple[dict[str, Any], dict]:
        self.namespaces[spec.session_id] = spec.namespace
        if spec.persistent_home:
            await self._create(self.kube.core.create_namespaced_persistent_volume_claim, spec.namespace,
                               self.claim(spec))
        created = await self._create(self.kube.apps.create_namespaced_deployment, spec.namespace,
                                     self.deployment(spec))
        if not created:
            await self._patch_replicas(spec.session_id, spec.namespace, 1)
        await self._create(self.kube.core.create_namespaced_service, spec.namespace, self.service(spec))
        log.info("session %s: deployment %s/%s %s", spec.session_id, spec.namespace, spec.session_id,
                 "created" if created else "already existed (adopted)")
        return await self._ready(spec.session_id, spec.namespace)

    async def _patch_replicas(self, session_id: str, namespace: str, replicas: int) -> None:
        try:
            await self._call(self.kube.apps.patch_namespaced_deployment, session_id, namespace,
                             {"spec": {"replicas": replicas}})
        except ApiException as error:
            if error.status == 404:
                raise CommandError(f"session {session_id} has no deployment in namespace {namespace}") from None
            raise CommandError(f"scaling {session_id} to {replicas} failed: HTTP {error.status}") from None

    async def _scale(self, session_id: str, namespace: str, replicas: int) -> tuple[dict[str, Any], dict]:
        await self._patch_replicas(session_id, namespace, replicas)
        if replicas:
            return await self._ready(session_id, namespace)
        await self._wait_no_pods(session_id, namespace, self.config.start_timeout, required=True)
        meta = {"namespace": namespace, "replicas": 0}
        return ({"sessionId": session_id, "state": "hibernated", "vncReady": False, "replicas": 0},
                idle_status(session_id, "hibernated", meta))

    async def _stop(self, session_id: str, namespace: str, payload: dict[str, Any]) -> tuple[dict[str, Any], dict]:
        deleted = []
        targets = [(self.kube.apps.delete_namespaced_deployment, "deployment"),
                   (self.kube.core.delete_namespaced_service, "service")]
        for method, kind in targets:
            try:
                await self._call(method, session_id, namespace)
                deleted.append(kind)
            except ApiException as error:
                if error.status != 404:
                    raise CommandError(f"deleting {kind} {session_id} failed: HTTP {error.status}") from None
        if wants_home_deleted(payload):
            try:
                await self._call(self.kube.core.delete_namespaced_persistent_volume_claim, f"{session_id}-home",
                                 namespace)
                deleted.append("pvc")
            except ApiException as error:
                if error.status != 404:
                    raise CommandError(f"deleting PVC {session_id}-home failed: HTTP {error.status}") from None
        await self._wait_no_pods(session_id, namespace, min(10.0, self.config.start_timeout), required=False)
        self.namespaces.pop(session_id, None)
        return ({"sessionId": session_id, "state": "terminated", "vncReady": False, "deleted": deleted},
                idle_status(session_id, "terminated", {"namespace": namespace}))

    # ------------------------------------------------------------------ pods
    async def _pods(self, session_id: str, namespace: str) -> list[dict[str, Any]]:
        found = await self._call(self.kube.core.list_namespaced_pod, namespace,
                                 label_selector=f"app={APP},session={label_value(session_id)}")
        return list(found.get("items") or [])

    async def _ready(self, session_id: str, namespace: str) -> tuple[dict[str, Any], dict]:
        deadline = time.monotonic() + self.config.start_timeout
        last = "no pod yet"
        while time.monotonic() < deadline:
            for pod in await self._pods(session_id, namespace):
                if not pod_ready(pod):
                    last = f"pod {pod['metadata']['name']} is {(pod.get('status') or {}).get('phase', '?')}"
                    continue
                ip, port = pod["status"]["podIP"], pod_vnc_port(pod)
                if await vnc_greeting(ip, port, 1.0):
                    name = pod["metadata"]["name"]
                    meta = {"namespace": namespace, "podName": name, "podIP": ip, "deployment": session_id,
                            "service": session_id}
                    result = {"sessionId": session_id, "state": "running", "podName": name, "podIP": ip,
                              "vncReady": True, "vncPort": VNC_PORT, "platformMetadata": meta}
                    return result, {"sessionId": session_id, "state": "running", "vncReady": True,
                                    "vncPort": VNC_PORT, "platformMetadata": meta}
                last = f"pod {pod['metadata']['name']} is Running but {ip}:{port} does not greet yet"
            await asyncio.sleep(0.2)
        raise CommandError(f"session {session_id} not ready within {self.config.start_timeout:g} s ({last}); "
                           "is the kubelet stand-in running?")

    async def _wait_no_pods(self, session_id: str, namespace: str, timeout: float, required: bool) -> None:
        deadline = time.monotonic() + timeout
        while True:
            pods = await self._pods(session_id, namespace)
            if not pods:
                return
            if time.monotonic() > deadline:
                if required:
                    raise CommandError(f"session {session_id}: {len(pods)} pod(s) still there after {timeout:g} s")
                log.warning("session %s: pods still there after %.0f s", session_id, timeout)
                return
            await asyncio.sleep(0.2)

    # ------------------------------------------------------------------ queries
    async def vnc_address(self, session_id: str) -> tuple[str, int]:
        namespace = self._ns(session_id)
        for pod in await self._pods(session_id, namespace):
            if pod_ready(pod):
                return pod["status"]["podIP"], pod_vnc_port(pod)
        raise CommandError(f"session {session_id} has no running pod")

    async def _deployments(self) -> list[dict[str, Any]]:
        found = await self._call(self.kube.apps.list_namespaced_deployment, self.namespace,
                                 label_selector=f"app={APP}")
        return list(found.get("items") or [])

    async def active_sessions(self) -> int:
        return sum(1 for d in await self._deployments() if int((d.get("spec") or {}).get("replicas") or 0) > 0)

    async def reconcile(self) -> list[dict[str, Any]]:
        statuses = []
        for deployment in await self._deployments():
            session_id = deployment["metadata"]["name"]
            replicas = int((deployment.get("spec") or {}).get("replicas") or 0)
            if replicas == 0:
                statuses.append(idle_status(session_id, "hibernated", {"namespace": self.namespace}))
                continue
            meta: dict[str, Any] = {"namespace": self.namespace, "deployment": session_id}
            ready = False
            for pod in await self._pods(session_id, self.namespace):
                if pod_ready(pod):
                    meta |= {"podName": pod["metadata"]["name"], "podIP": pod["status"]["podIP"]}
                    ready = bool(await vnc_greeting(pod["status"]["podIP"], pod_vnc_port(pod), 1.0))
                    break
            statuses.append({"sessionId": session_id, "state": "running", "vncReady": ready, "vncPort": VNC_PORT,
                             "platformMetadata": meta})
        return statuses


__all__ = ["KubernetesPlatform", "is_status", "pod_ready"]
