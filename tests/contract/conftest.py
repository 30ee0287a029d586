"""Fixtures: a real Redis (own, so it can be killed), PostgreSQL, Xvnc, three API replicas as
processes, and the tests' own agent. Everything is started once per test session and always stopped.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from environments.local.postgres_server import PostgresServer
from environments.local.redis_server import RedisServer
from environments.local.vnc_server import VncServer
from tests.contract.agent import ContractAgent
from tests.contract.stack import Api, Stack

USERS = ("alice", "bob", "carol", "dave", "erin")
TIMINGS = {"heartbeatInterval": 0.3, "staleAfter": 1.5, "commandPoll": 0.3, "commandRedeliverAfter": 3.0,
           "commandExpireAfter": 60.0, "redisRetryBackoff": [0.2, 0.4, 0.8]}
K8S_TEMPLATE, DOCKER_TEMPLATE = "desktop-kubernetes", "desktop-docker"


@pytest.fixture(scope="package")
def contract_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("contract")


@pytest.fixture(scope="package")
def contract_redis(contract_dir: Path) -> Iterator[RedisServer]:
    """A Redis of these tests alone: some tests kill it and start it again on the same port."""
    server = RedisServer(contract_dir / "redis", host="127.0.2.1", name="contract-redis").start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def contract_dsn(postgres_server: PostgresServer) -> str:
    return (f"host={postgres_server.host} port={postgres_server.port} user={postgres_server.user} "
            "dbname=streamspace_contract connect_timeout=5")


@pytest.fixture(scope="package")
def creds(contract_dir: Path) -> dict[str, Any]:
    return {"admin": ("admin", secrets.token_urlsafe(12)),
            "users": {name: secrets.token_urlsafe(12) for name in USERS},
            "agentKey": secrets.token_hex(32), "jwtSecret": secrets.token_urlsafe(32)}


@pytest.fixture(scope="package")  # stopped after the last contract test: no later test sees its connections
def stack(contract_dir: Path, contract_redis: RedisServer, contract_dsn: str, creds: dict[str, Any]) -> Iterator[Stack]:
    jwt_file, key_file, config = contract_dir / "jwt.secret", contract_dir / "agent.key", contract_dir / "api.json"
    jwt_file.write_text(creds["jwtSecret"])
    key_file.write_text(creds["agentKey"])
    config.write_text(json.dumps({
        "namespace": "streamspace", "sessionImage": "streamspace-session:contract", "timings": TIMINGS,
        "seed": {"admin": {"username": "admin", "password": creds["admin"][1]},
                 "users": [{"username": n, "password": p} for n, p in creds["users"].items()],
                 "quota": {"maxSessions": 3}},
        "templates": {"kubernetes": K8S_TEMPLATE, "docker": DOCKER_TEMPLATE}}))
    for path in (jwt_file, key_file, config):
        path.chmod(0o600)
    running = Stack(contract_dir / "api", contract_dsn, contract_redis.url, config, jwt_file, key_file, count=3)
    try:
        started = time.monotonic()
        running.start_all()  # three replicas migrate and seed one fresh database at once
        print(f"\n3 API replicas started on a fresh database (spawn to healthy) in {time.monotonic() - started:.2f} s")
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="package")
def admin(stack: Stack, creds: dict[str, Any]) -> Api:
    api = Api(stack["api-1"])
    api.token = api.login(*creds["admin"])
    return api


@pytest.fixture(scope="package")
def tokens(stack: Stack, creds: dict[str, Any]) -> dict[str, str]:
    api = Api(stack["api-2"])
    return {name: api.login(name, password) for name, password in creds["users"].items()}


@pytest.fixture(scope="package")
def k8s_agent(stack: Stack, creds: dict[str, Any], vnc_server: VncServer) -> Iterator[ContractAgent]:
    """A Kubernetes agent connected to api-1 (it falls back to api-2, api-3 when api-1 is gone)."""
    urls = [stack[n].url for n in ("api-1", "api-2", "api-3")]
    agent = ContractAgent("k8s-contract", "kubernetes", urls, creds["agentKey"], vnc_port=vnc_server.port,
                          heartbeat=TIMINGS["heartbeatInterval"]).start()
    yield agent
    agent.stop()


def hub_redis(server: RedisServer) -> Any:
    import redis

    return redis.Redis(host=server.host, port=server.port, db=1, socket_timeout=2, decode_responses=True)
