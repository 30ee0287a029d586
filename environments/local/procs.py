"""Processes the local environment starts: free ports, logs, health waits, clean stops."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from environments.local.zygote import ForkedProcess, Zygote, ZygoteError
from kitcore.processes import OWNER_MARK, descendants, kill_survivors


class BackendError(RuntimeError):
    """A backend could not start or answer. The message names the cause and the fix."""

    def __init__(self, what: str, cause: str, fix: str = "") -> None:
        text = f"{what}: {cause}"
        if fix:
            text += f". Fix: {fix}"
        super().__init__(text)


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


NOTIFY_VAR = "NOTIFY_SOCKET"


class ReadyNotice:
    """A readiness signal in the systemd convention (``sd_notify``): the child finds a datagram socket
    in ``NOTIFY_SOCKET`` and sends ``READY=1`` on it once it serves. Redis (``--supervised systemd``),
    PostgreSQL and the kit's own programs (:func:`notify_ready`) send it; an abstract socket, so no
    file to leave behind and any user (PostgreSQL runs as ``postgres``) may send to it."""

    def __init__(self) -> None:
        self.address = f"kit-ready-{os.getpid()}-{secrets.token_hex(6)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.bind("\0" + self.address)
        self.sock.setblocking(False)
        self.ready = False

    @property
    def env(self) -> dict[str, str]:
        """The child's environment entry that names this socket."""
        return {NOTIFY_VAR: "@" + self.address}

    def receive(self) -> bool:
        """Read what arrived; True once ``READY=1`` came."""
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while True:
                message = self.sock.recv(4096)
                if b"READY=1" in message.split(b"\n"):
                    self.ready = True
        return self.ready

    def close(self) -> None:
        self.sock.close()


def notify_ready() -> None:
    """Tell the process that started this one that it serves now (``READY=1`` to ``NOTIFY_SOCKET``,
    when it gave one; nothing otherwise)."""
    address = os.environ.get(NOTIFY_VAR, "")
    if not address:
        return
    target = "\0" + address[1:] if address.startswith("@") else address
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"READY=1", target)


def start_or_undo(start: Callable[[], None], undo: Callable[[], None]) -> None:
    """``start()``; when it fails or is interrupted (Ctrl-C, a stop signal) half-way, ``undo()`` first, so that
    nothing of the half-made start outlives the failure (its owner keeps no handle on it)."""
    try:
        start()
    except BaseException:
        undo()
        raise


def await_ready(what: str, process: subprocess.Popen, timeout: float, log: Path | None = None,
                notice: ReadyNotice | None = None, check: Callable[[], bool] | None = None,
                poll: float = 0.25, abort: int | None = None) -> float:
    """Wait until ``process`` serves: woken by its ``READY=1`` on ``notice`` and by its exit (a pidfd), not
    by a timer. ``check`` (when given) must then pass too; it is also tried every ``poll`` seconds, for a
    program that sends no readiness signal. Fails naming ``what`` with the log's tail when the process
    exits or ``timeout`` runs out, and at once when ``abort`` (a descriptor) becomes readable: a stop
    was asked. Returns the seconds waited."""
    started = time.monotonic()
    deadline = started + timeout
    next_try = started + poll if notice is not None else started
    exited = _exit_handle(process)
    ready = False
    try:
        while True:
            # a stop asked comes first, also when the program became ready meanwhile: the start is not wanted
            if abort is not None and select.select([abort], [], [], 0)[0]:
                raise BackendError(what, "a stop was asked while waiting")
            signalled = not ready and notice is not None and notice.receive()
            ready = ready or signalled
            now = time.monotonic()
            if check is None and ready:
                return now - started
            if check is not None and (signalled or now >= next_try):
                if _passes(check):
                    return time.monotonic() - started
                next_try = time.monotonic() + poll
            if process.poll() is not None:
                raise BackendError(what, f"the process exited with code {process.returncode}{log_tail(log)}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise BackendError(what, f"not ready after {timeout:g} s{log_tail(log)}")
            pause = left if check is None else max(0.0, min(left, next_try - time.monotonic()))
            if exited is None:  # no pidfd: an exit is seen at the next turn
                pause = min(pause, poll)
            handles = [h for h in (None if notice is None or ready else notice.sock, exited, abort) if h is not None]
            if handles:
                select.select(handles, [], [], pause)
            else:
                time.sleep(pause)
    finally:
        if exited is not None:
            os.close(exited)


def _exit_handle(process: subprocess.Popen) -> int | None:
    """A descriptor that becomes readable when ``process`` exits (None when the kernel has no pidfd)."""
    try:
        return os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        return None


def _passes(check: Callable[[], bool]) -> bool:
    try:
        return bool(check())
    except Exception:  # noqa: BLE001 - not serving yet
        return False


def cache_root() -> Path:
    """The kit's cache, kept between runs and shared by every run of the machine: ``/var/cache/streamspace-kit``
    as root (a program run as another user, e.g. PostgreSQL's ``initdb``, can reach it), else
    ``$XDG_CACHE_HOME/streamspace-kit`` (``~/.cache/streamspace-kit``)."""
    if os.geteuid() == 0:
        return Path("/var/cache/streamspace-kit")
    return Path(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "streamspace-kit"


@contextlib.contextmanager
def file_lock(path: Path, timeout: float, what: str, fix: str, abort: int | None = None) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` shared by every process on the machine (the kernel releases
    it when the holder dies); fails naming ``what`` and ``fix`` after ``timeout`` seconds, and at once
    when ``abort`` (a descriptor) becomes readable: a stop was asked."""
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
                if select.select([] if abort is None else [abort], [], [], 0.1)[0]:  # the next try, or the stop
                    raise BackendError(what, "a stop was asked while waiting for it") from None
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
    zygote: Zygote | None = field(default=None, repr=False)  # forks the program when it can (zygote.py)
    popen: subprocess.Popen | ForkedProcess | None = field(default=None, repr=False)
    _guard: int | None = field(default=None, repr=False)

    def start(self) -> ManagedProcess:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, OWNER_MARK: self.name, **(self.env or {})}
        self.popen = self._forked(env) or self._spawned(env)
        if self.reap:
            from environments.local import reaper

            self._guard = reaper.guard_group(self.popen.pid, self.name)
        return self

    def _forked(self, env: dict[str, str]) -> ForkedProcess | None:
        """The program forked by the zygote, when it can run it as written (else None)."""
        if self.zygote is None or self.user is not None or not self.zygote.accepts(self.argv, env):
            return None
        try:
            return self.zygote.spawn(self.argv, env, self.cwd, self.log)
        except ZygoteError:
            return None  # started the usual way

    def _spawned(self, env: dict[str, str]) -> subprocess.Popen:
        with open(self.log, "ab") as handle:
            try:
                return subprocess.Popen(list(self.argv), stdout=handle, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, env=env, cwd=self.cwd, user=self.user,
                                        start_new_session=True)
            except FileNotFoundError as error:
                raise BackendError(f"{self.name} cannot start", f"'{error.filename}' is not installed",
                                   "run './kit setup' to install what is missing") from None

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
