"""The stack's control API: topology and fault hooks over loopback HTTP (docs/local-stack.md)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

from environments.local.procs import free_port

if TYPE_CHECKING:
    from environments.local.stack import LocalStack

ACTIONS = ("kill", "stop", "start", "restart")


@dataclass
class ControlServer:
    runner: web.AppRunner
    url: str

    async def close(self) -> None:
        await self.runner.cleanup()


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": message}, status=status)


async def serve_control(stack: LocalStack, shutdown: asyncio.Event, host: str = "127.0.0.1") -> ControlServer:
    loop = asyncio.get_running_loop()
    lock = asyncio.Lock()

    async def topology(_: web.Request) -> web.Response:
        return web.json_response(await loop.run_in_executor(None, stack.topology))

    async def component_action(request: web.Request) -> web.Response:
        name, action = request.match_info["name"], request.match_info["action"]
        if action not in ACTIONS:
            return _error(404, "unknown action", f"known: {', '.join(ACTIONS)}")
        try:
            component = stack.component(name)
        except KeyError:
            return _error(404, "unknown component", f"known: {', '.join(stack.components)}")
        async with lock:
            try:
                if action in ("stop", "restart"):
                    await loop.run_in_executor(None, component.stop)
                if action == "kill":
                    await loop.run_in_executor(None, component.kill)
                if action in ("start", "restart"):
                    await loop.run_in_executor(None, component.start)
            except Exception as error:  # noqa: BLE001 - reported to the caller
                return _error(409, f"{action} failed", str(error))
        return web.json_response(await loop.run_in_executor(None, stack.topology))

    async def partition(request: web.Request) -> web.Response:
        body = await request.json()
        a, b = body.get("a"), body.get("b")
        known = set(stack.components) | {"kubelet"}
        for name in (a, b):
            if not name or not any(n == name or n.startswith(f"{name}-") for n in known):
                return _error(404, "unknown component", f"'{name}'; known: {', '.join(sorted(known))}")
        cut = stack.links.partition(a, b)
        if not cut:
            return _error(409, "no link", f"{a} and {b} do not talk to each other")
        return web.json_response({"partitions": stack.links.cuts()})

    async def heal(_: web.Request) -> web.Response:
        stack.links.heal()
        return web.json_response({"partitions": []})

    async def partitions(_: web.Request) -> web.Response:
        return web.json_response({"partitions": stack.links.cuts()})

    async def stop_all(_: web.Request) -> web.Response:
        shutdown.set()
        return web.json_response({"status": "stopping"})

    app = web.Application()
    app.add_routes([
        web.get("/topology", topology),
        web.post("/components/{name}/{action}", component_action),
        web.post("/partitions", partition),
        web.delete("/partitions", heal),
        web.get("/partitions", partitions),
        web.post("/shutdown", stop_all),
    ])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port(host)
    await web.TCPSite(runner, host, port).start()
    return ControlServer(runner, f"http://{host}:{port}")
