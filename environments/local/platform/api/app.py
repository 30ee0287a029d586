"""The aiohttp application of one API replica: routes, JSON errors, start-up and shutdown."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import psycopg
from aiohttp import web

from environments.local.platform.api import agents, auth, sessions, templates, users, vnc
from environments.local.platform.api.commands import Commands
from environments.local.platform.api.errors import ApiError
from environments.local.platform.api.hub import Hub
from environments.local.platform.common.config import StackConfig
from environments.local.platform.db import Pool

log = logging.getLogger("streamspace.api")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ReplicaState:
    name: str
    config: StackConfig
    pool: Pool
    hub: Hub
    commands: Commands
    jwt_secret: str
    agent_key: str


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPException as error:
        if error.status < 400:
            raise
        return web.json_response({"error": error.reason, "message": f"{request.method} {request.path}"},
                                 status=error.status)
    except psycopg.OperationalError as error:
        log.warning("database unavailable for %s %s: %s", request.method, request.path, error)
        return web.json_response({"error": "Database unavailable", "message": "PostgreSQL does not answer; retry"},
                                 status=503)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return web.json_response({"error": "Internal error", "message": "see the API replica's log"}, status=500)


async def health(request: web.Request) -> web.Response:
    state: ReplicaState = request.app["state"]
    return web.json_response({"status": "healthy", "service": "streamspace-api", "pod": state.name,
                              "redis": "connected" if state.hub.redis_ok else "unavailable",
                              "agents": sorted(state.hub.local)})


def create_app(name: str, config: StackConfig, dsn: str, redis_url: str | None, jwt_secret: str,
               agent_key: str) -> web.Application:
    app = web.Application(middlewares=[json_errors], client_max_size=8 * 1024 * 1024)
    pool = Pool(dsn, query_timeout=config.timings.database_timeout)
    hub = Hub(name, redis_url, config)
    commands = Commands(name, pool, hub, config)
    app["state"] = ReplicaState(name, config, pool, hub, commands, jwt_secret, agent_key)
    app.router.add_get("/health", health)
    app.router.add_get("/api/v1/health", health)
    for module in (auth, users, sessions, templates, agents, vnc):
        app.add_routes(module.routes())
    app.on_startup.append(_startup)
    app.on_shutdown.append(_shutdown)
    app.on_cleanup.append(_cleanup)
    return app


async def _startup(app: web.Application) -> None:
    state: ReplicaState = app["state"]
    # a replica that was SIGKILLed left its agents marked as held here: they are not
    await state.pool.fetch("UPDATE agents SET status = 'offline', connected_pod = NULL WHERE connected_pod = %s",
                           (state.name,))
    await state.hub.start()
    state.commands.start()
    log.info("%s started (Redis %s)", state.name, "configured" if state.hub.redis_url else "not configured")


async def _shutdown(app: web.Application) -> None:
    state: ReplicaState = app["state"]
    await state.commands.stop()
    with contextlib.suppress(Exception):
        await state.pool.fetch("UPDATE agents SET status = 'offline', connected_pod = NULL WHERE connected_pod = %s",
                               (state.name,))
    for stream in list(state.hub.browsers.values()):
        with contextlib.suppress(Exception):
            await stream.ws.close(code=1001, message=b"API replica shutting down")
    await state.hub.stop()


async def _cleanup(app: web.Application) -> None:
    await app["state"].pool.close()
