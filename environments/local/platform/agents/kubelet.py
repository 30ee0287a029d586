"""The kubelet stand-in: ``python -m environments.local.platform.agents.kubelet --kube-url http://...
--namespace streamspace --config F.json [--workdir DIR]``.

The Kubernetes API stand-in runs no controllers. This one process plays the Deployment controller
and the kubelet for session Deployments (label ``app=streamspace-session``), whoever made them (the
kit's agent or StreamSpace's real one): it registers its Node (``kubelet-stand-in``, Ready), keeps
``replicas`` Pod objects per Deployment (named ``<deployment>-<5 chars>``, labels copied, owned by
the Deployment), REALLY runs each pod (see :mod:`.podproc`: Xtigervnc on the pod's own loopback
address, on the pod's VNC port: the container port named ``vnc``, else its first TCP port, else
5900; plus the keyboard display program), patches pod status Pending → Running with ``podIP``,
readiness conditions and a status per container, patches the Deployment's ready/available counts,
replaces pods that die or are deleted, and deletes pods of Deployments scaled to 0 (hibernate) or
deleted. Whatever image a container names, the pod runs the kit's session program (logged once per
image): no image is pulled. It watches Deployments and Pods and resyncs every ``resync`` seconds.
On exit it stops every process it started and deletes its pods. It is started by the supervisor,
not by an agent replica, so it survives agent failover.

Configuration (JSON, every key optional): ``{"podNetwork": "127.0.100.0/22", "displayBase": 400,
"vncGeometry": "800x600", "resync": 1.0, "requestTimeout": 5.0}``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from environments.local.platform.agents.kube import ApiException, Kube
from environments.local.platform.agents.podproc import PodAllocator, PodProcesses, start_pod, vnc_port
from environments.local.procs import BackendError

log = logging.getLogger("streamspace.kubelet")

APP = "streamspace-session"
SELECTOR = f"app={APP}"
NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
NODE = "kubelet-stand-in"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def node_info() -> dict[str, str]:
    return {"kubeletVersion": "v1.31.0-kit-stand-in", "kubeProxyVersion": "", "operatingSystem": "linux",
            "architecture": "amd64", "containerRuntimeVersion": "host-process://kit",
            "kernelVersion": os.uname().release, "osImage": "kit kubelet stand-in (pods are host processes)",
            "machineID": _read("/etc/machine-id"), "systemUUID": "", "bootID": _read("/proc/sys/kernel/random/boot_id")}


def owner_of(pod: dict[str, Any]) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("kind") == "Deployment":
            return str(ref.get("name"))
    return None


def container_env(spec: dict[str, Any], name: str) -> str | None:
    for container in spec.get("containers") or []:
        for env in container.get("env") or []:
            if env.get("name") == name and env.get("value"):
                return str(env["value"])
    return None


class Kubelet:
    def __init__(self, kube: Kube, namespace: str, config: dict[str, Any], workdir: Path) -> None:
        self.kube = kube
        self.namespace = namespace
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.geometry = str(config.get("vncGeometry", "800x600"))
        self.resync = float(config.get("resync", 1.0))
        self.allocator = PodAllocator(str(config.get("podNetwork", "127.0.100.0/22")),
                                      int(config.get("displayBase", 400)))
        self.pods: dict[str, PodProcesses] = {}
        self.images: set[str] = set()
        self.restarts: dict[str, int] = {}
        self.reported: dict[str, tuple[Any, ...]] = {}
        self.stop_event = threading.Event()
        self.wake = threading.Event()

    # ------------------------------------------------------------------ watches
    def _watch(self, method: Any) -> None:
        while not self.stop_event.is_set():
            try:
                response = self.kube.watch(method, self.namespace, label_selector=SELECTOR, timeout_seconds=30,
                                           read_timeout=45)
                try:
                    for _line in response:
                        self.wake.set()
                        if self.stop_event.is_set():
                            break
                finally:
                    response.release_conn()
            except Exception as error:  # noqa: BLE001 - a watch that breaks is simply started again
                log.debug("watch ended: %s", error)
                self.stop_event.wait(1.0)

    # ------------------------------------------------------------------ main loop
    def register_node(self) -> None:
        """Create or refresh this kubelet's Node object (Ready), as a kubelet registers itself."""
        started = now()
        status = {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                  "message": "kubelet stand-in: pods run as host processes",
                                  "lastHeartbeatTime": started, "lastTransitionTime": started}],
                  "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": NODE}],
                  "capacity": {"cpu": str(os.cpu_count() or 1), "pods": "110"},
                  "allocatable": {"cpu": str(os.cpu_count() or 1), "pods": "110"},
                  "nodeInfo": node_info()}
        body = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE, "labels": {
            "kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux"}}, "status": status}
        try:
            self.kube.call(self.kube.core.create_node, body)
        except ApiException as error:
            if error.status != 409:
                raise
            self.kube.call(self.kube.core.patch_node_status, NODE, {"status": status})

    def run(self) -> None:
        with contextlib.suppress(Exception):
            self.kube.ensure_namespace(self.namespace)
        try:
            self.register_node()
        except Exception as error:  # noqa: BLE001 - the pods matter more than the node object
            log.warning("node %s not registered: %s", NODE, error)
        for method in (self.kube.apps.list_namespaced_deployment, self.kube.core.list_namespaced_pod):
            threading.Thread(target=self._watch, args=(method,), daemon=True).start()
        log.info("kubelet stand-in watching deployments labelled %s in %s", SELECTOR, self.namespace)
        while not self.stop_event.is_set():
            busy = False
            try:
                busy = self.reconcile()
            except Exception as error:  # noqa: BLE001 - the next pass tries again
                log.warning("reconcile failed: %s", error)
            self.wake.wait(0.1 if busy else self.resync)
            self.wake.clear()

    def reconcile(self) -> bool:
        """One pass; True while some pod is still starting (poll faster)."""
        deployments = self.kube.call(self.kube.apps.list_namespaced_deployment, self.namespace,
                                     label_selector=SELECTOR).get("items") or []
        pods = self.kube.call(self.kube.core.list_namespaced_pod, self.namespace,
                              label_selector=SELECTOR).get("items") or []
        live = {d["metadata"]["name"]: d for d in deployments if not d["metadata"].get("deletionTimestamp")}
        names = {p["metadata"]["name"] for p in pods}
        for name in [n for n in self.pods if n not in names]:
            log.info("pod %s was deleted: stopping its processes", name)
            self._stop_local(name)
        owned: dict[str, list[dict[str, Any]]] = {name: [] for name in live}
        for pod in pods:
            owner = owner_of(pod)
            if owner in owned and not pod["metadata"].get("deletionTimestamp"):
                owned[owner].append(pod)
            elif owner is not None and owner not in live:
                self._delete_pod(pod["metadata"]["name"], "its deployment is gone")
        busy = False
        for name, deployment in live.items():
            try:
                busy |= self._sync_deployment(deployment, owned[name])
            except (ApiException, BackendError, OSError) as error:  # one bad deployment never blocks the others
                log.warning("deployment %s: %s", name, error)
                busy = True
        return busy

    def _sync_deployment(self, deployment: dict[str, Any], pods: list[dict[str, Any]]) -> bool:
        name = deployment["metadata"]["name"]
        want = int((deployment.get("spec") or {}).get("replicas") or 0)
        pods.sort(key=lambda p: p["metadata"].get("creationTimestamp") or "")
        while len(pods) > want:
            extra = pods.pop()
            self._delete_pod(extra["metadata"]["name"], f"{name} is scaled to {want}")
        while len(pods) < want:
            pods.append(self._create_pod(deployment))
        busy = False
        ready = 0
        for pod in pods:
            state = self._run_pod(pod, deployment)
            ready += state == "ready"
            busy |= state == "starting"
        self._patch_deployment_status(deployment, len(pods), ready)
        return busy

    # ------------------------------------------------------------------ pods
    def _create_pod(self, deployment: dict[str, Any]) -> dict[str, Any]:
        meta = deployment["metadata"]
        template = (deployment.get("spec") or {}).get("template") or {}
        labels = dict((template.get("metadata") or {}).get("labels") or meta.get("labels") or {})
        labels.setdefault("app", APP)
        name = f"{meta['name'][:57]}-{''.join(secrets.choice(NAME_CHARS) for _ in range(5))}"
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": self.namespace, "labels": labels,
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": meta["name"],
                                                  "uid": meta.get("uid", ""), "controller": True}]},
                "spec": {**(template.get("spec") or {}), "nodeName": NODE}}
        pod = self.kube.call(self.kube.core.create_namespaced_pod, self.namespace, body)
        log.info("pod %s created for deployment %s", name, meta["name"])
        self._patch_pod_status(name, {"phase": "Pending", "hostIP": "127.0.0.1",
                                      "conditions": [{"type": "PodScheduled", "status": "True"}]})
        return pod

    def _run_pod(self, pod: dict[str, Any], deployment: dict[str, Any]) -> str:
        name = pod["metadata"]["name"]
        procs = self.pods.get(name)
        if procs is not None and not procs.alive():
            log.warning("pod %s: VNC server exited (code %s): restarting", name, procs.xvnc.returncode)
            self._stop_local(name)
            self.restarts[name] = self.restarts.get(name, 0) + 1
            procs = None
        if procs is None:
            preferred = (pod.get("status") or {}).get("podIP")
            taken_ips = {p.ip for p in self.pods.values()}
            spec = pod.get("spec") or (deployment.get("spec") or {}).get("template", {}).get("spec") or {}
            port = vnc_port(spec)
            ip = self.allocator.address(taken_ips, preferred, port)
            display = self.allocator.display({p.display for p in self.pods.values()})
            self._note_images(spec)
            procs = start_pod(name, ip, display, self.workdir, self.geometry, container_env(spec, "VNC_PASSWORD"),
                              port)
            self.pods[name] = procs
            log.info("pod %s: Xtigervnc :%d on %s:%d", name, display, ip, port)
        if procs.app is not None and procs.app.poll() is not None and procs.alive():
            log.warning("pod %s: display program exited (code %s)", name, procs.app.returncode)
        if not procs.ready:
            if not procs.answers():
                if time.monotonic() - procs.started > 20:
                    log.warning("pod %s: VNC server not listening after 20 s: restarting", name)
                    self._stop_local(name)
                return "starting"
            procs.ready = True
        self._report_running(name, procs, pod.get("spec") or {})
        return "ready"

    def _note_images(self, spec: dict[str, Any]) -> None:
        for container in spec.get("containers") or []:
            image = str(container.get("image") or "<none>")
            if image not in self.images:
                self.images.add(image)
                log.info("image %s runs as the kit's session program (Xtigervnc + keyboard display, "
                         "no image is pulled)", image)

    def _report_running(self, name: str, procs: PodProcesses, spec: dict[str, Any]) -> None:
        record = (procs.ip, self.restarts.get(name, 0), procs.xvnc.pid)
        if self.reported.get(name) == record:
            return
        started = now()
        containers = spec.get("containers") or [{"name": "session", "image": "xtigervnc (host process)"}]
        status = {"phase": "Running", "podIP": procs.ip, "podIPs": [{"ip": procs.ip}], "hostIP": "127.0.0.1",
                  "startTime": started,
                  "conditions": [{"type": t, "status": "True", "lastTransitionTime": started}
                                 for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")],
                  "containerStatuses": [{"name": c.get("name", "session"), "ready": True, "started": True,
                                         "restartCount": self.restarts.get(name, 0),
                                         "state": {"running": {"startedAt": started}},
                                         "image": c.get("image", ""), "imageID": "",
                                         "containerID": f"process://{procs.xvnc.pid}"} for c in containers]}
        if self._patch_pod_status(name, status):
            self.reported[name] = record
            log.info("pod %s Running at %s", name, procs.ip)

    def _patch_pod_status(self, name: str, status: dict[str, Any]) -> bool:
        try:
            self.kube.call(self.kube.core.patch_namespaced_pod_status, name, self.namespace, {"status": status})
            return True
        except ApiException as error:
            log.warning("pod %s status not patched: HTTP %s", name, error.status)
            return False

    def _patch_deployment_status(self, deployment: dict[str, Any], replicas: int, ready: int) -> None:
        meta = deployment["metadata"]
        want = {"replicas": replicas, "readyReplicas": ready, "availableReplicas": ready,
                "updatedReplicas": replicas, "unavailableReplicas": replicas - ready,
                "observedGeneration": meta.get("generation", 1)}
        current = deployment.get("status") or {}
        if all(current.get(k, 0) == v for k, v in want.items()):
            return
        try:
            self.kube.call(self.kube.apps.patch_namespaced_deployment_status, meta["name"], self.namespace,
                            {"status": want})
        except ApiException as error:
            log.warning("deployment %s status not patched: HTTP %s", meta["name"], error.status)

    def _delete_pod(self, name: str, why: str) -> None:
        self._stop_local(name)
        try:
            self.kube.call(self.kube.core.delete_namespaced_pod, name, self.namespace)
            log.info("pod %s deleted: %s", name, why)
        except ApiException as error:
            if error.status != 404:
                log.warning("pod %s not deleted: HTTP %s", name, error.status)

    def _stop_local(self, name: str) -> None:
        procs = self.pods.pop(name, None)
        self.reported.pop(name, None)
        if procs is not None:
            procs.stop()

    def shutdown(self) -> None:
        self.stop_event.set()
        names = list(self.pods)
        for name in names:
            self._stop_local(name)
        for name in names:
            with contextlib.suppress(Exception):
                self.kube.call(self.kube.core.delete_namespaced_pod, name, self.namespace, timeout=2.0)
        log.info("kubelet stand-in stopped %d pod(s)", len(names))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kubelet-stand-in", description=__doc__.split("\n\n")[1])
    parser.add_argument("--kube-url", required=True)
    parser.add_argument("--namespace", default="streamspace")
    parser.add_argument("--config", default=None, help="JSON file (podNetwork, displayBase, vncGeometry, resync)")
    parser.add_argument("--workdir", default=None, help="folder for pod logs (default: a temp folder)")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=getattr(logging, args.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s [kubelet] %(message)s")
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    config: dict[str, Any] = {}
    if args.config:
        try:
            raw = json.loads(Path(args.config).read_text())
        except (OSError, ValueError) as error:
            log.error("cannot read %s: %s. Fix: pass --config with a readable JSON file", args.config, error)
            return 2
        config = {**raw, **(raw.get("timings") or {}), **(raw.get("kubelet") or {})}
    kubelet: Kubelet | None = None
    stop_asked = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop_asked.set()
        if kubelet is not None:
            kubelet.stop_event.set()
            kubelet.wake.set()

    # before anything is made: a stop asked while starting still removes what was made
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    own_dir = args.workdir is None
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="kit-kubelet-"))
    kube: Kube | None = None
    try:
        kube = Kube(args.kube_url, timeout=float(config.get("requestTimeout", 5.0)))
        try:
            kubelet = Kubelet(kube, args.namespace, config, workdir)
        except BackendError as error:
            log.error("%s", error)
            return 2
        if not stop_asked.is_set():
            kubelet.run()
    finally:
        if kubelet is not None:
            kubelet.shutdown()
        if kube is not None:
            kube.close()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
