"""A Kubernetes API stand-in: no kube-apiserver can be installed here, so the local stack serves
the part of the Kubernetes API the kit relies on from a small in-memory server.

It is a stand-in and says so (``/version`` answers ``gitVersion: v1.31.0-kit-stand-in``). What it keeps,
proven through the official ``kubernetes`` client in the acceptance tests:
namespaces (cluster-scoped; deleting one deletes what is in it), create → 201 with ``uid``,
``resourceVersion``, ``creationTimestamp``; 404 for missing objects; 409 on a stale
``resourceVersion`` (PUT, merge/strategic/JSON patch, scale); one ``resourceVersion`` counter
incremented on every write; label and field selectors on list and watch; live watches
(ADDED/MODIFIED/DELETED) honouring ``timeoutSeconds`` and resuming from a ``resourceVersion``;
``status`` and ``scale`` subresources; discovery (``/api``, ``/apis``, ``/version``).
Kinds: Namespace, Pod, Service, PersistentVolumeClaim, Event, ConfigMap, Secret, ServiceAccount
(core/v1), Deployment (apps/v1), Lease (coordination.k8s.io/v1), Event (events.k8s.io/v1), and
StreamSpace's Session and Template (stream.space/v1alpha1).
It runs no controllers and no kubelet: a Deployment makes no pods, and pod logs, exec and
port-forward answer 501 saying why. Strategic merge patches are applied as JSON merge patches;
server-side apply is not served.

Why a small aiohttp server and not a subclass of kmock's ``KubernetesEmulator``: the emulator
keeps its objects and events in private structures (name-mangled lookups, an event bus with no
history), so 201/409 semantics, resuming a watch from a ``resourceVersion``, status and scale
subresources and namespace cascades would mean overriding nearly every handler and depending on
the internals of one exact kmock release. Served directly with aiohttp's public API (already
required by the ``kubernetes`` client), the whole stand-in is a few hundred lines we own.

Start it as a process: ``python -m environments.local.kubeapi --host 127.0.0.1 --port P``, or
with :class:`KubeApiStandIn` (a managed child process, like the other local backends).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from environments.local.procs import ManagedProcess, free_port, require_free_port, wait_for

ROOT = Path(__file__).resolve().parents[3]

__all__ = ["KubeApiStandIn"]


@dataclass
class KubeApiStandIn:
    """The stand-in as a child process on ``host:port`` (a free port when 0)."""

    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    name: str = "kubernetes"
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> KubeApiStandIn:
        if self.port:
            require_free_port(self.port, self.host, "The Kubernetes API stand-in")
        else:
            self.port = free_port(self.host)
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "environments.local.kubeapi", "--host", self.host, "--port", str(self.port)]
        self.process = ManagedProcess(self.name, argv, self.workdir / f"{self.name}.log", cwd=ROOT,
                                      env={"PYTHONUNBUFFERED": "1"}).start()
        wait_for(self.healthy, timeout, f"The Kubernetes API stand-in on {self.url} did not answer /healthz",
                 self.process.log, self.process.popen)
        return self

    def healthy(self) -> bool:
        with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
            return answer.status == 200

    def version(self) -> dict[str, str]:
        with urllib.request.urlopen(f"{self.url}/version", timeout=2) as answer:
            return json.loads(answer.read())

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def kill(self) -> None:
        if self.process:
            self.process.kill()

    def __enter__(self) -> KubeApiStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


