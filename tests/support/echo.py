"""A TCP echo server on a loopback address: what a pod's port looks like to a port-forward."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def echo_server(host: str, port: int = 0) -> Iterator[tuple[str, int]]:
    """Echo every byte back on ``host:port`` (``0``: a free port) until the block ends."""
    server = socket.create_server((host, port))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield host, server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


def free_pair(host: str, attempts: int = 50) -> int:
    """A port P on ``host`` with P and P + 1 both free right now."""
    for _ in range(attempts):
        with socket.socket() as first, socket.socket() as second:
            first.bind((host, 0))
            port = first.getsockname()[1]
            try:
                second.bind((host, port + 1))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no two free neighbouring ports on {host} in {attempts} tries")
