"""Connecting to a Kubernetes API: kubeconfig context, in-cluster, or a URL (the local stand-in)."""

from __future__ import annotations

from kubernetes import client
from robot.api import logger
from robotlibcore import keyword

from kitcore import Check, KitError, SecretLike, getter, to_seconds
from KubeKit.connection import open_in_cluster, open_kubeconfig, open_url
from KubeKit.context import KubeContext


class ConnectionKeywords:
    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    @keyword("Connect To Kubernetes", tags=["connection"])
    def connect_to_kubernetes(
        self,
        kubeconfig: str | None = None,
        context: str | None = None,
        in_cluster: bool = False,
        api_url: str | None = None,
        token: SecretLike = None,
        alias: str | None = None,
        timeout: str | None = None,
        verify_tls: bool = True,
    ) -> str:
        """Open a connection to a Kubernetes API and make it the current one; returns the API URL.

        Give one of: ``kubeconfig`` (a path; ``context`` picks a context, else the file's current
        one), ``in_cluster=True`` (inside a pod, with its service account), or ``api_url`` (e.g. the
        local stack's Kubernetes API stand-in; ``token`` is sent as a bearer token when given).
        With none of them, ``KUBECONFIG`` or ``~/.kube/config`` is used. ``timeout`` applies to every
        request of this connection (default: the library's ``timeout``). The API is asked for its
        version at once, so an unreachable API fails here, naming its URL.

        Example:
        | Connect To Kubernetes | api_url=${KUBE_URL} | alias=local |
        | Connect To Kubernetes | kubeconfig=${KUBECONFIG} | context=kind-streamspace | timeout=20s |
        """
        budget = to_seconds(timeout, self.ctx.default_timeout)
        if sum(bool(x) for x in (kubeconfig or context, in_cluster, api_url)) > 1:
            raise KitError("Connect To Kubernetes got more than one way to connect",
                           fix="give either kubeconfig (and context), in_cluster=True, or api_url")
        if api_url:
            conn = open_url(api_url, budget, token, verify_tls)
        elif in_cluster:
            conn = open_in_cluster(budget)
        else:
            conn = open_kubeconfig(kubeconfig, context, budget)
        self.ctx.connections.add(conn, alias)
        kind = " (the kit's Kubernetes API stand-in)" if conn.stand_in else ""
        logger.info(f"Connected to Kubernetes {conn.git_version} at {conn.url}{kind}, context '{conn.context}'")
        return conn.url

    @keyword("Switch Kubernetes Connection", tags=["connection"])
    def switch_kubernetes_connection(self, alias: str) -> str:
        """Make the connection named ``alias`` the current one; returns its API URL.

        Example:
        | Switch Kubernetes Connection | local |
        """
        return self.ctx.connections.switch(alias).url

    @keyword("Close All Kubernetes Connections", tags=["connection"])
    def close_all_kubernetes_connections(self) -> None:
        """Close every Kubernetes connection (cleanup registered by keywords still runs at test end).

        Example:
        | [Teardown] | Close All Kubernetes Connections |
        """
        self.ctx.connections.close_all()

    @keyword("Get Kubernetes Version", tags=["connection", "assertion"])
    @getter
    def get_kubernetes_version(self, *, check: Check, alias: str | None = None) -> str:
        """The API server's ``gitVersion`` (``v1.31.0``...; the stand-in says ``...-kit-stand-in``).

        Example:
        | ${version} = | Get Kubernetes Version |
        | Get Kubernetes Version | contains | stand-in |
        """
        conn = self.ctx.conn(alias)

        def probe() -> str:
            return str(conn.call("Read the Kubernetes version", client.VersionApi(conn.api).get_code).git_version)

        return check(probe, "Kubernetes version")
