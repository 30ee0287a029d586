"""Thin helpers over the official ``kubernetes`` client: plain JSON in and out, a timeout on every call."""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from dataclasses import dataclass
from typing import Any


def _client_package_only() -> None:
    """Let ``kubernetes.client`` be imported without ``kubernetes/__init__.py``, which imports the kubeconfig
    loaders (google-auth, oauthlib, cryptography...): nine tenths of the package's import time, paid by every
    agent replica and kubelet at start. These programs talk to the API URL they are given, never a
    kubeconfig. A process that already imported the whole package keeps it."""
    if "kubernetes" in sys.modules:
        return
    spec = importlib.util.find_spec("kubernetes")
    if spec is None or not spec.submodule_search_locations:
        return  # not installed: the import below says so
    package = types.ModuleType("kubernetes")
    package.__path__ = list(spec.submodule_search_locations)
    package.__file__ = spec.origin
    sys.modules["kubernetes"] = package


_client_package_only()

from kubernetes import client  # noqa: E402 - after the package stand-in above
from kubernetes.client.exceptions import ApiException  # noqa: E402

MERGE_PATCH = "application/merge-patch+json"

__all__ = ["MERGE_PATCH", "ApiException", "Kube", "is_status"]


def is_status(error: BaseException, *codes: int) -> bool:
    return isinstance(error, ApiException) and error.status in codes


@dataclass
class Kube:
    """The typed APIs of one cluster, and ``call`` returning decoded JSON."""

    url: str
    timeout: float = 5.0

    def __post_init__(self) -> None:
        configuration = client.Configuration()
        configuration.host = self.url.rstrip("/")
        self.api_client = client.ApiClient(configuration)
        self.core = client.CoreV1Api(self.api_client)
        self.apps = client.AppsV1Api(self.api_client)
        self.coordination = client.CoordinationV1Api(self.api_client)

    def call(self, method: Any, *args: Any, timeout: float | None = None, **kwargs: Any) -> dict[str, Any]:
        """Call an API method; raw JSON as a dict. ``ApiException`` on any non-2xx answer."""
        wait = timeout or self.timeout
        response = method(*args, _preload_content=False, _request_timeout=(wait, wait), **kwargs)
        data = response.data
        return json.loads(data) if data else {}

    def patch(self, method: Any, *args: Any, timeout: float | None = None) -> dict[str, Any]:
        """A JSON merge patch (the client's default content type would be a JSON patch list)."""
        return self.call(method, *args, timeout=timeout, _content_type=MERGE_PATCH)

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
        self.api_client.close()
