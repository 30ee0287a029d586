"""Users and quotas (admin; a user may read their own quota)."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import psycopg
from aiohttp import web

from environments.local.platform.api.auth import ROLES, identify, require_admin
from environments.local.platform.api.errors import ApiError, bad_request, json_body
from environments.local.platform.api.views import quota_json, user_json
from environments.local.platform.common.passwords import hash_password

USERNAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")
QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


async def list_users(request: web.Request) -> web.Response:
    require_admin(request)
    rows = await request.app["state"].pool.fetch("SELECT * FROM users ORDER BY created_at, username")
    return web.json_response({"users": [user_json(r) for r in rows], "total": len(rows)})


async def create_user(request: web.Request) -> web.Response:
    require_admin(request)
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    role = body.get("role", "user")
    if not isinstance(username, str) or not USERNAME.match(username):
        raise bad_request("username must be 1-32 lowercase letters, digits or '-' (it is part of session names)")
    if not isinstance(password, str) or len(password) < 8:
        raise bad_request("password must be a string of at least 8 characters")
    if role not in ROLES:
        raise bad_request(f"role must be one of {', '.join(ROLES)}")
    email = body.get("email") or f"{username}@streamspace.local"
    loop = asyncio.get_running_loop()
    hashed = await loop.run_in_executor(None, hash_password, password)
    pool = request.app["state"].pool
    try:
        async with pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(
                "INSERT INTO users (id, username, email, full_name, role, password_hash) "
                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
                (str(uuid.uuid4()), username, email, str(body.get("fullName", "")), role, hashed))
            user = await cursor.fetchone()
            await conn.execute("INSERT INTO user_quotas (user_id) VALUES (%s)", (user["id"],))
    except psycopg.errors.UniqueViolation:
        raise ApiError(409, "User already exists", f"a user named '{username}' or with that email exists") from None
    return web.json_response(user_json(user), status=201)


async def _find_user(request: web.Request) -> dict[str, Any]:
    key = request.match_info["id"]
    user = await request.app["state"].pool.fetchone("SELECT * FROM users WHERE id = %s OR username = %s", (key, key))
    if user is None:
        raise ApiError(404, "User not found", f"no user with id or name '{key}'")
    return user


async def get_quota(request: web.Request) -> web.Response:
    who = identify(request)
    user = await _find_user(request)
    if not who.is_admin and who.user_id != user["id"]:
        raise ApiError(403, "Forbidden", "you can read only your own quota")
    row = await request.app["state"].pool.fetchone(
        "INSERT INTO user_quotas (user_id) VALUES (%s) ON CONFLICT (user_id) DO UPDATE SET user_id = EXCLUDED.user_id "
        "RETURNING *", (user["id"],))
    return web.json_response(quota_json(row))


async def put_quota(request: web.Request) -> web.Response:
    require_admin(request)
    user = await _find_user(request)
    body = await json_body(request)
    max_sessions = body.get("maxSessions")
    if max_sessions is not None and (not isinstance(max_sessions, int) or isinstance(max_sessions, bool)
                                     or max_sessions < 0):
        raise bad_request("maxSessions must be a whole number >= 0")
    for key in ("maxCpu", "maxMemory"):
        if body.get(key) is not None and not (isinstance(body[key], str) and QUANTITY.match(body[key])):
            raise bad_request(f"{key} must be a quantity such as '4000m' or '8Gi'")
    row = await request.app["state"].pool.fetchone(
        "INSERT INTO user_quotas (user_id, max_sessions, max_cpu, max_memory) "
        "VALUES (%(u)s, COALESCE(%(s)s, 5), COALESCE(%(c)s, '4000m'), COALESCE(%(m)s, '8Gi')) "
        "ON CONFLICT (user_id) DO UPDATE SET max_sessions = COALESCE(%(s)s, user_quotas.max_sessions), "
        "max_cpu = COALESCE(%(c)s, user_quotas.max_cpu), max_memory = COALESCE(%(m)s, user_quotas.max_memory), "
        "updated_at = now() RETURNING *",
        {"u": user["id"], "s": max_sessions, "c": body.get("maxCpu"), "m": body.get("maxMemory")})
    return web.json_response(quota_json(row))


def routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/users", list_users), web.post("/api/v1/users", create_user),
            web.get("/api/v1/users/{id}/quota", get_quota), web.put("/api/v1/users/{id}/quota", put_quota)]
