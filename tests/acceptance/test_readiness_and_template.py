"""How the local stack knows a component is ready, and the PostgreSQL template it copies.

``await_ready`` returns on the program's ``READY=1`` (no timer), fails at once when the program exits
first (with its exit code), and after its budget when it never says so; a program that sends nothing is
asked by its health check. The PostgreSQL template is made once for any number of servers started at
the same time, each server runs on a copy of its own, and what a server writes never reaches the
template.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from environments.local import postgres_server
from environments.local.postgres_server import PostgresServer
from environments.local.procs import BackendError, ReadyNotice, await_ready

NOTIFY_AFTER = """
import os, socket, sys, time
time.sleep(float(sys.argv[1]))
address = os.environ["NOTIFY_SOCKET"]
with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
    sock.sendto(b"READY=1", "\\0" + address[1:])
time.sleep(30)
"""


def _start(code: str, *args: str, notice: ReadyNotice | None = None) -> subprocess.Popen:
    env = notice.env if notice else {}
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env)


def test_ready_comes_with_the_programs_notice_not_a_timer() -> None:
    notice = ReadyNotice()
    process = _start(NOTIFY_AFTER, "0.5", notice=notice)
    try:
        waited = await_ready("the test program", process, 10.0, notice=notice, poll=5.0)
        assert 0.4 < waited < 3.0, f"ready after {waited:.2f} s for a notice sent after 0.5 s"
    finally:
        process.kill()
        process.wait()
        notice.close()


def test_a_program_that_exits_first_fails_at_once_with_its_code() -> None:
    notice = ReadyNotice()
    process = _start("import sys, time; time.sleep(0.3); sys.exit(7)", notice=notice)
    started = time.monotonic()
    try:
        with pytest.raises(BackendError, match="exited with code 7"):
            await_ready("the test program", process, 20.0, notice=notice, poll=5.0)
        assert time.monotonic() - started < 3.0, "the exit was not seen at once"
    finally:
        process.wait()
        notice.close()


def test_a_program_that_never_says_it_is_ready_fails_after_its_budget() -> None:
    notice = ReadyNotice()
    process = _start("import time; time.sleep(30)", notice=notice)
    started = time.monotonic()
    try:
        with pytest.raises(BackendError) as caught:
            await_ready("the silent program", process, 1.0, notice=notice)
        assert 0.9 < time.monotonic() - started < 4.0
        assert "the silent program" in str(caught.value)
    finally:
        process.kill()
        process.wait()
        notice.close()


def test_a_program_without_a_notice_is_asked_by_its_health_check() -> None:
    process = _start("import time; time.sleep(30)")
    answers = iter([False, False, True])
    try:
        waited = await_ready("the quiet program", process, 10.0, check=lambda: next(answers), poll=0.1)
        assert waited < 2.0
    finally:
        process.kill()
        process.wait()


def test_a_stop_asked_comes_first_even_when_the_program_is_ready_already() -> None:
    """A program can be ready before the wait's first look (a fast start on a busy machine): a stop asked
    still ends the start, which is no longer wanted (seen in CI: a Redis start reported ready after its stop)."""
    process = _start("import time; time.sleep(30)")
    reading, writing = os.pipe()
    try:
        os.write(writing, b"x")
        with pytest.raises(BackendError, match="a stop was asked"):
            await_ready("the ready program", process, 10.0, check=lambda: True, abort=reading)
    finally:
        os.close(reading)
        os.close(writing)
        process.kill()
        process.wait()


def test_servers_started_at_once_share_one_template_and_never_write_to_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(tempfile.mkdtemp(prefix="kit-pg-template-test-"))  # the postgres user must reach it
    home.chmod(0o755)
    root = home / "cache" / "postgres"
    monkeypatch.setattr(postgres_server, "template_root", lambda: root)
    servers = [PostgresServer(tmp_path / f"pg{i}", databases=("kit_template_test",)) for i in range(3)]
    errors: list[BaseException] = []

    def start(server: PostgresServer) -> None:
        try:
            server.start()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=start, args=(server,)) for server in servers]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert not errors, errors
        templates = [p for p in root.iterdir() if not p.name.startswith(".")]
        assert len(templates) == 1, f"one template for the same inputs, found {templates}"
        before = {p: p.stat().st_mtime_ns for p in templates[0].rglob("*") if p.is_file()}
        for index, server in enumerate(servers):
            dsn = f"host={server.host} port={server.port} user={server.user} dbname=kit_template_test"
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f"CREATE TABLE written_by_{index} (id int)")
                conn.execute("CHECKPOINT")
        for index, server in enumerate(servers):  # each its own copy: only its own table
            dsn = f"host={server.host} port={server.port} user={server.user} dbname=kit_template_test"
            with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
                tables = {row[0] for row in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE tablename LIKE 'written_by_%'")}
            assert tables == {f"written_by_{index}"}, tables
        after = {p: p.stat().st_mtime_ns for p in templates[0].rglob("*") if p.is_file()}
        assert after == before, "a server wrote into the template"
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("kind", ["postgres", "redis", "kubernetes"])
def test_a_start_stopped_while_waiting_ends_at_once_and_leaves_nothing(kind: str, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A stop asked while a backend waits for its program (the stack's abort descriptor readable) ends the
    wait at once; the program and its files are gone when ``start`` raises (the stack keeps no handle on a
    server whose start failed, so nothing else would remove them before the supervisor exits)."""
    from environments.local.kubeapi import KubeApiStandIn
    from environments.local.redis_server import RedisServer

    server = {"postgres": lambda: PostgresServer(tmp_path),
              "redis": lambda: RedisServer(tmp_path),
              "kubernetes": lambda: KubeApiStandIn(tmp_path)}[kind]()
    made: list[Path] = []  # the folders this start makes (other tests' servers make theirs meanwhile)
    mkdtemp = tempfile.mkdtemp

    def recorded(*args: Any, **kwargs: Any) -> str:
        made.append(Path(mkdtemp(*args, **kwargs)))
        return str(made[-1])

    monkeypatch.setattr(tempfile, "mkdtemp", recorded)
    reading, writing = os.pipe()
    os.write(writing, b"x")  # the stop was asked before the program could answer
    began = time.monotonic()
    try:
        with pytest.raises(BackendError, match="a stop was asked"):
            server.start(abort=reading)
    finally:
        os.close(reading)
        os.close(writing)
    assert time.monotonic() - began < 5, "the start did not end at once"
    assert server.process is not None and server.process.popen is not None
    assert server.process.popen.poll() is not None, f"the {kind} program outlived its failed start"
    assert made or kind != "postgres", "PostgreSQL's start made no folder of its own: the check below checks nothing"
    assert not [path for path in made if path.exists()], "a failed start left its folder"
