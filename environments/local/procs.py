"""Processes the local environment starts: free ports, logs, health waits, clean stops."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kitcore.processes import OWNER_MARK, descendants, kill_survivors


class BackendError(RuntimeError):
    """A backend could not start or answer. The message names the cause and the fix."""

    def __init__(self, what: str, cause: str, fix: str = "") -> None:
        text = f"{what}: {cause}"
        if fix:
            text += f". Fix: {fix}"
        super().__init__(text)


def stop_like_ctrl_c(*signums: int) -> None:
    """SIGTERM and SIGHUP (or ``signums``) stop this program as Ctrl-C does: a KeyboardInterrupt, so
    its ``finally`` blocks remove what it started (a CI system cancels a job with SIGTERM)."""

    def interrupted(signum: int, _frame: object) -> None:
        signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the cleanup short
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    for signum in signums or (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now at ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def require_free_port(port: int, host: str, what: str) -> None:
    if not port_is_free(port, host):
        raise BackendError(
            f"{what} cannot start on {host}:{port}",
            "the port is already in use by another program",
            "stop that program or choose another port (leave the port unset to pick a free one)",
        )


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(check: Callable[[], bool], timeout: float, what: str, log: Path | None = None,
             process: subprocess.Popen | None = None, poll: float = 0.05,
             hopeless: Callable[[], str | None] | None = None) -> float:
    """Wait until ``check()`` is true; fail with the log's tail if the process died or time ran out,
    and at once when ``hopeless()`` says why waiting longer cannot help."""
    start = time.monotonic()
    while True:
        with contextlib.suppress(Exception):
            if check():
                return time.monotonic() - start
        if process is not None and process.poll() is not None:
            raise BackendError(what, f"the process exited with code {process.returncode}{log_tail(log)}")
        reason = hopeless() if hopeless else None
        if reason:
            raise BackendError(what, f"{reason}{log_tail(log)}")
        if time.monotonic() - start > timeout:
            raise BackendError(what, f"not ready after {timeout:g} s{log_tail(log)}")
        time.sleep(poll)


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, what: str, fix: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` shared by every process on the machine (the kernel releases
    it when the holder dies); fails naming ``what`` and ``fix`` after ``timeout`` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() > deadline:
                    raise BackendError(what, f"{path} is still held after {timeout:g} s by another run", fix) from None
                time.sleep(0.1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def log_tail(log: Path | None, lines: int = 8) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    return ("; last log lines:\n  " + "\n  ".join(text)) if text else ""


@dataclass
class ManagedProcess:
    """A child process in its own process group, its output in ``log``."""

    name: str
    argv: Sequence[str]
    log: Path
    env: dict[str, str] | None = None
    cwd: Path | None = None
    user: str | None = None
    reap: bool = True  # stopped by a watcher if the process that started it dies (kitcore.reaper)
    popen: subprocess.Popen | None = field(default=None, repr=False)
    _guard: int | None = field(default=None, repr=False)

    def start(self) -> ManagedProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.log, "ab")  # noqa: SIM115 - handed to the child
        try:
            self.popen = subprocess.Popen(
                list(self.argv),
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, OWNER_MARK: self.name, **(self.env or {})},
                cwd=self.cwd,
                user=self.user,
                start_new_session=True,
            )
        except FileNotFoundError as error:
            raise BackendError(f"{self.name} cannot start", f"'{error.filename}' is not installed",
                               "run './kit setup' to install what is missing") from None
        finally:
            handle.close()
        if self.reap:
            from environments.local import reaper

            self._guard = reaper.guard_group(self.popen.pid, self.name)
        return self

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (a crash, for chaos)."""
        self.signal(signal.SIGKILL)
        if self.popen:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(5)
        self._release()

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; always reaps the process."""
        if self.popen is None:
            return
        family = descendants(self.popen.pid)  # e.g. a build step an engine runs in a session of its own
        if self.popen.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                self.kill()
        # a process group may outlive its leader
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        kill_survivors(family)
        self._release()

    def _release(self) -> None:
        if self._guard is not None:
            from environments.local import reaper

            reaper.release(self._guard)
            self._guard = None


def restore_sigint() -> None:
    """Take SIGINT back when this process started with it ignored (a job started in the background by
    a shell, as some CI systems do): Python then raises KeyboardInterrupt on it, and the programs this
    process starts get SIGINT at its default again, so Ctrl-C and a SIGINT to the group stop them."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
