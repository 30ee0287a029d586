"""Agents: registration (bootstrap key), the agent WebSocket, and the admin view."""

from __future__ import annotations

import hmac
import logging
import re
import time
from typing import Any

from aiohttp import WSMsgType, web
from psycopg.types.json import Jsonb

from environments.local.platform.api.auth import require_operator
from environments.local.platform.api.errors import ApiError, bad_request, json_body
from environments.local.platform.api.hub import AgentConnection
from environments.local.platform.api.views import agent_json
from environments.local.platform.common.envelope import FrameError, parse_frame

KEY_FORMAT = re.compile(r"^[0-9a-fA-F]{64}$")
AGENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")
PLATFORMS = ("kubernetes", "docker")
MAX_FRAME = 64 * 1024 * 1024
log = logging.getLogger("streamspace.agents")
AGENT_SELECT = ("SELECT a.*, (SELECT count(*) FROM sessions s WHERE s.agent_id = a.agent_id "
                "AND s.state NOT IN ('terminated', 'failed')) AS active_sessions FROM agents a ")


def check_agent_key(request: web.Request) -> None:
    """401 when the header is missing or not a key; 403 when it is a key but the wrong one."""
    key = request.headers.get("X-Agent-API-Key", "").strip()
    if not key or not KEY_FORMAT.match(key):
        raise ApiError(401, "Unauthorized", "send the agent key (64 hex characters) in X-Agent-API-Key")
    if not hmac.compare_digest(key.lower(), request.app["state"].agent_key.lower()):
        raise ApiError(403, "Forbidden", "the agent key is not accepted by this Control Plane")


async def register(request: web.Request) -> web.Response:
    check_agent_key(request)
    body = await json_body(request)
    agent_id, platform = body.get("agentId"), body.get("platform")
    if not isinstance(agent_id, str) or not AGENT_ID.match(agent_id):
        raise bad_request("agentId must be 1-63 letters, digits, '.', '_' or '-'")
    if platform not in PLATFORMS:
        raise bad_request(f"platform must be one of {', '.join(PLATFORMS)}")
    capacity = body.get("capacity") if isinstance(body.get("capacity"), dict) else {}
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    pool = request.app["state"].pool
    row = await pool.fetchone(
        "INSERT INTO agents (agent_id, platform, region, status, capacity, metadata, last_heartbeat) "
        "VALUES (%s, %s, %s, 'online', %s, %s, now()) ON CONFLICT (agent_id) DO UPDATE SET "
        "platform = EXCLUDED.platform, region = EXCLUDED.region, capacity = EXCLUDED.capacity, "
        "metadata = EXCLUDED.metadata, status = 'online', last_heartbeat = now(), updated_at = now() "
        "RETURNING (xmax = 0) AS created", (agent_id, platform, str(body.get("region", "")), Jsonb(capacity),
                                           Jsonb(metadata)))
    agent = await pool.fetchone(AGENT_SELECT + "WHERE a.agent_id = %s", (agent_id,))
    pod = await request.app["state"].hub.pod_of(agent_id)
    log.info("agent %s (%s) registered", agent_id, platform)
    return web.json_response({"agent": agent_json(agent, pod)}, status=201 if row["created"] else 200)


async def connect(request: web.Request) -> web.StreamResponse:
    check_agent_key(request)
    agent_id = request.query.get("agent_id") or request.query.get("agentId") or ""
    state = request.app["state"]
    agent = await state.pool.fetchone("SELECT agent_id FROM agents WHERE agent_id = %s", (agent_id,))
    if agent is None:
        raise ApiError(404, "Agent not found", f"agent '{agent_id}' is not registered: POST /api/v1/agents/register")
    ws = web.WebSocketResponse(max_msg_size=MAX_FRAME, heartbeat=None, timeout=2.0)
    await ws.prepare(request)
    conn = AgentConnection(agent_id, ws)
    await state.pool.fetch("UPDATE agents SET status = CASE WHEN status = 'draining' THEN 'draining' ELSE 'online' "
                           "END, connected_pod = %s, last_heartbeat = now(), updated_at = now() WHERE agent_id = %s",
                           (state.name, agent_id))
    await state.hub.attach(conn)
    log.info("agent %s connected", agent_id)
    await state.commands.deliver(agent_id, reconnect=True)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                if msg.type == WSMsgType.ERROR:
                    break
                continue
            conn.last_seen = time.monotonic()
            try:
                messages = parse_frame(msg.data)
            except FrameError as error:
                log.warning("agent %s sent a bad frame: %s", agent_id, error)
                continue
            for message in messages:
                await _handle(request, agent_id, message)
    finally:
        if await state.hub.detach(conn):
            await state.pool.fetch("UPDATE agents SET status = 'offline', connected_pod = NULL, updated_at = now() "
                                   "WHERE agent_id = %s AND connected_pod = %s", (agent_id, state.name))
            log.info("agent %s disconnected: marked offline", agent_id)
    return ws


async def _handle(request: web.Request, agent_id: str, message: dict[str, Any]) -> None:
    state = request.app["state"]
    kind, payload = message["type"], message["payload"]
    try:
        if kind == "heartbeat":
            state.commands.heartbeat_soon(agent_id, payload)
        elif kind == "ack":
            await state.commands.ack(agent_id, payload)
        elif kind == "complete":
            await state.commands.complete(agent_id, payload)
        elif kind == "failed":
            await state.commands.failed(agent_id, payload)
        elif kind == "status":
            await state.commands.status(agent_id, payload)
        elif kind.startswith("vnc_"):
            await state.hub.from_agent_vnc(agent_id, message)
        else:
            log.info("agent %s sent an unknown message type %r (ignored)", agent_id, kind)
    except Exception:
        log.exception("handling %s from agent %s failed", kind, agent_id)


async def _connected_pod(request: web.Request, row: dict[str, Any]) -> str | None:
    if row["status"] == "offline":
        return None
    return await request.app["state"].hub.pod_of(row["agent_id"]) or row["connected_pod"]


async def list_agents(request: web.Request) -> web.Response:
    require_operator(request)
    platform, status = request.query.get("platform") or None, request.query.get("status") or None
    rows = await request.app["state"].pool.fetch(
        AGENT_SELECT + "WHERE (%(p)s::text IS NULL OR a.platform = %(p)s) "
        "AND (%(s)s::text IS NULL OR a.status = %(s)s) ORDER BY a.agent_id", {"p": platform, "s": status})
    agents = [agent_json(r, await _connected_pod(request, r)) for r in rows]
    return web.json_response({"agents": agents, "total": len(agents)})


async def get_agent(request: web.Request) -> web.Response:
    require_operator(request)
    agent_id = request.match_info["agentId"]
    row = await request.app["state"].pool.fetchone(AGENT_SELECT + "WHERE a.agent_id = %s", (agent_id,))
    if row is None:
        raise ApiError(404, "Agent not found", f"no agent '{agent_id}'")
    return web.json_response(agent_json(row, await _connected_pod(request, row)))


def routes() -> list[web.RouteDef]:
    return [web.post("/api/v1/agents/register", register), web.get("/api/v1/agents/connect", connect),
            web.get("/api/v1/admin/agents", list_agents), web.get("/api/v1/admin/agents/{agentId}", get_agent)]
