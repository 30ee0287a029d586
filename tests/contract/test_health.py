"""Health and auth (docs/contract.md §1): every replica answers, tokens are valid everywhere."""

from __future__ import annotations

from typing import Any

from tests.contract.stack import Api, Stack


def test_health_names_each_replica(stack: Stack) -> None:
    for name, replica in stack.replicas.items():
        body = Api(replica).call("GET", "/health").json()
        assert body["status"] == "healthy"
        assert body["service"] == "streamspace-api"
        assert body["pod"] == name


def test_login_answers_token_expiry_and_user(stack: Stack, creds: dict[str, Any]) -> None:
    response = Api(stack["api-1"]).call("POST", "/api/v1/auth/login",
                                        {"username": "alice", "password": creds["users"]["alice"]})
    assert response.status_code == 200
    body = response.json()
    assert body["token"].count(".") == 2
    assert body["expiresAt"].endswith("Z")
    assert set(body["user"]) >= {"id", "username", "email", "fullName", "role", "active", "createdAt"}
    assert body["user"]["username"] == "alice" and body["user"]["role"] == "user"
