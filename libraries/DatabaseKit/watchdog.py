"""A client-side deadline for every statement, so that a frozen server cannot hang a test.

The statement timeout is enforced by the server; a server that is stopped (SIGSTOP, a VM pause,
a black-holed network) cannot enforce anything. One daemon thread per library watches the calls
in flight; a call still running ``grace`` seconds after its statement timeout is cancelled and,
if that does not help, its socket is shut down, so the blocked call fails with an error.

Guarding a call costs a clock reading and a dictionary entry per thread, no lock and no timer:
a call writes its deadline in :attr:`Watchdog.calls` when it starts (:meth:`Watchdog.enter`, or
directly where every call counts) and removes it when it ends; the thread reads the entries every
``period`` seconds (a late call is broken at most ``period`` after its deadline).
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

_monotonic = time.monotonic
_thread_id = threading.get_ident


class Watchdog:
    def __init__(self, grace: float = 5.0, period: float = 0.25) -> None:
        self.grace = grace
        self.period = period
        # thread id -> (deadline, connection) of the call that thread has in flight; each thread writes
        # and removes only its own entry (single dictionary operations, atomic in CPython)
        self.calls: dict[int, tuple[float, psycopg.Connection]] = {}
        self._start_lock = threading.Lock()
        self.thread: threading.Thread | None = None  # the watcher, started with the first guarded call
        self._broken: weakref.WeakSet[psycopg.Connection] = weakref.WeakSet()
        _WATCHDOGS.add(self)

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
        self.calls[_thread_id()] = (_monotonic() + budget + self.grace, conn)
        if self.thread is None:
            self.start()
        return True

    def leave(self) -> None:
        """End the guard :meth:`enter` set for this thread."""
        self.calls.pop(_thread_id(), None)

    def start(self) -> None:
        """Start the watcher thread unless it runs."""
        with self._start_lock:
            if self.thread is None:
                thread = threading.Thread(target=self._run, name="DatabaseKit-watchdog", daemon=True)
                thread.start()
                self.thread = thread

    def forget_thread(self) -> None:
        """After a fork: the watcher thread did not come along; the next guarded call starts one."""
        self.thread = None
        self.calls.clear()

    def _run(self) -> None:
        while True:
            time.sleep(self.period)
            now = _monotonic()
            for key, entry in self.calls.copy().items():
                if now > entry[0] and self.calls.get(key) is entry:  # still that call, and late
                    self.calls.pop(key, None)
                    self._broken.add(entry[1])
                    self._break(entry[1])

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


_WATCHDOGS: weakref.WeakSet[Watchdog] = weakref.WeakSet()


def _after_fork() -> None:
    for watchdog in list(_WATCHDOGS):
        watchdog.forget_thread()


os.register_at_fork(after_in_child=_after_fork)
