"""One open Kubernetes API connection: the client, its timeouts, and errors in tester words."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import urllib3
from kubernetes import client, config, dynamic
from kubernetes.config.config_exception import ConfigException

from kitcore import KitError, SecretLike, reveal

STAND_IN_MARK = "stand-in"


class KubeError(KitError):
    """A failed call to the Kubernetes API; ``status`` is the HTTP status (0 when it did not answer)."""

    def __init__(self, what: str, cause: str = "", fix: str = "", status: int = 0) -> None:
        super().__init__(what, cause, fix)
        self.status = status


def _message(error: client.ApiException) -> str:
    try:
        body = json.loads(error.body or "")
    except (TypeError, ValueError):
        return str(error.reason or "").strip() or "no details"
    return str(body.get("message") or error.reason or "no details") if isinstance(body, dict) else str(body)


@dataclass
class KubeConnection:
    """An API client plus what the keywords need to know about the cluster behind it."""

    api: client.ApiClient
    url: str
    context: str
    timeout: float
    version: dict[str, Any] = field(default_factory=dict)
    _dynamic: dynamic.DynamicClient | None = field(default=None, repr=False)
    _cache_dir: str | None = field(default=None, repr=False)

    # -- the cluster ----------------------------------------------------------------------------
    @property
    def git_version(self) -> str:
        return str(self.version.get("gitVersion", ""))

    @property
    def stand_in(self) -> bool:
        """True when the API is the kit's Kubernetes API stand-in (no kubelet behind it)."""
        return STAND_IN_MARK in self.git_version

    def require_kubelet(self, what: str) -> None:
        if self.stand_in:
            raise KitError(
                f"{what} is not possible on {self.url}",
                cause=f"that is the Kubernetes API stand-in ({self.git_version}): it runs no kubelet, so there "
                "are no containers, logs or exec (port-forward is served, to loopback pod addresses)",
                fix="run this step against a real cluster (environment 'kind'), or leave it out on 'local'",
            )

    # -- API groups ---------------------------------------------------------------------------
    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def apps(self) -> client.AppsV1Api:
        return client.AppsV1Api(self.api)

    @property
    def coordination(self) -> client.CoordinationV1Api:
        return client.CoordinationV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    @property
    def dynamic(self) -> dynamic.DynamicClient:
        if self._dynamic is None:
            self._cache_dir = tempfile.mkdtemp(prefix="kubekit-discovery-")
            self._dynamic = self.call("Discover the API resources", dynamic.DynamicClient, self.api,
                                      cache_file=os.path.join(self._cache_dir, "discovery.json"), _timeout=False)
        return self._dynamic

    # -- calls --------------------------------------------------------------------------------
    def call(self, what: str, func: Callable[..., Any], *args: Any, _timeout: bool = True, **kwargs: Any) -> Any:
        """Call the API with this connection's timeout; failures become :class:`KubeError`."""
        if _timeout:
            kwargs.setdefault("_request_timeout", self.timeout)
        try:
            return func(*args, **kwargs)
        except client.ApiException as error:
            raise self.error(what, error) from None
        except dynamic.exceptions.DynamicApiError as error:
            raise self.error(what, error) from None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            raise KubeError(
                f"{what}: the Kubernetes API at {self.url} did not answer",
                cause=f"{type(error).__name__}: {error}",
                fix="check that the cluster (or the local stack) is running and reachable, "
                f"and that a {self.timeout:g} s request timeout is enough",
            ) from None

    def error(self, what: str, error: Any) -> KubeError:
        status = int(getattr(error, "status", 0) or 0)
        message = _message(error)
        fixes = {
            404: "check the name, the namespace and the kind (the object may already be gone)",
            409: "the object was changed or created meanwhile: read it again and retry",
            403: "the credentials of this connection may not do this: check the kubeconfig user's RBAC rights",
            401: "the credentials were refused: check the kubeconfig user or token",
            501: "this API server cannot do that (the Kubernetes API stand-in runs no kubelet)",
        }
        if status == 0:
            return KubeError(f"{what}: the Kubernetes API at {self.url} did not answer", cause=message,
                             fix="check that the cluster is running and reachable", status=0)
        return KubeError(what, cause=f"the API answered {status}: {message}",
                         fix=fixes.get(status, "read the API's message above"), status=status)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api.close()
        if self._cache_dir:
            shutil.rmtree(self._cache_dir, ignore_errors=True)


# -- opening --------------------------------------------------------------------------------------
def _probe(connection: KubeConnection) -> KubeConnection:
    """Ask /version once, quickly, so an unreachable API fails at connect time naming the URL."""
    try:
        info = client.VersionApi(connection.api).get_code(_request_timeout=(min(connection.timeout, 5.0),
                                                                            connection.timeout))
    except client.ApiException as error:
        if error.status in (401, 403):
            raise KubeError(f"The Kubernetes API at {connection.url} refused the credentials",
                            cause=_message(error), fix="check the kubeconfig user, token or context",
                            status=error.status) from None
        raise connection.error(f"Connect to the Kubernetes API at {connection.url}", error) from None
    except (urllib3.exceptions.HTTPError, OSError) as error:
        connection.close()
        raise KubeError(
            f"Cannot reach the Kubernetes API at {connection.url}",
            cause=f"{type(error).__name__}: {error}",
            fix="check that the cluster (or the local stack) is running and that the URL, kubeconfig or "
            "context points at it",
        ) from None
    connection.version = {"gitVersion": info.git_version, "major": info.major, "minor": info.minor,
                          "platform": info.platform}
    return connection


def _configured(configuration: client.Configuration) -> client.Configuration:
    configuration.retries = 1  # one retry for a dropped keep-alive connection, no more: fail fast
    return configuration


def open_url(url: str, timeout: float, token: SecretLike = None, verify_tls: bool = True) -> KubeConnection:
    configuration = _configured(client.Configuration(host=url.rstrip("/")))
    configuration.verify_ssl = verify_tls
    secret = reveal(token)
    if secret:
        configuration.api_key = {"authorization": secret}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    probe = KubeConnection(client.ApiClient(configuration), configuration.host, "", timeout)
    _probe(probe)
    probe.context = STAND_IN_MARK if probe.stand_in else configuration.host
    return probe


def open_in_cluster(timeout: float) -> KubeConnection:
    configuration = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=configuration)
    except ConfigException as error:
        raise KitError("Cannot connect to Kubernetes from inside the cluster", cause=str(error),
                       fix="use in_cluster=True only in a pod with a service account; otherwise pass a "
                       "kubeconfig (and context) or api_url") from None
    _configured(configuration)
    return _probe(KubeConnection(client.ApiClient(configuration), configuration.host, "in-cluster", timeout))


def open_kubeconfig(path: str | None, context: str | None, timeout: float) -> KubeConnection:
    file = Path(os.path.expanduser(path or os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
                                   or "~/.kube/config"))
    if not file.is_file():
        raise KitError(f"Cannot connect to Kubernetes: the kubeconfig '{file}' does not exist",
                       fix="pass kubeconfig=<path>, set KUBECONFIG, use in_cluster=True inside a pod, "
                       "or api_url=<url> for the local stack's Kubernetes API stand-in")
    try:
        contexts, active = config.list_kube_config_contexts(str(file))
    except (ConfigException, OSError, ValueError) as error:
        raise KitError(f"Cannot read the kubeconfig '{file}'", cause=str(error),
                       fix="check that it is a valid kubeconfig file") from None
    names = [c["name"] for c in contexts or []]
    chosen = context or (active or {}).get("name")
    if not chosen or chosen not in names:
        raise KitError(
            f"The kubeconfig '{file}' has no context '{chosen}'" if chosen else f"The kubeconfig '{file}' "
            "names no current context",
            cause=f"its contexts are: {', '.join(names) or 'none'}",
            fix="pass context=<one of those> (kubectl config get-contexts lists them)",
        )
    configuration = client.Configuration()
    try:
        config.load_kube_config(config_file=str(file), context=chosen, client_configuration=configuration,
                                persist_config=False)
    except (ConfigException, OSError, ValueError) as error:
        raise KitError(f"Cannot use context '{chosen}' of the kubeconfig '{file}'", cause=str(error),
                       fix="check the cluster and user that context refers to") from None
    _configured(configuration)
    return _probe(KubeConnection(client.ApiClient(configuration), configuration.host, chosen, timeout))
