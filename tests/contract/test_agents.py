"""Agent registration, the agent WebSocket, the admin view and the Redis hub keys (docs/contract.md §2, §3)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
import requests
import websocket

from environments.local.redis_server import RedisServer
from tests.contract.agent import ContractAgent
from tests.contract.conftest import TIMINGS, hub_redis
from tests.contract.helpers import wait_agent
from tests.contract.stack import Api, Stack

REGISTER = "/api/v1/agents/register"


def test_register_checks_the_bootstrap_key(stack: Stack, creds: dict[str, Any]) -> None:
    api = Api(stack["api-2"])
    body = {"agentId": "docker-reg", "platform": "docker", "region": "local", "capacity": {"maxSessions": 5},
            "metadata": {"v": 1}}
    missing = api.call("POST", REGISTER, body)
    assert missing.status_code == 401
    assert api.call("POST", REGISTER, body, headers={"X-Agent-API-Key": "short"}).status_code == 401
    wrong = api.call("POST", REGISTER, body, headers={"X-Agent-API-Key": secrets.token_hex(32)})
    assert wrong.status_code == 403
    key = {"X-Agent-API-Key": creds["agentKey"]}
    first = api.call("POST", REGISTER, body, headers=key)
    assert first.status_code == 201, first.text
    agent = first.json()["agent"]
    assert agent["agentId"] == "docker-reg" and agent["platform"] == "docker" and agent["region"] == "local"
    assert api.call("POST", REGISTER, body, headers=key).status_code == 200
    assert api.call("POST", REGISTER, {**body, "platform": "vms"}, headers=key).status_code == 400


def test_connect_checks_the_key_and_the_registration(stack: Stack, creds: dict[str, Any]) -> None:
    url = f"{stack['api-1'].ws_url}/api/v1/agents/connect?agent_id=never-registered"
    with pytest.raises(websocket.WebSocketBadStatusException) as missing:
        websocket.create_connection(url, timeout=5)
    assert missing.value.status_code == 401
    with pytest.raises(websocket.WebSocketBadStatusException) as wrong:
        websocket.create_connection(url, timeout=5, header=[f"X-Agent-API-Key: {secrets.token_hex(32)}"])
    assert wrong.value.status_code == 403
    with pytest.raises(websocket.WebSocketBadStatusException) as unknown:
        websocket.create_connection(url, timeout=5, header=[f"X-Agent-API-Key: {creds['agentKey']}"])
    assert unknown.value.status_code == 404


def test_admin_view_shows_the_connected_pod(admin: Api, k8s_agent: ContractAgent, tokens: dict[str, str]) -> None:
    agent = wait_agent(admin, "k8s-contract", lambda a: a["status"] == "online" and a["connectedPod"] == "api-1")
    assert set(agent) >= {"agentId", "platform", "region", "status", "capacity", "lastHeartbeat", "metadata",
                          "connectedPod"}
    assert agent["platform"] == "kubernetes" and agent["lastHeartbeat"].endswith("Z")
    listed = admin.call("GET", "/api/v1/admin/agents", platform="kubernetes", status="online").json()
    assert "k8s-contract" in {a["agentId"] for a in listed["agents"]} and listed["total"] == len(listed["agents"])
    docker_only = admin.call("GET", "/api/v1/admin/agents", platform="docker").json()
    assert "k8s-contract" not in {a["agentId"] for a in docker_only["agents"]}
    assert admin.call("GET", "/api/v1/admin/agents/nope").status_code == 404
    assert admin.as_user(tokens["alice"]).call("GET", "/api/v1/admin/agents").status_code == 403


def test_hub_keys_live_in_redis_db_1_with_a_ttl(contract_redis: RedisServer, k8s_agent: ContractAgent) -> None:
    client = hub_redis(contract_redis)
    assert client.get("agent:k8s-contract:pod") == "api-1"
    assert client.get("agent:k8s-contract:connected") == "true"
    assert 0 < client.ttl("agent:k8s-contract:pod") <= 300


def test_disconnect_marks_offline_and_removes_keys(stack: Stack, admin: Api, creds: dict[str, Any],
                                                   contract_redis: RedisServer) -> None:
    agent = ContractAgent("docker-bye", "docker", [stack["api-3"].url], creds["agentKey"]).start()
    try:
        wait_agent(admin, "docker-bye", lambda a: a["status"] == "online" and a["connectedPod"] == "api-3")
        assert hub_redis(contract_redis).get("agent:docker-bye:pod") == "api-3"
    finally:
        agent.stop()
    gone = wait_agent(admin, "docker-bye", lambda a: a["status"] == "offline", timeout=5)
    assert gone["connectedPod"] is None
    assert hub_redis(contract_redis).exists("agent:docker-bye:pod", "agent:docker-bye:connected") == 0


def test_silent_agent_is_marked_offline_after_stale_after(stack: Stack, admin: Api, creds: dict[str, Any]) -> None:
    agent = ContractAgent("docker-silent", "docker", [stack["api-2"].url], creds["agentKey"]).start()
    try:
        wait_agent(admin, "docker-silent", lambda a: a["status"] == "online")
        agent.heartbeats_paused = True
        agent._stop = True  # once the replica drops it, it stays away
        waited = ContractAgent.wait(
            lambda: admin.call("GET", "/api/v1/admin/agents/docker-silent").json()["status"] == "offline",
            TIMINGS["staleAfter"] * 4, "the silent agent was not marked offline")
        assert waited >= TIMINGS["staleAfter"] * 0.5
    finally:
        agent.stop()


def test_health_route_is_open(stack: Stack) -> None:
    assert requests.get(f"{stack['api-3'].url}/health", timeout=5).json()["pod"] == "api-3"
