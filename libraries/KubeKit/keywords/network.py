"""Reaching a pod's port from the test machine."""

from __future__ import annotations

import ipaddress

from robot.api import logger
from robotlibcore import keyword

from kitcore import KitError
from KubeKit.context import KubeContext
from KubeKit.portforward import PortForwarder


def _loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


class NetworkKeywords:
    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    @keyword("Port Forward To Pod", tags=["pods", "network"])
    def port_forward_to_pod(self, name: str, namespace: str, port: int, local_port: int = 0,
                            alias: str | None = None) -> int:
        """Forward a local port on 127.0.0.1 to the pod's ``port``; returns the local port.

        Each connection to the local port gets its own port-forward through the Kubernetes API (the
        official client's, over WebSocket). The forward is closed at the end of the test (or suite).
        The pod must be running. On the Kubernetes API stand-in the pod's IP must also be a loopback
        address, as the local stack's kubelet stand-in gives its pods: the stand-in forwards to
        loopback addresses only, and the keyword says so at once.

        Example:
        | ${local} = | Port Forward To Pod | ${pod} | ${ns} | 5900 |
        | Connect To VNC | 127.0.0.1 | ${local} |
        """
        conn = self.ctx.conn(alias)
        pod = conn.call(f"Read pod '{name}' in {namespace}", conn.core.read_namespaced_pod, name, namespace)
        phase = pod.status.phase if pod.status else None
        ip = pod.status.pod_ip if pod.status else None
        if phase != "Running" or not ip:
            raise KitError(f"Port-forwarding to pod '{name}' in {namespace} is not possible",
                           cause=f"the pod is not running (phase {phase}, pod IP {ip})",
                           fix="wait until it runs, e.g. with 'Wait Until Pods Are Ready'")
        if conn.stand_in and not _loopback(ip):
            raise KitError(f"Port-forwarding to pod '{name}' in {namespace} is not possible on {conn.url}",
                           cause=f"that is the Kubernetes API stand-in, which forwards only to loopback pod "
                                 f"addresses (127.0.0.0/8); this pod's IP is {ip}",
                           fix="forward to a pod of the local stack (its kubelet stand-in gives pods loopback "
                               "addresses), or use a real cluster")
        forward = PortForwarder(conn, name, namespace, int(port), int(local_port))
        self.ctx.listener.register(f"port-forward 127.0.0.1:{forward.local_port} -> {name}:{port}", forward.close)
        logger.info(f"Forwarding 127.0.0.1:{forward.local_port} to pod {name}:{port} in {namespace}")
        return forward.local_port
