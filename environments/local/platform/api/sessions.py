"""Sessions: create (202), list with filters, get, delete/hibernate/wake (202 with a commandId)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from aiohttp import web

from environments.local.platform.api.auth import Identity, identify
from environments.local.platform.api.commands import STATES
from environments.local.platform.api.errors import ApiError, bad_request, json_body
from environments.local.platform.api.views import session_json

PLATFORMS = ("kubernetes", "docker")
QUANTITY = re.compile(r"^\d+(\.\d+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
SELECT = ("SELECT s.*, u.username FROM sessions s JOIN users u ON u.id = s.user_id ")
ACTIVE = "s.state NOT IN ('terminated', 'failed')"


def _check_owner(who: Identity, session: dict[str, Any]) -> None:
    if not who.sees_all and session["user_id"] != who.user_id:
        raise ApiError(403, "Forbidden", "this session belongs to another user")


async def _load(request: web.Request, who: Identity) -> dict[str, Any]:
    name = request.match_info["id"]
    row = await request.app["state"].pool.fetchone(SELECT + "WHERE s.id = %s", (name,))
    if row is None:
        raise ApiError(404, "Session not found", f"no session named '{name}'")
    _check_owner(who, row)
    return row


async def list_sessions(request: web.Request) -> web.Response:
    who = identify(request)
    user, platform, state = (request.query.get(k) or None for k in ("user", "platform", "state"))
    if platform and platform not in PLATFORMS:
        raise bad_request(f"platform must be one of {', '.join(PLATFORMS)}")
    if state and state not in STATES:
        raise bad_request(f"state must be one of {', '.join(STATES)}")
    if not who.sees_all:
        if user and user != who.username:
            raise ApiError(403, "Forbidden", "a user can list only their own sessions")
        user = who.username
    rows = await request.app["state"].pool.fetch(
        SELECT + "WHERE (%(user)s::text IS NULL OR u.username = %(user)s) "
        "AND (%(platform)s::text IS NULL OR s.platform = %(platform)s) "
        "AND (CASE WHEN %(state)s::text IS NULL THEN s.state <> 'terminated' ELSE s.state = %(state)s END) "
        "ORDER BY s.created_at, s.id", {"user": user, "platform": platform, "state": state})
    return web.json_response({"sessions": [session_json(r) for r in rows], "total": len(rows)})


async def get_session(request: web.Request) -> web.Response:
    who = identify(request)
    return web.json_response(session_json(await _load(request, who)))


def _resources(body: dict[str, Any], template: dict[str, Any]) -> tuple[str, str]:
    defaults = ((template["manifest"] or {}).get("spec") or {}).get("defaultResources") or {}
    resources = body.get("resources") or {}
    if not isinstance(resources, dict):
        raise bad_request("resources must be an object {\"memory\", \"cpu\"}")
    memory = resources.get("memory") or defaults.get("memory") or "512Mi"
    cpu = resources.get("cpu") or defaults.get("cpu") or "500m"
    for key, value in (("memory", memory), ("cpu", cpu)):
        if not isinstance(value, str) or not QUANTITY.match(value):
            raise bad_request(f"resources.{key} must be a quantity such as '512Mi' or '500m'")
    return memory, cpu


async def create_session(request: web.Request) -> web.Response:
    who = identify(request)
    body = await json_body(request)
    state = request.app["state"]
    username = body.get("user") or who.username
    template_name = body.get("template")
    platform = body.get("platform") or None
    if not isinstance(username, str) or not isinstance(template_name, str) or not template_name:
        raise bad_request("send {\"user\", \"template\"} (template is required)")
    if platform is not None and platform not in PLATFORMS:
        raise bad_request(f"platform must be one of {', '.join(PLATFORMS)}")
    tags = body.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise bad_request("tags must be a list of strings")
    persistent = body.get("persistentHome", False)
    if not isinstance(persistent, bool):
        raise bad_request("persistentHome must be true or false")
    if not who.sees_all and username != who.username:
        raise ApiError(403, "Forbidden", "a user can create sessions only for themselves")
    pool = state.pool
    user = await pool.fetchone("SELECT * FROM users WHERE username = %s", (username,))
    if user is None:
        raise bad_request(f"no user named '{username}'")
    template = await pool.fetchone("SELECT * FROM catalog_templates WHERE name = %s", (template_name,))
    if template is None:
        raise ApiError(404, "Template not found", f"no template named '{template_name}'")
    memory, cpu = _resources(body, template)
    platform = platform or template["platform"]
    session_id = f"{username}-{template_name}-{secrets.token_hex(4)}"
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('quota:' || %s))", (user["id"],))
        cursor = await conn.execute(
            "SELECT q.max_sessions, (SELECT count(*) FROM sessions s WHERE s.user_id = %(u)s AND "  # noqa: S608
            + ACTIVE + ") AS used FROM users LEFT JOIN user_quotas q ON q.user_id = users.id WHERE users.id = %(u)s",
            {"u": user["id"]})
        quota = await cursor.fetchone()
        if quota["max_sessions"] is not None and quota["used"] >= quota["max_sessions"]:
            raise ApiError(403, "Quota exceeded", f"user '{username}' already has {quota['used']} active sessions "
                           f"(maxSessions {quota['max_sessions']}); terminate one or raise the quota")
        cursor = await conn.execute(
            "SELECT a.agent_id, a.platform, (SELECT count(*) FROM sessions s WHERE s.agent_id = a.agent_id AND "  # noqa: S608
            + ACTIVE + ") AS active FROM agents a WHERE a.status = 'online' "
            "AND (%(p)s::text IS NULL OR a.platform = %(p)s) ORDER BY active, a.agent_id LIMIT 1", {"p": platform})
        agent = await cursor.fetchone()
        if agent is None:
            raise ApiError(503, "No agents available",
                           f"no online {platform or 'platform'} agent; start one or choose another platform")
        cursor = await conn.execute(
            "INSERT INTO sessions (id, user_id, template_name, state, namespace, memory, cpu, persistent_home, tags, "
            "platform, agent_id) VALUES (%s, %s, %s, 'pending', %s, %s, %s, %s, %s, %s, %s) RETURNING *",
            (session_id, user["id"], template_name, state.config.namespace, memory, cpu, persistent, tags,
             agent["platform"], agent["agent_id"]))
        row = await cursor.fetchone()
        payload = {"sessionId": session_id, "user": username, "template": template_name,
                   "templateManifest": template["manifest"], "namespace": state.config.namespace,
                   "memory": memory, "cpu": cpu, "persistentHome": persistent, "tags": tags,
                   "platform": agent["platform"]}
        command_id = await state.commands.create(conn, agent["agent_id"], session_id, "start_session", payload)
    await state.commands.dispatch(agent["agent_id"], command_id)
    row["username"] = username
    body = session_json(row)
    body["commandId"] = command_id
    return web.json_response(body, status=202)


async def _transition(request: web.Request, action: str, allowed: tuple[str, ...], target: str,
                      message: str) -> web.Response:
    who = identify(request)
    session = await _load(request, who)
    state = request.app["state"]
    async with state.pool.connection() as conn, conn.transaction():
        cursor = await conn.execute("UPDATE sessions SET state = %s, updated_at = now(), status_message = NULL "
                                    "WHERE id = %s AND state = ANY(%s) RETURNING *",
                                    (target, session["id"], list(allowed)))
        row = await cursor.fetchone()
        if row is None:
            cursor = await conn.execute("SELECT state FROM sessions WHERE id = %s", (session["id"],))
            current = await cursor.fetchone()
            now = current["state"] if current else "gone"
            raise ApiError(409, "Invalid session state",
                           f"cannot {action.split('_')[0]} session '{session['id']}' in state '{now}'")
        command_id = None
        if row["agent_id"]:
            command_id = await state.commands.create(conn, row["agent_id"], row["id"], action,
                                                     {"sessionId": row["id"], "namespace": row["namespace"]})
        elif action == "stop_session":  # no agent ever ran it (a v1 row): nothing to stop
            await conn.execute("UPDATE sessions SET state = 'terminated' WHERE id = %s", (row["id"],))
    if command_id is not None:
        await state.commands.dispatch(row["agent_id"], command_id)
    return web.json_response({"name": row["id"], "commandId": command_id, "message": message}, status=202)


async def delete_session(request: web.Request) -> web.Response:
    allowed = tuple(s for s in STATES if s not in ("terminating", "terminated"))
    return await _transition(request, "stop_session", allowed, "terminating", "Session termination requested")


async def hibernate_session(request: web.Request) -> web.Response:
    return await _transition(request, "hibernate_session", ("running",), "hibernating", "Session hibernation requested")


async def wake_session(request: web.Request) -> web.Response:
    return await _transition(request, "wake_session", ("hibernated",), "waking", "Session wake requested")


def routes() -> list[web.RouteDef]:
    return [web.post("/api/v1/sessions", create_session), web.get("/api/v1/sessions", list_sessions),
            web.get("/api/v1/sessions/{id}", get_session), web.delete("/api/v1/sessions/{id}", delete_session),
            web.put("/api/v1/sessions/{id}/hibernate", hibernate_session),
            web.put("/api/v1/sessions/{id}/wake", wake_session)]

