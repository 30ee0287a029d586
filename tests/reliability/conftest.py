"""Fixtures of the reliability tests: one real stack per module, and a per-test leak check."""

from __future__ import annotations

import contextlib
import gc
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from environments.local.postgres_server import PostgresServer
from environments.local.redis_server import RedisServer
from kitcore.processes import descendants

from .stackrun import StackRun

REDIS_PASSWORD = "kit-redis-pw-5b1e"  # throwaway test servers' passwords (the secrets test greps for them)
DB_USER, DB_PASSWORD = "kit_pw_user", "kit-db-pw-77ac"
STACK_PIDS: set[int] = set()  # the shared stack's supervisor: its own processes come and go (netavark...)


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackRun]:
    """The local stack (1 API replica, 1 agent of each kind), started once for the reliability tests
    (the modules that need it share it: the machine has 2 cores) and stopped with SIGTERM at the end;
    its run must then have left nothing behind."""
    run = StackRun(tmp_path_factory.mktemp("stack")).start()
    STACK_PIDS.add(run.process.pid)
    try:
        run.wait_ready()
        yield run
    finally:
        code = run.stop()
        STACK_PIDS.discard(run.process.pid)
        left = run.watch.wait_clean(20)
        assert code is not None, f"the supervisor did not stop on SIGTERM: {run.log()[-1500:]}"
        assert not left, f"the stack left things behind after SIGTERM: {left}"


@pytest.fixture(scope="session", autouse=True)
def kit_watcher() -> None:
    """This process's watcher (kitcore.reaper) lives as long as the process: started before
    any test, so no test's leak check counts it or its pipe as the test's."""
    from environments.local import reaper

    reaper.start()


@pytest.fixture(scope="module", autouse=True)
def unfrozen_after_the_module() -> Iterator[None]:
    """What the leak checks of a module froze (see :class:`Snapshot`) is collected as usual after it."""
    yield
    gc.unfreeze()


class Snapshot:
    """What this test process holds: child processes, open files and sockets, threads, its temp root."""

    def __init__(self, temp_root: Path, ignore_ports: tuple[int, ...] = ()) -> None:
        # the garbage that may hold a file (a socket dropped in a reference cycle) goes first; what is left is
        # frozen, so that the next look collects only what was made since (a full collection of a test
        # process's heap took a tenth of a second, at least twice per test). An object frozen here and
        # dropped later keeps its files open until the process ends: counted before and after alike
        gc.collect()
        gc.freeze()
        me = psutil.Process()
        self.temp_root = temp_root
        self.ignore_ports = ignore_ports
        self.children = {(p.pid, p.create_time()) for p in self.processes()}
        sockets = me.net_connections("inet")
        # sockets a fake server of the test accepted are the test's, not the library's
        # /proc files are psutil's own reads (the stack's watch thread samples while a test runs)
        self.fd_targets = _fd_targets()  # one look: the count and the names of the same moment
        files = sum(1 for t in self.fd_targets.values() if not t.startswith("/proc/"))
        fakes = sum(1 for c in sockets if c.laddr and c.laddr.port in ignore_ports and c.status != psutil.CONN_LISTEN)
        self.fds = files - fakes
        self.connections = {c.laddr for c in sockets if c.status != psutil.CONN_LISTEN}
        self.temp = set(temp_root.iterdir())

    def processes(self) -> list[psutil.Process]:
        """Living descendants of this test process, except those of the shared stack."""
        found = []
        stack = set(STACK_PIDS) | {child for pid in STACK_PIDS for child, _ in descendants(pid)}
        for proc in psutil.Process().children(recursive=True):
            try:
                if proc.pid in stack or not _alive(proc):
                    continue
                if _postgres_background(proc):
                    continue
                found.append(proc)
            except psutil.Error:
                continue
        return found

    def settled_leaks_since(self, before: Snapshot, settle: float = 2.0) -> list[str]:
        """:meth:`leaks_since`, looked at again for up to ``settle`` seconds: a thread of this process that is
        just finishing (a connection pool closing, the stack's watch sampling) holds a file for a moment."""
        deadline = time.monotonic() + settle
        now = self
        while (left := now.leaks_since(before)) and time.monotonic() < deadline:
            time.sleep(0.1)
            now = Snapshot(self.temp_root, self.ignore_ports)
        return left

    def leaks_since(self, before: Snapshot, fd_slack: int = 0) -> list[str]:
        found = []
        me = psutil.Process()
        for proc in self.processes():
            if (proc.pid, proc.create_time()) not in before.children:
                try:
                    command = " ".join(proc.cmdline())[:120]
                except psutil.ZombieProcess:  # exited, not reaped yet: still a leak until it is
                    command = "(exited, not reaped yet)"
                except psutil.NoSuchProcess:
                    continue
                found.append(f"new child process {proc.pid}: {command}")
        open_now = {c for c in me.net_connections("inet") if c.status != psutil.CONN_LISTEN
                    and c.laddr not in before.connections and c.status != psutil.CONN_TIME_WAIT
                    and c.laddr.port not in self.ignore_ports}
        found += [f"open socket {c.laddr} -> {c.raddr} ({c.status})" for c in open_now]
        if self.fds > before.fds + fd_slack:
            new = sorted(t for fd, t in self.fd_targets.items() if before.fd_targets.get(fd) != t)
            found.append(f"{self.fds - before.fds} more open file descriptors ({before.fds} -> {self.fds}): {new}")
        found += [f"temp entry {p}" for p in sorted(set(self.temp_root.iterdir()) - before.temp)]
        return found


PG_CLIENT_BACKEND = re.compile(r"^postgres: \S+ \S+ [\d.:\[\]a-f]+\(\d+\)")


def _postgres_background(proc: psutil.Process) -> bool:
    """A PostgreSQL server's own worker (autovacuum, walwriter...) -- not a client connection left open."""
    cmdline = " ".join(proc.cmdline())
    return cmdline.startswith("postgres: ") and not PG_CLIENT_BACKEND.match(cmdline)


def _fd_targets() -> dict[str, str]:
    targets = {}
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            targets[fd] = os.readlink(f"/proc/self/fd/{fd}")
    return targets


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


@pytest.fixture(scope="module")
def temp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where library temp files of a case go (see :func:`private_temp`), so a leftover can be told apart."""
    return tmp_path_factory.mktemp("tmproot")


@contextlib.contextmanager
def private_temp(root: Path) -> Iterator[None]:
    """Python's temp files go to ``root`` inside the block (fixtures start their servers outside it)."""
    saved = tempfile.tempdir
    tempfile.tempdir = str(root)
    try:
        yield
    finally:
        tempfile.tempdir = saved


@pytest.fixture
def no_leaks(temp_root: Path) -> Iterator[None]:
    """Fail the test if it leaves a child process, socket, file descriptor or temp entry behind."""
    before = Snapshot(temp_root)
    yield
    left = Snapshot(temp_root).settled_leaks_since(before)
    assert not left, f"left behind: {left}"


@pytest.fixture(scope="package")
def locked_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A Redis of this module's own, with ``requirepass``."""
    import redis

    server = RedisServer(tmp_path_factory.mktemp("redis-pw")).start()
    client = redis.Redis(host=server.host, port=server.port, socket_timeout=2)
    client.config_set("requirepass", REDIS_PASSWORD)
    client.close()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def password_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    """A PostgreSQL of this module's own where ``DB_USER`` must give its password (scram-sha-256)."""
    server = PostgresServer(tmp_path_factory.mktemp("pg-pw")).start()
    try:
        hba = server.datadir / "pg_hba.conf"
        rule = f"host all {DB_USER} 127.0.0.1/32 scram-sha-256\n"
        subprocess.run(["runuser", "-u", "postgres", "--", "sh", "-c",
                        f"printf '%s' '{rule}' | cat - {hba} > {hba}.new && mv {hba}.new {hba}"],
                       check=True, timeout=10)
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'")
            conn.execute(f"GRANT ALL ON SCHEMA public TO {DB_USER}")
            conn.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        server.stop()


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """A TMPDIR for one run, directly under /tmp (PostgreSQL's own user must be able to enter it)."""
    path = Path(tempfile.mkdtemp(prefix="relia-", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
