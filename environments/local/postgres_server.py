"""A throwaway PostgreSQL cluster: a copy of a template cluster made once per machine, own port, fsync off.

``initdb`` takes about half a second of CPU; a copy of its result about a tenth of a second. The
template (``initdb`` plus the databases asked for, made in single-user mode, no server) is kept in
the user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``; for root, whose home the postgres
user cannot enter, ``/var/cache``), in ``streamspace-kit/postgres/``, under
a key of everything that shapes it: the PostgreSQL binaries (path, size, time), the ``initdb``
options, the owner and the databases. Nothing else ever writes to it: it is made under a lock
shared by every run on the machine, in a folder of its own renamed into place when complete, and
each run starts its server on a copy of its own. A changed input makes a new template; old ones
can be deleted at any time (the folder ``streamspace-kit/postgres`` in the cache).
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from environments.local import reaper
from environments.local.procs import (
    BackendError,
    ManagedProcess,
    ReadyNotice,
    await_ready,
    cache_root,
    file_lock,
    free_port,
    port_answers,
    require_free_port,
    start_or_undo,
)

RUN_AS = "postgres"
INITDB_OPTIONS = ("--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise BackendError("PostgreSQL cannot start", "initdb is not installed",
                       "run './kit setup' (it installs the postgresql package)")


def template_root() -> Path:
    """Root runs ``initdb`` as the postgres user, who cannot enter root's home: its cache is in /var/cache."""
    return cache_root() / "postgres"


def template_key(bindir: Path, user: str, owner: str | None, databases: tuple[str, ...]) -> str:
    """What the template depends on: a PostgreSQL upgrade, other options or databases make another."""
    binary = (bindir / "postgres").stat()
    inputs = [str(bindir), str(binary.st_size), str(binary.st_mtime_ns), *INITDB_OPTIONS, user,
              owner or str(os.geteuid()), *databases]
    digest = hashlib.sha256("\0".join(inputs).encode()).hexdigest()[:16]
    return f"{bindir.parent.name or 'pg'}-{digest}"


def _complete(path: Path) -> bool:
    return (path / "PG_VERSION").is_file() and (path / "global" / "pg_control").is_file()


def cluster_template(bindir: Path, user: str, owner: str | None, databases: tuple[str, ...],
                     timeout: float = 120.0) -> Path:
    """The template cluster for these inputs, made now if this machine has none yet."""
    for name in databases:
        if not DATABASE_NAME.fullmatch(name):
            raise BackendError("PostgreSQL cannot start", f"'{name}' is not a plain database name",
                               "use lower-case letters, digits and underscores")
    root = template_root()
    path = root / template_key(bindir, user, owner, databases)
    if _complete(path):
        return path
    with file_lock(root / ".lock", timeout, "PostgreSQL template lock",
                   "another run is making the PostgreSQL template; wait for it, or stop it"):
        if _complete(path):
            return path
        for stale in root.glob(".making-*"):  # a maker killed with its watcher (the lock is ours now)
            shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=".making-", dir=root))
        token = reaper.guard_path(work)
        try:
            if owner:
                for folder in (root.parent, root):  # the postgres user enters them to make the template
                    folder.chmod(0o755)
                shutil.chown(work, owner, owner)
            _initdb(bindir, work / "data", user, owner, databases, timeout)
            (work / "data").rename(path)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            reaper.release(token)
    return path


def _initdb(bindir: Path, datadir: Path, user: str, owner: str | None, databases: tuple[str, ...],
            timeout: float) -> None:
    argv = [str(bindir / "initdb"), "-D", str(datadir), "-U", user, *INITDB_OPTIONS]
    result = subprocess.run(argv, capture_output=True, text=True, user=owner, timeout=timeout, check=False)
    if result.returncode != 0:
        raise BackendError("PostgreSQL initdb failed", (result.stderr or result.stdout).strip()[-400:],
                           "check that the postgres system user exists ('./kit setup' creates it)")
    if not databases:
        return
    script = "".join(f"CREATE DATABASE {name};\n" for name in databases)
    result = subprocess.run([str(bindir / "postgres"), "--single", "-F", "-D", str(datadir), "postgres"],
                            input=script, capture_output=True, text=True, user=owner, timeout=timeout, check=False)
    output = (result.stderr + result.stdout).strip()
    if result.returncode != 0 or "ERROR" in output:
        raise BackendError("PostgreSQL could not create the databases " + ", ".join(databases), output[-400:],
                           f"read the message above; delete {template_root()} to start afresh")


@dataclass
class PostgresServer:
    """Cluster files live in a private temp directory the postgres user owns; removed on stop.
    ``databases`` exist from the start (they are in the template the cluster is copied from)."""

    logdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    user: str = "postgres"
    name: str = "postgres"
    datadir: Path | None = None
    databases: tuple[str, ...] = ()
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

    def start(self, timeout: float = 30.0, abort: int | None = None) -> PostgresServer:
        """Start PostgreSQL on a copy of the template cluster, undone if it fails half-way; ``abort``: a
        descriptor whose readability (a stop asked) ends the wait at once."""
        start_or_undo(lambda: self._start(timeout, abort), self.stop)
        return self

    def _start(self, timeout: float, abort: int | None) -> None:
        bindir = postgres_bin()
        if self.port:
            require_free_port(self.port, self.host, "PostgreSQL")
        else:
            self.port = free_port(self.host)
        owner = self._as_owner()
        template = cluster_template(bindir, self.user, owner, tuple(self.databases))
        self._tmp = Path(tempfile.mkdtemp(prefix="kit-pg-"))
        self._guard = reaper.guard_path(self._tmp)  # removed even if this process is killed
        self.datadir = self._tmp / "data"
        if owner:
            shutil.chown(self._tmp, owner, owner)
        # a copy keeps the owner and the 0700 mode PostgreSQL demands; the empty parts of the WAL stay holes
        copied = subprocess.run(["cp", "-a", "--sparse=always", str(template), str(self.datadir)],
                                capture_output=True, text=True, timeout=60, check=False)
        if copied.returncode != 0:
            raise BackendError("PostgreSQL cannot start", f"copying its template cluster failed: "
                               f"{copied.stderr.strip()[-300:]}", f"check the free space; delete {template} "
                               "to have it made again")
        self.logdir.mkdir(parents=True, exist_ok=True)
        options = ["-p", str(self.port), "-k", str(self._tmp), "-c", f"listen_addresses={self.host}",
                   "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                   "-c", "max_connections=300"]
        log = self.logdir / f"{self.name}.log"
        log.touch()
        if owner:
            shutil.chown(log, owner, owner)
        self._run([str(bindir / "postgres"), "-D", str(self.datadir), *options], log, timeout,
                  "did not accept connections", abort)

    def _run(self, argv: list[str], log: Path, timeout: float, failure: str, abort: int | None = None) -> None:
        """Start the server; ready when it says so (READY=1, see ReadyNotice) and its address accepts a
        connection, or, from a build that sends no READY=1, when pg_isready says so."""
        notice = ReadyNotice()
        try:
            self.process = ManagedProcess(self.name, argv, log, user=self._as_owner(), env=notice.env).start()
            await_ready(f"PostgreSQL on {self.host}:{self.port} {failure}", self.process.popen, timeout, log,
                        notice, lambda: port_answers(self.port, self.host) if notice.ready else self._ready(),
                        abort=abort)
        finally:
            notice.close()

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
        self._run(list(self.process.argv), self.process.log, timeout, "did not come back")

    def stop(self) -> None:
        """Stop the server and remove its files. Nothing is kept, so it writes no shutdown checkpoint:
        SIGQUIT, PostgreSQL's immediate shutdown."""
        if self.process:
            self.process.signal(signal.SIGQUIT)
            self.process.stop(grace=10)
        self._remove_files()

    def _remove_files(self) -> None:
        if self._tmp and self._tmp.exists():
            shutil.rmtree(self._tmp, ignore_errors=True)
        reaper.release(self._guard)
        self._guard = None
