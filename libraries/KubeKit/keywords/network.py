"""Reaching a pod's port from the test machine."""

from __future__ import annotations

from robot.api import logger
from robotlibcore import keyword

from KubeKit.context import KubeContext
from KubeKit.portforward import PortForwarder


class NetworkKeywords:
    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    @keyword("Port Forward To Pod", tags=["pods", "network"])
    def port_forward_to_pod(self, name: str, namespace: str, port: int, local_port: int = 0,
                            alias: str | None = None) -> int:
        """Forward a local port on 127.0.0.1 to the pod's ``port``; returns the local port.

        The forward is closed at the end of the test (or suite). Needs a real cluster: the
        Kubernetes API stand-in runs no kubelet and the keyword says so.

        Example:
        | ${local} = | Port Forward To Pod | ${pod} | ${ns} | 5900 |
        | Connect To VNC | 127.0.0.1 | ${local} |
        """
        conn = self.ctx.conn(alias)
        conn.require_kubelet(f"Port-forwarding to pod '{name}'")
        conn.call(f"Read pod '{name}' in {namespace}", conn.core.read_namespaced_pod, name, namespace)
        forward = PortForwarder(conn, name, namespace, int(port), int(local_port))
        self.ctx.listener.register(f"port-forward 127.0.0.1:{forward.local_port} -> {name}:{port}", forward.close)
        logger.info(f"Forwarding 127.0.0.1:{forward.local_port} to pod {name}:{port} in {namespace}")
        return forward.local_port
