"""Templates (snake_case, as the real API answers them)."""

from __future__ import annotations

from aiohttp import web

from environments.local.platform.api.auth import identify
from environments.local.platform.api.errors import ApiError
from environments.local.platform.api.views import template_json


async def list_templates(request: web.Request) -> web.Response:
    identify(request)
    rows = await request.app["state"].pool.fetch("SELECT * FROM catalog_templates ORDER BY name")
    return web.json_response({"templates": [template_json(r) for r in rows], "total": len(rows)})


async def get_template(request: web.Request) -> web.Response:
    identify(request)
    name = request.match_info["name"]
    row = await request.app["state"].pool.fetchone("SELECT * FROM catalog_templates WHERE name = %s", (name,))
    if row is None:
        raise ApiError(404, "Template not found", f"no template named '{name}'")
    return web.json_response(template_json(row))


def routes() -> list[web.RouteDef]:
    return [web.get("/api/v1/templates", list_templates), web.get("/api/v1/templates/{name}", get_template)]
