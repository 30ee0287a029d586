"""Shared fixtures: real backends on free ports, started once per test session and always stopped.

Use these instead of starting your own: ``redis_server``, ``postgres_server``, ``vnc_server``
(security None), ``vnc_server_with_password`` (VNC authentication, password ``kit-secret``),
``kube_api`` (the Kubernetes API stand-in) and ``kube_client`` (the official client's ``ApiClient``
on it), ``engine`` (the container engine).
``rollback_migrations`` is the StreamSpace migration set written in the rollback layout.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from environments.local.postgres_server import PostgresServer
from environments.local.redis_server import RedisServer
from environments.local.vnc_server import VncServer

VNC_PASSWORD = "kit-secret"


def _interrupted(signum: int, _frame: object) -> None:
    """A CI system cancels a job with SIGTERM (SIGHUP when a terminal goes): stop as Ctrl-C does, so
    every fixture's teardown runs and the backends the tests started are stopped."""
    signal.signal(signum, signal.SIG_IGN)  # a second signal while tearing down must not cut it short
    raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")


def pytest_configure(config: pytest.Config) -> None:
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupted)
MIGRATIONS = Path(__file__).resolve().parent / "data" / "migrations"
Server = TypeVar("Server", bound=Any)


def running(server: Server) -> Iterator[Server]:
    """Start ``server``, hand it to the tests, and stop it always (also when starting failed halfway)."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


def write_rollback_layout(updown: Path, dest: Path) -> Path:
    """Write an up/down migration set (``NNN_name.up.sql``/``.down.sql``) in the StreamSpace layout
    (``NNN_name.sql``/``NNN_name_rollback.sql``) into ``dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for up in sorted(updown.glob("*.up.sql")):
        stem = up.name.removesuffix(".up.sql")
        shutil.copyfile(up, dest / f"{stem}.sql")
        down = up.with_name(f"{stem}.down.sql")
        if down.exists():
            shutil.copyfile(down, dest / f"{stem}_rollback.sql")
    return dest


@pytest.fixture(scope="session")
def backend_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backends")


@pytest.fixture(scope="session")
def redis_server(backend_dir: Path) -> Iterator[RedisServer]:
    yield from running(RedisServer(backend_dir / "redis"))


@pytest.fixture(scope="session")
def postgres_server(backend_dir: Path) -> Iterator[PostgresServer]:
    yield from running(PostgresServer(backend_dir / "postgres"))


@pytest.fixture(scope="session")
def vnc_server(backend_dir: Path) -> Iterator[VncServer]:
    yield from running(VncServer(backend_dir / "vnc", name="vnc-none"))


@pytest.fixture(scope="session")
def vnc_server_with_password(backend_dir: Path) -> Iterator[VncServer]:
    yield from running(VncServer(backend_dir / "vnc", name="vnc-auth", password=VNC_PASSWORD))


@pytest.fixture(scope="session")
def kube_api(backend_dir: Path) -> Iterator[object]:
    from environments.local.kubeapi import KubeApiStandIn

    yield from running(KubeApiStandIn(backend_dir / "kubeapi"))


@pytest.fixture(scope="session")
def kube_client(kube_api: Any) -> Iterator[Any]:
    from kubernetes import client

    with client.ApiClient(client.Configuration(host=kube_api.url)) as api_client:
        yield api_client


@pytest.fixture(scope="session")
def engine(backend_dir: Path) -> Iterator[object]:
    from environments.local.engine import Engine

    yield from running(Engine(backend_dir / "engine"))


@pytest.fixture(scope="session")
def rollback_migrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The StreamSpace migrations (kept once, in the up/down layout) written in the rollback layout."""
    return write_rollback_layout(MIGRATIONS / "streamspace_updown", tmp_path_factory.mktemp("streamspace_rollback"))
