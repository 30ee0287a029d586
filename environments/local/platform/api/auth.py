"""JWT HS256 with one secret shared by every replica, so a token is valid everywhere and across restarts."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from aiohttp import web

from environments.local.platform.api.errors import ApiError, bad_request, json_body
from environments.local.platform.api.views import rfc3339, user_json
from environments.local.platform.common.passwords import verify_password

ISSUER = "streamspace"
ROLES = ("user", "operator", "admin")


@dataclass(frozen=True)
class Identity:
    user_id: str
    username: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def sees_all(self) -> bool:
        """Admins and operators see and act on every session."""
        return self.role in ("admin", "operator")


def issue_token(secret: str, ttl: int, user: dict[str, Any]) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=ttl)
    claims = {"user_id": user["id"], "username": user["username"], "role": user["role"], "iss": ISSUER,
              "sub": user["id"], "iat": int(now.timestamp()), "exp": int(expires.timestamp())}
    return jwt.encode(claims, secret, algorithm="HS256"), expires


def decode_token(secret: str, token: str) -> Identity:
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER,
                            options={"require": ["exp", "user_id", "username", "role"]})
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "Unauthorized", "the token has expired; log in again") from None
    except jwt.PyJWTError:
        raise ApiError(401, "Unauthorized", "the token is not valid; log in again") from None
    if claims["role"] not in ROLES:
        raise ApiError(401, "Unauthorized", "the token carries an unknown role")
    return Identity(str(claims["user_id"]), str(claims["username"]), str(claims["role"]))


def identify(request: web.Request, allow_query: bool = False) -> Identity:
    """The caller from ``Authorization: Bearer`` (or ``?token=`` on WebSocket routes), else 401."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not token and allow_query:
        token = request.query.get("token", "")
    if not token:
        raise ApiError(401, "Unauthorized", "send 'Authorization: Bearer <token>' (log in first)")
    return decode_token(request.app["state"].jwt_secret, token)


def require_admin(request: web.Request) -> Identity:
    who = identify(request)
    if not who.is_admin:
        raise ApiError(403, "Forbidden", "this route needs the admin role")
    return who


def require_operator(request: web.Request) -> Identity:
    who = identify(request)
    if not who.sees_all:
        raise ApiError(403, "Forbidden", "this route needs the admin or operator role")
    return who


async def _answer(request: web.Request, user: dict[str, Any]) -> web.Response:
    state = request.app["state"]
    token, expires = issue_token(state.jwt_secret, state.config.token_ttl, user)
    return web.json_response({"token": token, "expiresAt": rfc3339(expires), "user": user_json(user)})


async def login(request: web.Request) -> web.Response:
    body = await json_body(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise bad_request("send {\"username\", \"password\"}")
    user = await request.app["state"].pool.fetchone("SELECT * FROM users WHERE username = %s", (username,))
    loop = asyncio.get_running_loop()
    ok = user is not None and user["active"] and await loop.run_in_executor(
        None, verify_password, password, user["password_hash"])
    if not ok:
        raise ApiError(401, "Invalid credentials")
    return await _answer(request, user)


async def refresh(request: web.Request) -> web.Response:
    body = await json_body(request)
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise bad_request("send {\"token\"}")
    who = decode_token(request.app["state"].jwt_secret, token)
    user = await request.app["state"].pool.fetchone("SELECT * FROM users WHERE id = %s", (who.user_id,))
    if user is None or not user["active"]:
        raise ApiError(401, "Unauthorized", "the token's user no longer exists or is disabled")
    return await _answer(request, user)


def routes() -> list[web.RouteDef]:
    return [web.post("/api/v1/auth/login", login), web.post("/api/v1/auth/refresh", refresh)]
