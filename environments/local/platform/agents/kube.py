"""The reference agents' and the kubelet stand-in's Kubernetes client: the REST calls they make, as plain JSON
over urllib3, with a timeout on every call.

The official ``kubernetes`` client builds its typed APIs from some 700 model modules: half a CPU-second at the
start of every agent replica and kubelet, which these programs never use (they send and read plain JSON). The
kit's keyword library for Kubernetes (KubeKit) keeps the official client; these programs name the same
operations (``kube.core.list_namespaced_pod``...) with the same arguments, so reading them against the client's
documentation still works.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import urllib3

MERGE_PATCH = "application/merge-patch+json"

__all__ = ["MERGE_PATCH", "ApiException", "Kube", "Request", "is_status"]


class ApiException(Exception):  # the official client's name for the same error
    """A non-2xx answer of the API server: ``status``, ``reason`` and the answer's ``body``."""

    def __init__(self, status: int, reason: str, body: str = "") -> None:
        super().__init__(f"({status}) Reason: {reason}: {body[:300]}")
        self.status = status
        self.reason = reason
        self.body = body


def is_status(error: BaseException, *codes: int) -> bool:
    return isinstance(error, ApiException) and error.status in codes


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """One operation of the API, called with the official client's positional arguments (``name``,
    ``namespace``, ``body`` as its path needs them) and its query arguments in snake case."""

    method: str
    path: str

    def __call__(self, *args: Any, **query: Any) -> Request:
        names = [name for name in ("name", "namespace") if f"{{{name}}}" in self.path]  # the client's order
        wants_body = self.method in ("POST", "PUT", "PATCH")
        if len(args) != len(names) + wants_body:
            raise TypeError(f"{self.method} {self.path} takes {', '.join(names + ['body'] * wants_body)}")
        path = self.path.format(**{n: quote(str(v), safe="") for n, v in zip(names, args, strict=False)})
        return Request(self.method, path, args[-1] if wants_body else None,
                       {_camel(key): _text(value) for key, value in query.items()})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _text(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def _group(prefix: str, **operations: tuple[str, str]) -> SimpleNamespace:
    return SimpleNamespace(**{name: Operation(method, prefix + path) for name, (method, path) in operations.items()})


NAMESPACED = "/namespaces/{namespace}"
CORE = _group(
    "/api/v1",
    read_namespace=("GET", "/namespaces/{name}"),
    create_namespace=("POST", "/namespaces"),
    create_node=("POST", "/nodes"),
    patch_node_status=("PATCH", "/nodes/{name}/status"),
    list_namespaced_pod=("GET", NAMESPACED + "/pods"),
    create_namespaced_pod=("POST", NAMESPACED + "/pods"),
    delete_namespaced_pod=("DELETE", NAMESPACED + "/pods/{name}"),
    patch_namespaced_pod_status=("PATCH", NAMESPACED + "/pods/{name}/status"),
    create_namespaced_service=("POST", NAMESPACED + "/services"),
    delete_namespaced_service=("DELETE", NAMESPACED + "/services/{name}"),
    create_namespaced_persistent_volume_claim=("POST", NAMESPACED + "/persistentvolumeclaims"),
    delete_namespaced_persistent_volume_claim=("DELETE", NAMESPACED + "/persistentvolumeclaims/{name}"),
)
APPS = _group(
    "/apis/apps/v1",
    list_namespaced_deployment=("GET", NAMESPACED + "/deployments"),
    create_namespaced_deployment=("POST", NAMESPACED + "/deployments"),
    patch_namespaced_deployment=("PATCH", NAMESPACED + "/deployments/{name}"),
    delete_namespaced_deployment=("DELETE", NAMESPACED + "/deployments/{name}"),
    patch_namespaced_deployment_status=("PATCH", NAMESPACED + "/deployments/{name}/status"),
)
COORDINATION = _group(
    "/apis/coordination.k8s.io/v1",
    read_namespaced_lease=("GET", NAMESPACED + "/leases/{name}"),
    create_namespaced_lease=("POST", NAMESPACED + "/leases"),
    replace_namespaced_lease=("PUT", NAMESPACED + "/leases/{name}"),
)


@dataclass
class Kube:
    """One cluster's API at ``url``; ``call`` returns the answer's decoded JSON."""

    url: str
    timeout: float = 5.0
    core: ClassVar[SimpleNamespace] = CORE
    apps: ClassVar[SimpleNamespace] = APPS
    coordination: ClassVar[SimpleNamespace] = COORDINATION

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self.pool = urllib3.PoolManager(retries=False, maxsize=8, headers={"Accept": "application/json",
                                                                          "User-Agent": "streamspace-kit-agent"})

    def _send(self, request: Request, read: float, stream: bool = False) -> urllib3.BaseHTTPResponse:
        url = self.url + request.path + (f"?{urlencode(request.query)}" if request.query else "")
        headers = {}
        body = None
        if request.body is not None:
            body = json.dumps(request.body).encode()
            headers["Content-Type"] = MERGE_PATCH if request.method == "PATCH" else "application/json"
        response = self.pool.request(request.method, url, body=body, headers=headers, preload_content=not stream,
                                     timeout=urllib3.Timeout(connect=self.timeout, read=read))
        if response.status >= 300:
            text = response.data.decode(errors="replace")
            response.release_conn()
            raise ApiException(response.status, response.reason or "", text)
        return response

    def call(self, operation: Operation, *args: Any, timeout: float | None = None, **query: Any) -> dict[str, Any]:
        """Call an operation; the answer's JSON as a dict. ``ApiException`` on any non-2xx answer. A PATCH is a
        JSON merge patch."""
        response = self._send(operation(*args, **query), timeout or self.timeout)
        return json.loads(response.data) if response.data else {}

    def watch(self, operation: Operation, *args: Any, read_timeout: float, **query: Any) -> urllib3.BaseHTTPResponse:
        """A watch: the streamed answer, one JSON event per line (release it with ``release_conn``)."""
        return self._send(operation(*args, watch=True, **query), read_timeout, stream=True)

    def ensure_namespace(self, namespace: str) -> None:
        try:
            self.call(self.core.read_namespace, namespace)
        except ApiException as error:
            if error.status != 404:
                raise
            try:
                self.call(self.core.create_namespace, {"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": namespace}})
            except ApiException as again:
                if again.status != 409:
                    raise

    def close(self) -> None:
        self.pool.clear()
