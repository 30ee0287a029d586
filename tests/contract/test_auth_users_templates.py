"""Auth, users, quotas and templates (docs/contract.md §1)."""

from __future__ import annotations

from typing import Any

from tests.contract.conftest import DOCKER_TEMPLATE, K8S_TEMPLATE, USERS
from tests.contract.stack import Api, Stack


def test_wrong_password_and_unknown_user_are_invalid_credentials(stack: Stack) -> None:
    api = Api(stack["api-3"])
    for body in ({"username": "alice", "password": "not-her-password"}, {"username": "nobody", "password": "x"}):
        response = api.call("POST", "/api/v1/auth/login", body)
        assert response.status_code == 401
        assert response.json()["error"] == "Invalid credentials"
    assert api.call("POST", "/api/v1/auth/login", {"username": "alice"}).status_code == 400


def test_refresh_gives_a_new_token_and_refuses_garbage(stack: Stack, tokens: dict[str, str]) -> None:
    api = Api(stack["api-1"])
    response = api.call("POST", "/api/v1/auth/refresh", {"token": tokens["bob"]})
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "bob"
    assert api.call("GET", "/api/v1/sessions", token=response.json()["token"]).status_code == 200
    assert api.call("POST", "/api/v1/auth/refresh", {"token": "a.b.c"}).status_code == 401


def test_token_from_one_replica_is_valid_on_every_replica(stack: Stack, tokens: dict[str, str]) -> None:
    for replica in stack.replicas.values():
        assert Api(replica, tokens["alice"]).call("GET", "/api/v1/sessions").status_code == 200


def test_routes_need_a_valid_token(stack: Stack, tokens: dict[str, str]) -> None:
    api = Api(stack["api-2"])
    missing = api.call("GET", "/api/v1/sessions")
    assert missing.status_code == 401 and missing.json()["error"] == "Unauthorized"
    assert api.call("GET", "/api/v1/templates", token="x.y.z").status_code == 401
    header, claims, signature = tokens["alice"].split(".")
    forged = ".".join((header, claims, signature[::-1]))
    assert api.call("GET", "/api/v1/sessions", token=forged).status_code == 401


def test_admin_lists_the_seeded_users(admin: Api) -> None:
    body = admin.call("GET", "/api/v1/users").json()
    names = {u["username"]: u for u in body["users"]}
    assert body["total"] == len(body["users"])
    assert names["admin"]["role"] == "admin"
    for name in USERS:
        assert names[name]["role"] == "user" and names[name]["active"] is True


def test_users_routes_are_for_admins(admin: Api, tokens: dict[str, str]) -> None:
    user = admin.as_user(tokens["alice"])
    response = user.call("GET", "/api/v1/users")
    assert response.status_code == 403 and response.json()["error"] == "Forbidden"
    assert user.call("POST", "/api/v1/users", {"username": "mallory", "password": "12345678"}).status_code == 403


def test_create_user_then_duplicate_is_a_conflict(admin: Api) -> None:
    body = {"username": "frank", "email": "frank@example.test", "fullName": "Frank", "password": "frank-pass-1",
            "role": "operator"}
    created = admin.call("POST", "/api/v1/users", body)
    assert created.status_code == 201
    assert created.json()["role"] == "operator" and created.json()["fullName"] == "Frank"
    assert "password" not in created.json() and "password_hash" not in created.json()
    assert admin.call("POST", "/api/v1/users", body).status_code == 409
    assert admin.call("POST", "/api/v1/users", {**body, "username": "gina", "role": "root"}).status_code == 400
    assert admin.login("frank", "frank-pass-1")


def test_quota_read_own_set_by_admin(admin: Api, tokens: dict[str, str]) -> None:
    erin = admin.as_user(tokens["erin"])
    own = erin.call("GET", "/api/v1/users/erin/quota")
    assert own.status_code == 200
    assert own.json()["maxSessions"] == 3 and own.json()["maxCpu"] == "4000m" and own.json()["maxMemory"] == "8Gi"
    assert erin.call("GET", "/api/v1/users/alice/quota").status_code == 403
    assert erin.call("PUT", "/api/v1/users/erin/quota", {"maxSessions": 99}).status_code == 403
    user_id = own.json()["userId"]
    changed = admin.call("PUT", f"/api/v1/users/{user_id}/quota", {"maxSessions": 10, "maxMemory": "16Gi"})
    assert changed.status_code == 200
    assert changed.json() == {"userId": user_id, "maxSessions": 10, "maxCpu": "4000m", "maxMemory": "16Gi"}
    assert admin.call("PUT", "/api/v1/users/erin/quota", {"maxSessions": -1}).status_code == 400
    assert admin.call("GET", "/api/v1/users/nobody/quota").status_code == 404


def test_templates_carry_what_agents_read(stack: Stack, tokens: dict[str, str]) -> None:
    api = Api(stack["api-3"], tokens["carol"])
    body = api.call("GET", "/api/v1/templates").json()
    by_name = {t["name"]: t for t in body["templates"]}
    assert body["total"] == len(body["templates"])
    assert by_name[K8S_TEMPLATE]["platform"] == "kubernetes"
    assert by_name[DOCKER_TEMPLATE]["platform"] == "docker"
    one = api.call("GET", f"/api/v1/templates/{DOCKER_TEMPLATE}").json()
    assert set(one) >= {"id", "name", "display_name", "category", "platform", "manifest"}
    spec = one["manifest"]["spec"]
    assert spec["baseImage"] == "streamspace-session:contract"
    assert spec["vnc"] == {"enabled": True, "port": 5900}
    assert spec["ports"] == [{"name": "vnc", "containerPort": 5900}]
    assert set(spec["defaultResources"]) == {"memory", "cpu"}
    missing = api.call("GET", "/api/v1/templates/no-such-template")
    assert missing.status_code == 404 and missing.json()["error"] == "Template not found"


def test_error_bodies_are_json_with_error_and_message(stack: Stack, tokens: dict[str, str]) -> None:
    api = Api(stack["api-1"], tokens["alice"])
    response = api.call("GET", "/api/v1/no-such-route")
    assert response.status_code == 404
    body: dict[str, Any] = response.json()
    assert isinstance(body["error"], str) and isinstance(body.get("message", ""), str)
