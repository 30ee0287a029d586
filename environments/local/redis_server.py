"""A throwaway Redis server: own port, no persistence, debug commands for fault injection."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from environments.local.procs import (
    BackendError,
    ManagedProcess,
    ReadyNotice,
    await_ready,
    free_port,
    port_answers,
    require_free_port,
    start_or_undo,
)


@dataclass
class RedisServer:
    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    name: str = "redis"
    process: ManagedProcess | None = field(default=None, repr=False)
    _notice: ReadyNotice | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self, timeout: float = 10.0, abort: int | None = None) -> RedisServer:
        """Start Redis, undone if it fails half-way; ``abort``: a descriptor whose readability (a stop
        asked) ends the wait at once."""
        start_or_undo(lambda: self._start(timeout, abort), self.stop)
        return self

    def _start(self, timeout: float, abort: int | None) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise BackendError("Redis cannot start", "redis-server is not installed",
                               "run './kit setup' (it installs the redis-server package)")
        if self.port:
            require_free_port(self.port, self.host, "Redis")
        else:
            self.port = free_port(self.host)
        self.workdir.mkdir(parents=True, exist_ok=True)
        argv = [binary, "--port", str(self.port), "--bind", self.host, "--save", "", "--appendonly", "no",
                "--dir", str(self.workdir), "--enable-debug-command", "local", "--protected-mode", "no",
                "--daemonize", "no", "--supervised", "systemd",  # READY=1 once it serves (ReadyNotice)
                # Redis rewrites its command line (and with it the environment the kit marks its
                # processes with): keep a marker in the title so the leak audit still finds it
                "--proc-title-template", "{title} {listen-addr} streamspace-kit"]
        self._run(argv, self.workdir / f"{self.name}.log", timeout, "did not answer PING", abort)

    def _run(self, argv: list[str], log: Path, timeout: float, failure: str, abort: int | None = None) -> None:
        """Start the server and wait for its readiness signal, then one PING that must answer. The
        signal's socket stays open while the server runs (Redis logs an error when its last notice,
        at shutdown, finds no one)."""
        self._close_notice()
        self._notice = ReadyNotice()
        try:
            self.process = ManagedProcess(self.name, argv, log, env=self._notice.env).start()
            await_ready(f"Redis on {self.host}:{self.port} {failure}", self.process.popen, timeout, log,
                        self._notice, self.ping, abort=abort)
        except BaseException:
            self._close_notice()
            raise

    def _close_notice(self) -> None:
        if self._notice is not None:
            self._notice.close()
            self._notice = None

    def ping(self) -> bool:
        import socket

        with socket.create_connection((self.host, self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def answers(self) -> bool:
        return port_answers(self.port, self.host)

    def crash(self) -> None:
        """SIGKILL the server: every key is lost, as in a real Redis crash without persistence."""
        if self.process:
            self.process.kill()

    def resume(self, timeout: float = 10.0) -> None:
        """Start again on the same address and port (empty, as a crashed Redis comes back)."""
        if self.process is None:
            raise BackendError("Redis cannot resume", "it was never started", "call start() first")
        self._run(list(self.process.argv), self.process.log, timeout, "did not come back")

    def stop(self) -> None:
        if self.process:
            self.process.stop()
        self._close_notice()
