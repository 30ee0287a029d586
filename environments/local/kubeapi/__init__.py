"""A Kubernetes API stand-in: the local stack serves the part of the Kubernetes API that the kit and
StreamSpace's real programs (the k8s agent and the API server, client-go v0.34) use, from a small
in-memory server. It is a stand-in and says so (``/version``: ``v1.31.0-kit-stand-in``).

What it serves, proven by the official Python client, a client-go program of the kit's own
(``tests/clientgo``, built and run by the tests) and kubectl (Debian's ``kubernetes-client``):

- Kinds: Namespace, Node, Pod, Service, PersistentVolumeClaim, Event, ConfigMap, Secret, ServiceAccount
  (core/v1), Deployment (apps/v1), Lease (coordination.k8s.io/v1), Event (events.k8s.io/v1) and
  StreamSpace's Session, Template and ApplicationInstall (stream.space/v1alpha1, custom resources).
- Discovery: ``/api``, ``/apis``, ``/apis/<group>[/<version>]`` and aggregated discovery
  (``apidiscovery.k8s.io`` v2 and v2beta1, answered when the Accept header asks for it first, as
  client-go and kubectl do); ``/openapi/v2`` (JSON, or gnostic protobuf for kubectl) and ``/openapi/v3``:
  every path and operation, no schema definitions (kubectl then validates nothing client-side and
  computes strategic merge patches from its own Go types, as it does for built-in kinds).
- Writes: create → 201 with ``uid``, ``resourceVersion``, ``creationTimestamp``; one ``resourceVersion``
  counter incremented on every write; 404, 409 AlreadyExists, 409 Conflict on a stale
  ``resourceVersion`` (PUT, patches, scale, delete preconditions); create drops ``status`` where status is
  a subresource (and sets Pod/PVC ``Pending``, Namespace ``Active``), as a real API server does; request
  bodies in JSON or in Kubernetes protobuf (:mod:`.kubeproto`: client-go 0.33+ typed clients send
  protobuf); JSON merge patch, JSON patch and strategic merge patch (:mod:`.strategic`: merge keys of
  the Go types, ``$setElementOrder``, ``$patch``, ``$retainKeys``, ``$deleteFromPrimitiveList``; custom
  resources refuse it with 415 like a real server); ``status`` and ``scale`` subresources; deleting a
  namespace or an owner deletes what it holds (the garbage collector's part, done at once).
- Reads: label and field selectors; ``limit``/``continue``; ``meta.k8s.io`` Tables for kubectl
  (:mod:`.tables`); watches (:mod:`.watching`) resuming from a ``resourceVersion`` (410 when too old),
  ``timeoutSeconds``, ``allowWatchBookmarks``, and watch-list (``sendInitialEvents``).
- Pod port-forward, bytes going to the pod's ``status.podIP`` (a loopback address the kubelet
  stand-in gave it) on the requested port, in the three variants clients use: SPDY/3.1
  (:mod:`.portforward`, :mod:`.spdy`), as client-go's SPDY dialer (StreamSpace's VNC tunnel) uses it;
  WebSocket with the kubelet's channel protocol (:mod:`.wsforward`: ``v4.channel.k8s.io``,
  ``v4.base64.channel.k8s.io`` or no subprotocol; ``?ports=P1&ports=P2``, data channel ``2*i`` and
  error channel ``2*i+1`` per port, each opened with the port number), as the official Python client
  (``kubernetes.stream.portforward``: KubeKit, the kind environment's relays) uses it; and SPDY
  tunnelled in a WebSocket (``SPDY/3.1+portforward.k8s.io``), as kubectl 1.31+ uses it. A refused
  connection is reported on the error stream or channel, as a kubelet does. **Loopback only**: a pod
  whose ``podIP`` is not in 127.0.0.0/8 (or ``::1``) is refused with 403 before the upgrade, in every
  variant -- the machine the stand-in runs on may send traffic to loopback only.

What it does not serve: server-side apply (``application/apply-patch+yaml``: 415), dry-run, field
validation (not advertised), server-side defaulting and validation of objects, protobuf answers (it
answers JSON, which every client-go request accepts), port-forward to a pod off loopback (403, see
above), the ``v5.channel.k8s.io`` and pre-v4 ``channel.k8s.io`` subprotocols for port-forward (403,
as from a kubelet: they are exec protocols), pod ``log``/``exec``/``attach`` (501), authentication
and authorization (any request is allowed), and any other kind or group (``metrics.k8s.io``...). It
runs no controllers: the kubelet stand-in (``environments/local/platform/agents/kubelet.py``) plays
the Deployment controller and the kubelet for session Deployments. Every request it cannot serve is
logged as ``unserved: <verb> <path> -> <code>``;
``--access-log`` logs every request.

Why a small aiohttp server and not a subclass of kmock's ``KubernetesEmulator``: the emulator
keeps its objects and events in private structures (name-mangled lookups, an event bus with no
history), so 201/409 semantics, resuming a watch from a ``resourceVersion``, status and scale
subresources and namespace cascades would mean overriding nearly every handler and depending on
the internals of one exact kmock release. Served directly with aiohttp's public API (already
required by the ``kubernetes`` client), the whole stand-in is about three thousand lines we own, in small
modules.

Start it as a process: ``python -m environments.local.kubeapi --host 127.0.0.1 --port P [--access-log]``,
or with :class:`KubeApiStandIn` (a managed child process, like the other local backends).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from environments.local.procs import (
    ManagedProcess,
    ReadyNotice,
    await_ready,
    free_port,
    require_free_port,
    start_or_undo,
)

ROOT = Path(__file__).resolve().parents[3]

__all__ = ["KubeApiStandIn"]


@dataclass
class KubeApiStandIn:
    """The stand-in as a child process on ``host:port`` (a free port when 0)."""

    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    name: str = "kubernetes"
    access_log: bool = False  # log every request in the process log (to see what a client asks)
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0, abort: int | None = None) -> KubeApiStandIn:
        """Start the stand-in, undone if it fails half-way; ``abort``: a descriptor whose readability (a stop
        asked) ends the wait at once."""
        start_or_undo(lambda: self._start(timeout, abort), self.stop)
        return self

    def _start(self, timeout: float, abort: int | None) -> None:
        if self.port:
            require_free_port(self.port, self.host, "The Kubernetes API stand-in")
        else:
            self.port = free_port(self.host)
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "environments.local.kubeapi", "--host", self.host, "--port", str(self.port),
                *(["--access-log"] if self.access_log else [])]
        notice = ReadyNotice()  # it says when it serves; then /healthz must answer
        try:
            self.process = ManagedProcess(self.name, argv, self.workdir / f"{self.name}.log", cwd=ROOT,
                                          env={"PYTHONUNBUFFERED": "1", **notice.env}).start()
            await_ready(f"The Kubernetes API stand-in on {self.url} did not answer /healthz", self.process.popen,
                        timeout, self.process.log, notice, self.healthy, abort=abort)
        finally:
            notice.close()

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


