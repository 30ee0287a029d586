"""A local TCP port that forwards to a pod's port through the API's port-forward."""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from typing import Any

from kubernetes.stream import portforward

from KubeKit.connection import KubeConnection


class PortForwarder:
    """Listens on ``127.0.0.1:local_port``; each accepted connection gets its own port-forward stream."""

    def __init__(self, conn: KubeConnection, pod: str, namespace: str, remote_port: int, local_port: int = 0) -> None:
        self.conn, self.pod, self.namespace, self.remote_port = conn, pod, namespace, int(remote_port)
        self.listener = socket.create_server(("127.0.0.1", int(local_port)))
        self.listener.settimeout(0.5)
        self.local_port = int(self.listener.getsockname()[1])
        self.closed = threading.Event()
        self.streams: list[Any] = []
        self.thread = threading.Thread(target=self._accept, name=f"port-forward {pod}:{remote_port}", daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client_socket, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client_socket,), daemon=True).start()

    def _relay(self, client_socket: socket.socket) -> None:
        try:
            stream = portforward(self.conn.core.connect_get_namespaced_pod_portforward, self.pod, self.namespace,
                                 ports=str(self.remote_port))
        except Exception:  # noqa: BLE001 - a failed stream closes this one connection
            client_socket.close()
            return
        self.streams.append(stream)
        remote = stream.socket(self.remote_port)
        remote.setblocking(True)
        try:
            while not self.closed.is_set():
                ready, _, _ = select.select([client_socket, remote], [], [], 0.5)
                for source in ready:
                    data = source.recv(65536)
                    if not data:
                        return
                    (remote if source is client_socket else client_socket).sendall(data)
        except OSError:
            return
        finally:
            client_socket.close()
            with contextlib.suppress(Exception):
                stream.close()

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        for stream in self.streams:
            with contextlib.suppress(Exception):
                stream.close()
        self.thread.join(2)
