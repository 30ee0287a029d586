"""PlatformKit against the local reference stack (the real thing: API replicas, agents, Redis,
PostgreSQL, the container engine and the Kubernetes API stand-in), started once for this module
by its supervisor and always stopped.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from robot.api.types import Secret

from kitcore import AssertionOperator, KitError
from PlatformKit import PlatformKit
from tests.support.stack import local_stack

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 150.0

pytestmark = [pytest.mark.slow, pytest.mark.engine]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("platformkit-stack")
    with local_stack(work, START_TIMEOUT) as topology:
        yield topology


@pytest.fixture
def kit(stack: dict[str, Any]) -> Iterator[PlatformKit]:
    lib = PlatformKit(timeout="10s")
    call(lib, "Connect To Platform", stack["api"])
    admin = stack["credentials"]["admin"]
    call(lib, "Log In As", admin["username"], Secret(admin["password"]))
    yield lib
    lib.cleanup.run_all()
    call(lib, "Close All Platform Connections")


def call(lib: PlatformKit, name: str, *args: Any, **kwargs: Any) -> Any:
    values = [AssertionOperator[a] if a in ("==", "!=", "contains") else a for a in args]
    return lib.run_keyword(name, values, kwargs)


def new_user(lib: PlatformKit, name: str) -> str:
    username = f"{name}-{os.urandom(3).hex()}"
    password = Secret(os.urandom(12).hex())
    call(lib, "Create User", username, password)
    call(lib, "Log In As", username, password)
    call(lib, "As User", "admin")
    return username


def template_for(lib: PlatformKit, platform: str) -> str:
    names = [t["name"] for t in call(lib, "Get Templates") if t.get("platform") == platform]
    assert names, f"no {platform} template in the catalog"
    return names[0]


def test_every_replica_is_healthy_and_agrees_on_the_agents(kit: PlatformKit, stack: dict[str, Any]) -> None:
    names = call(kit, "Get Platform Replica Names")
    assert names == [a["name"] for a in stack["api"]]
    for replica in names:
        assert call(kit, "Get API Health", replica, "==", "healthy", timeout="20s") == "healthy"
    for platform in ("kubernetes", "docker"):
        agent = stack["agents"][platform]["agentId"]
        for replica in names:
            assert call(kit, "Get Agent Status", agent, "==", "online", timeout="30s", replica=replica) == "online"
    assert call(kit, "Get Agent Ids", "contains", stack["agents"]["docker"]["agentId"], status="online")


def test_session_round_trip_through_different_replicas(kit: PlatformKit) -> None:
    user = new_user(kit, "pk")
    template = template_for(kit, "kubernetes")
    name = call(kit, "Create Session From Template", template, platform="kubernetes", replica="api-2", as_user=user)
    assert name.startswith(f"{user}-{template}-")
    call(kit, "Wait Until Session Is", name, "running", timeout="90s", replica="api-3", as_user=user)
    call(kit, "Session Field Should Be", name, "platform", "==", "kubernetes")
    call(kit, "Session Field Should Be", name, "status.phase", "==", "Running")
    assert call(kit, "Get VNC Access Status", name, as_user=user, replica="api-1") == 101
    assert call(kit, "Hibernate Session", name, as_user=user).startswith("cmd-")
    call(kit, "Wait Until Session Is", name, "hibernated", timeout="60s")
    assert call(kit, "Get VNC Access Status", name, as_user=user) == 409
    call(kit, "Wake Session", name, replica="api-3", as_user=user)
    call(kit, "Wait Until Session Is", name, "running", timeout="60s")
    call(kit, "Terminate Session", name, as_user=user)
    call(kit, "Wait Until Session Is", name, "terminated", timeout="60s")
    assert name in call(kit, "List Session Names", state="terminated")


def test_ownership_quota_and_refusals(kit: PlatformKit) -> None:
    owner = new_user(kit, "own")
    other = new_user(kit, "oth")
    template = template_for(kit, "docker")
    call(kit, "Set User Quota", owner, max_sessions=1)
    assert call(kit, "Get User Quota", owner, "==", 1, field="maxSessions") == 1
    name = call(kit, "Create Session From Template", template, platform="docker", as_user=owner)
    refused = call(kit, "Create Session From Template", template, platform="docker", as_user=owner, expect_status=403)
    assert refused["error"] == "Quota exceeded"
    call(kit, "Wait Until Session Is", name, "running", timeout="90s")
    call(kit, "Terminate Session", name, as_user=other, expect_status=403)
    assert call(kit, "Get VNC Access Status", name, as_user=other) == 403
    assert call(kit, "Get VNC Access Status", name, with_token=False) == 401
    assert call(kit, "List Session Names", as_user=other) == []
    with pytest.raises(KitError, match=r"404.*Template not found"):
        call(kit, "Create Session From Template", "no-such-template", as_user=owner)
    with pytest.raises(KitError, match=r"404"):
        call(kit, "Get Session", f"{owner}-{template}-00000000")


def test_listener_terminates_what_a_test_left(kit: PlatformKit, stack: dict[str, Any]) -> None:
    user = new_user(kit, "left")
    name = call(kit, "Create Session From Template", template_for(kit, "kubernetes"), as_user=user)
    kit.cleanup.run_all()
    state = call(kit, "Get Session State", name, "==", "terminated", timeout="60s")
    assert state == "terminated"


def test_token_is_accepted_by_every_replica(kit: PlatformKit, stack: dict[str, Any]) -> None:
    user = new_user(kit, "tok")
    token = call(kit, "Get Access Token", user)
    for api in stack["api"]:
        answer = requests.get(f"{api['url']}/api/v1/sessions", headers={"Authorization": f"Bearer {token.value}"},
                              timeout=10)
        assert answer.status_code == 200, api
