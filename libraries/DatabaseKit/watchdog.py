"""A client-side deadline for every statement, so that a frozen server cannot hang a test.

The statement timeout is enforced by the server; a server that is stopped (SIGSTOP, a VM pause,
a black-holed network) cannot enforce anything. One daemon thread per library watches the calls
in flight; a call still running ``grace`` seconds after its statement timeout is cancelled and,
if that does not help, its socket is shut down, so the blocked call fails with an error.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator

import psycopg


class Watchdog:
    def __init__(self, grace: float = 5.0, period: float = 0.25) -> None:
        self.grace = grace
        self.period = period
        self._calls: dict[int, tuple[float, psycopg.Connection]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._broken: weakref.WeakSet[psycopg.Connection] = weakref.WeakSet()

    @contextlib.contextmanager
    def watch(self, conn: psycopg.Connection, budget: float | None) -> Iterator[None]:
        """Guard the calls made in the block; ``budget`` seconds (None or <= 0: not guarded)."""
        watched = self.enter(conn, budget)
        try:
            yield
        finally:
            if watched:
                self.leave()

    def enter(self, conn: psycopg.Connection, budget: float | None) -> bool:
        """Guard this thread's calls on ``conn`` from now for ``budget`` seconds; False when not guarded
        (None or <= 0). Each ``enter`` that returned True is followed by one :meth:`leave`."""
        if not budget or budget <= 0:
            return False
        with self._lock:
            self._calls[threading.get_ident()] = (time.monotonic() + budget + self.grace, conn)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="DatabaseKit-watchdog", daemon=True)
                self._thread.start()
        return True

    def leave(self) -> None:
        with self._lock:
            self._calls.pop(threading.get_ident(), None)

    def _run(self) -> None:
        while True:
            time.sleep(self.period)
            now = time.monotonic()
            with self._lock:
                late = [(k, c) for k, (deadline, c) in self._calls.items() if now > deadline]
                for key, _ in late:
                    self._calls.pop(key, None)
            for _, conn in late:
                self._broken.add(conn)
                self._break(conn)

    def broke(self, conn: psycopg.Connection) -> bool:
        """Whether the watchdog closed ``conn`` (asked once: the answer is forgotten)."""
        if conn in self._broken:
            self._broken.discard(conn)
            return True
        return False

    @staticmethod
    def _break(conn: psycopg.Connection) -> None:
        with contextlib.suppress(Exception):
            conn.cancel_safe(timeout=1.0)
        with contextlib.suppress(Exception):
            fd = conn.pgconn.socket
            with socket.socket(fileno=os.dup(fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
