"""A replica with Redis down at start runs alone (single-replica mode), and a command whose agent is
gone for good is failed, never dropped (docs/contract.md §2, §3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from environments.local.procs import free_port
from tests.contract.conftest import DOCKER_TEMPLATE
from tests.contract.helpers import wait_state
from tests.contract.stack import Api, Replica, Stack

EXPIRE = 2.0


@pytest.fixture
def lone_replica(stack: Stack, contract_dir: Path) -> Iterator[Replica]:
    """api-9: Redis URL on a port nobody listens on, and a short commandExpireAfter."""
    config = json.loads(stack.config.read_text())
    config["timings"] = {**config["timings"], "commandExpireAfter": EXPIRE}
    path = contract_dir / "api-9.json"
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    lone = Stack(contract_dir / "api-9", stack.dsn, f"redis://127.0.2.9:{free_port('127.0.2.9')}/0", path,
                 stack.jwt_file, stack.key_file, count=0)
    lone.replicas["api-9"] = Replica("api-9", "127.0.1.9", free_port("127.0.1.9"))
    try:
        lone.start("api-9")
        lone.wait_healthy("api-9")
        yield lone["api-9"]
    finally:
        lone.stop_all()


def test_redis_down_at_start_runs_alone(lone_replica: Replica, creds: dict[str, Any]) -> None:
    api = Api(lone_replica)
    health = api.call("GET", "/health").json()
    assert health["pod"] == "api-9" and health["redis"] == "unavailable"
    api.token = api.login(*creds["admin"])
    assert api.call("GET", "/api/v1/sessions").status_code == 200


def test_command_of_an_agent_gone_for_good_is_failed(lone_replica: Replica, admin: Api,
                                                     creds: dict[str, Any]) -> None:
    key = {"X-Agent-API-Key": creds["agentKey"]}
    registered = admin.call("POST", "/api/v1/agents/register", {"agentId": "docker-gone", "platform": "docker"},
                            headers=key)
    assert registered.status_code in (200, 201)
    session = admin.call("POST", "/api/v1/sessions", {"template": DOCKER_TEMPLATE, "user": "bob"})
    assert session.status_code == 202, session.text  # registered agents are online until staleAfter
    failed = wait_state(admin, session.json()["name"], "failed", timeout=15)
    assert "offline" in failed["status"]["message"]
