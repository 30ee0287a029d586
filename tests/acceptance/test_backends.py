"""The local backends start on free ports, answer, fail fast on a wrong setting, and leave nothing."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import psutil
import pytest

from environments.local.postgres_server import PostgresServer
from environments.local.procs import BackendError, ManagedProcess
from environments.local.redis_server import RedisServer
from environments.local.stack import LocalStack, StackOptions
from environments.local.vnc_server import VncServer


def _pids_alive(*pids: int | None) -> list[int]:
    return [pid for pid in pids if pid and psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]


def test_redis_answers_and_stops_without_trace(tmp_path: Path) -> None:
    server = RedisServer(tmp_path).start()
    assert server.ping()
    pid = server.process.pid
    server.stop()
    assert _pids_alive(pid) == []
    assert not server.answers()


def test_redis_crash_and_resume_keeps_address(redis_server: RedisServer) -> None:
    port = redis_server.port
    redis_server.crash()
    assert not redis_server.answers()
    redis_server.resume()
    assert redis_server.port == port
    assert redis_server.ping()


def test_postgres_accepts_queries_and_removes_its_files(tmp_path: Path) -> None:
    import psycopg

    server = PostgresServer(tmp_path).start()
    datadir = server.datadir
    with psycopg.connect(server.dsn) as conn:
        assert conn.execute("select 1 + 1").fetchone() == (2,)
    server.stop()
    assert not datadir.exists()
    assert _pids_alive(server.process.pid) == []


def test_postgres_halt_and_resume_keeps_data(postgres_server: PostgresServer) -> None:
    import psycopg

    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        conn.execute("create table if not exists kept (v int)")
        conn.execute("insert into kept values (42)")
    postgres_server.halt()
    postgres_server.resume()
    with psycopg.connect(postgres_server.dsn, autocommit=True) as conn:
        assert conn.execute("select v from kept").fetchone() == (42,)
        conn.execute("drop table kept")


@pytest.mark.parametrize("password", [None, "kit-secret"])
def test_vnc_server_greets_with_rfb_38_and_offers_the_right_security(tmp_path: Path, password: str | None) -> None:
    server = VncServer(tmp_path, password=password).start()
    try:
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            assert sock.recv(12) == b"RFB 003.008\n"
            sock.sendall(b"RFB 003.008\n")
            count = sock.recv(1)[0]
            types = set(sock.recv(count))
        assert types == ({2} if password else {1})
    finally:
        server.stop()
    assert _pids_alive(server.process.pid) == []


def test_busy_port_fails_at_once_naming_the_port(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(BackendError, match=rf"127.0.0.1:{port}.*already in use.*Fix:"):
            RedisServer(tmp_path, port=port).start()
        assert time.monotonic() - started < 2


def test_missing_program_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"'no-such-program' is not installed.*\./kit setup"):
        ManagedProcess("ghost", ["no-such-program"], tmp_path / "ghost.log").start()


def test_unwritable_results_dir_fails_before_starting_anything(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o500)
    try:
        blocker = results / "components"
        stack = LocalStack(StackOptions(results=results))
        # root ignores permission bits: make the target a file so the write fails for everyone
        results.chmod(0o700)
        blocker.write_text("not a folder")
        started = time.monotonic()
        with pytest.raises(BackendError, match=r"cannot write its logs.*Fix: make results/ writable"):
            stack._check_results_dir()
        assert time.monotonic() - started < 2
    finally:
        results.chmod(0o700)
        stack.stop()
