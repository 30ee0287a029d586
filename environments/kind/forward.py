"""Stable local ports for cluster components.

A :class:`StableForward` listens on ``127.0.0.1:<port>`` for the whole run. Each accepted
connection asks ``connect()`` for a socket to whatever pod serves the component *now* (a
port-forward stream through the Kubernetes API, or a direct TCP connection to the pod IP), so
the URL of "api-2" stays the same when its pod is replaced -- as on the local stack.

A connection that fails is closed on the client's side (as a dead pod's would be), and the forward
keeps the reason in ``failures``/``last_error``: ``connect()`` raising (the API refused the
port-forward), or the port-forward's error channel (the pod refused the connection: the kubelet's
``error forwarding port ...``).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Callable
from typing import Any, Protocol

ACCEPT_POLL = 0.2
RELAY_POLL = 0.5
CHUNK = 65536


class Channel(Protocol):
    """What ``connect()`` returns: a socket plus how to release what stands behind it."""

    sock: Any

    def problem(self) -> str:
        """Why the other side ended the connection, when it says so (else "")."""
        ...

    def close(self) -> None: ...


class SocketChannel:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def problem(self) -> str:
        return ""

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class PortForwardChannel:
    """One port-forward stream through the Kubernetes API to ``pod:port``."""

    def __init__(self, core_api: Any, pod: str, namespace: str, port: int) -> None:
        from kubernetes.stream import portforward

        self.port = port
        self.stream = portforward(core_api.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
        self.sock = self.stream.socket(port)
        self.sock.setblocking(True)

    def problem(self) -> str:
        """What the kubelet wrote on the port's error channel (set before the client's socket closes)."""
        return str(self.stream.error(self.port) or "")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.sock.close()
        with contextlib.suppress(Exception):
            self.stream.close()


def direct(host: str, port: int, timeout: float = 5.0) -> SocketChannel:
    """A TCP connection to ``host:port`` (a pod IP, from inside the cluster network)."""
    return SocketChannel(socket.create_connection((host, port), timeout=timeout))


class StableForward:
    """``127.0.0.1:local_port`` relayed to ``connect()`` per connection; a failed connect drops the client."""

    def __init__(self, name: str, connect: Callable[[], Channel], local_port: int = 0) -> None:
        self.name = name
        self.connect = connect
        self.listener = socket.create_server(("127.0.0.1", int(local_port)))
        self.listener.settimeout(ACCEPT_POLL)
        self.port = int(self.listener.getsockname()[1])
        self.closed = threading.Event()
        self.failures = 0
        self.last_error = ""
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._accept, name=f"forward {name}", daemon=True)
        self.thread.start()

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), name=f"relay {self.name}", daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        try:
            channel = self.connect()
        except Exception as error:  # noqa: BLE001 - the client sees a closed connection, as with a dead pod
            self.failures += 1
            self.last_error = f"{type(error).__name__}: {error}"
            client.close()
            return
        remote = channel.sock
        with self._lock:
            self._open.add(client)
        try:
            client.settimeout(None)
            while not self.closed.is_set():
                ready, _, _ = select.select([client, remote], [], [], RELAY_POLL)
                for source in ready:
                    data = source.recv(CHUNK)
                    if not data:
                        return
                    (remote if source is client else client).sendall(data)
        except OSError:
            return
        finally:
            with self._lock:
                self._open.discard(client)
            with contextlib.suppress(OSError):
                client.close()
            problem = channel.problem()
            if problem:
                self.failures += 1
                self.last_error = problem
            channel.close()

    def close(self, wait: bool = True) -> None:
        """Stop accepting and end open relays; ``wait=False`` leaves joining to :meth:`join`."""
        self.closed.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        with self._lock:
            for client in list(self._open):
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
        if wait:
            self.join()

    def join(self) -> None:
        self.thread.join(2)
