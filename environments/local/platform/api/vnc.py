"""The browser VNC proxy: ``GET /api/v1/vnc/{sessionId}?token=`` (WebSocket, subprotocol ``binary``).

Checks in order: the session exists (404), the caller owns it or is admin/operator (403), it is
``running`` (409), its agent is connected to some replica (503). Browser frames are binary RFB bytes
both ways; towards the agent they travel base64 in ``vnc_data`` with one ``streamId`` per browser
connection (``vnc_open`` ... ``vnc_close``). When the agent's WebSocket is on another replica, the
messages go over Redis (``pod:<podName>:vnc``; see :mod:`.hub` for the message shape).
"""

from __future__ import annotations

import base64
import logging
import uuid

from aiohttp import WSMsgType, web

from environments.local.platform.api.auth import identify
from environments.local.platform.api.errors import ApiError
from environments.local.platform.api.hub import BrowserStream

log = logging.getLogger("streamspace.vnc")
MAX_FRAME = 64 * 1024 * 1024


async def vnc(request: web.Request) -> web.StreamResponse:
    who = identify(request, allow_query=True)
    state = request.app["state"]
    session_id = request.match_info["sessionId"]
    session = await state.pool.fetchone("SELECT * FROM sessions WHERE id = %s", (session_id,))
    if session is None:
        raise ApiError(404, "Session not found", f"no session named '{session_id}'")
    if not who.sees_all and session["user_id"] != who.user_id:
        raise ApiError(403, "Forbidden", "this session belongs to another user")
    if session["state"] != "running":
        raise ApiError(409, "Session not running", f"session '{session_id}' is {session['state']}; wake or start it")
    agent_id = session["agent_id"]
    via = None
    if not agent_id or agent_id not in state.hub.local:
        via = await state.hub.pod_of(agent_id) if agent_id else None
        if via is None:
            raise ApiError(503, "Agent not connected",
                           f"the agent of session '{session_id}' is not connected to any API replica")
    ws = web.WebSocketResponse(protocols=("binary",), max_msg_size=MAX_FRAME, heartbeat=None, timeout=2.0)
    await ws.prepare(request)
    stream = BrowserStream(uuid.uuid4().hex, session_id, agent_id, ws, via)
    await state.pool.fetch("UPDATE sessions SET active_connections = active_connections + 1 WHERE id = %s",
                           (session_id,))
    try:
        if not await state.hub.open_stream(stream):
            await ws.close(code=1011, message=b"the agent could not be reached")
            return ws
        log.info("VNC stream %s for %s opened (agent %s via %s)", stream.stream_id, session_id, agent_id,
                 via or "this replica")
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                data = msg.data
            elif msg.type == WSMsgType.TEXT:
                data = msg.data.encode("latin-1", errors="replace")
            else:
                break
            await state.hub.to_agent(stream, "vnc_data", {"sessionId": session_id, "streamId": stream.stream_id,
                                                          "data": base64.b64encode(data).decode()})
    finally:
        await state.hub.close_stream(stream)
        await state.pool.fetch("UPDATE sessions SET active_connections = GREATEST(active_connections - 1, 0) "
                               "WHERE id = %s", (session_id,))
    return ws


def routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/vnc/{sessionId}", vnc)]
