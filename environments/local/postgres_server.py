"""A throwaway PostgreSQL cluster: initdb as the postgres user, own port, fsync off."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from environments.local import reaper
from environments.local.procs import BackendError, ManagedProcess, free_port, require_free_port, wait_for

RUN_AS = "postgres"


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise BackendError("PostgreSQL cannot start", "initdb is not installed",
                       "run './kit setup' (it installs the postgresql package)")


@dataclass
class PostgresServer:
    """Cluster files live in a private temp directory the postgres user owns; removed on stop."""

    logdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    user: str = "postgres"
    name: str = "postgres"
    datadir: Path | None = None
    process: ManagedProcess | None = field(default=None, repr=False)
    _tmp: Path | None = field(default=None, repr=False)
    _guard: int | None = field(default=None, repr=False)

    @property
    def dsn(self) -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname=postgres connect_timeout=5"

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/postgres"

    def _as_owner(self) -> str | None:
        return RUN_AS if os.geteuid() == 0 else None

    def start(self, timeout: float = 30.0) -> PostgresServer:
        bindir = postgres_bin()
        if self.port:
            require_free_port(self.port, self.host, "PostgreSQL")
        else:
            self.port = free_port(self.host)
        self._tmp = Path(tempfile.mkdtemp(prefix="kit-pg-"))
        self._guard = reaper.guard_path(self._tmp)  # removed even if this process is killed
        self.datadir = self._tmp / "data"
        owner = self._as_owner()
        if owner:
            shutil.chown(self._tmp, owner, owner)
        initdb = [str(bindir / "initdb"), "-D", str(self.datadir), "--auth=trust", "-U", self.user,
                  "--no-sync", "-E", "UTF8", "--locale=C"]
        result = subprocess.run(initdb, capture_output=True, text=True, user=owner, timeout=120, check=False)
        if result.returncode != 0:
            self._remove_files()
            raise BackendError("PostgreSQL initdb failed", (result.stderr or result.stdout).strip()[-400:],
                               "check that the postgres system user exists ('./kit setup' creates it)")
        self.logdir.mkdir(parents=True, exist_ok=True)
        options = ["-p", str(self.port), "-k", str(self._tmp), "-c", f"listen_addresses={self.host}",
                   "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                   "-c", "max_connections=300"]
        log = self.logdir / f"{self.name}.log"
        log.touch()
        if owner:
            shutil.chown(log, owner, owner)
        self.process = ManagedProcess(self.name, [str(bindir / "postgres"), "-D", str(self.datadir), *options],
                                      log, user=owner).start()
        wait_for(self._ready, timeout, f"PostgreSQL on {self.host}:{self.port} did not accept connections",
                 log, self.process.popen)
        return self

    def _ready(self) -> bool:
        bindir = postgres_bin()
        return subprocess.run([str(bindir / "pg_isready"), "-h", self.host, "-p", str(self.port), "-t", "1"],
                              capture_output=True, timeout=5, check=False).returncode == 0

    def halt(self) -> None:
        """Stop the server but keep its files, so :meth:`resume` brings the same data back."""
        if self.process:
            # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM waits for clients to leave
            self.process.signal(signal.SIGINT)
            self.process.stop(grace=10)

    def crash(self) -> None:
        """SIGKILL the server (a crash); :meth:`resume` recovers it from its files."""
        if self.process:
            self.process.kill()

    def resume(self, timeout: float = 30.0) -> None:
        """Start the server again on the same port with the same data."""
        if self.process is None or self.datadir is None:
            raise BackendError("PostgreSQL cannot resume", "it was never started", "call start() first")
        argv, log = list(self.process.argv), self.process.log
        self.process = ManagedProcess(self.name, argv, log, user=self._as_owner()).start()
        wait_for(self._ready, timeout, f"PostgreSQL on {self.host}:{self.port} did not come back",
                 self.process.log, self.process.popen)

    def stop(self) -> None:
        self.halt()
        self._remove_files()

    def _remove_files(self) -> None:
        if self._tmp and self._tmp.exists():
            shutil.rmtree(self._tmp, ignore_errors=True)
        reaper.release(self._guard)
        self._guard = None
