"""Shared fixtures: real backends on free ports, started once per test session and always stopped.

Use these instead of starting your own: ``redis_server``, ``postgres_server``, ``vnc_server``
(security None), ``vnc_server_with_password`` (VNC authentication, password ``kit-secret``),
``kube_api`` (the Kubernetes API stand-in), ``engine`` (the container engine).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from environments.local.postgres_server import PostgresServer
from environments.local.redis_server import RedisServer
from environments.local.vnc_server import VncServer

VNC_PASSWORD = "kit-secret"


@pytest.fixture(scope="session")
def backend_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backends")


@pytest.fixture(scope="session")
def redis_server(backend_dir: Path) -> Iterator[RedisServer]:
    server = RedisServer(backend_dir / "redis").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(backend_dir: Path) -> Iterator[PostgresServer]:
    server = PostgresServer(backend_dir / "postgres").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vnc_server(backend_dir: Path) -> Iterator[VncServer]:
    server = VncServer(backend_dir / "vnc", name="vnc-none").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vnc_server_with_password(backend_dir: Path) -> Iterator[VncServer]:
    server = VncServer(backend_dir / "vnc", name="vnc-auth", password=VNC_PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kube_api(backend_dir: Path) -> Iterator[object]:
    from environments.local.kubeapi import KubeApiStandIn

    server = KubeApiStandIn(backend_dir / "kubeapi").start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def engine(backend_dir: Path) -> Iterator[object]:
    from environments.local.engine import Engine

    server = Engine(backend_dir / "engine").start()
    yield server
    server.stop()
