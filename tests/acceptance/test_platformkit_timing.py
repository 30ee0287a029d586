"""Time Until Session Is: a session's transition timed to within tens of milliseconds, not a poll's tick.

A tiny server answers the contract's login and session routes; its session turns ``running`` at a moment
the test chooses, so the figure and its resolution can be checked against the truth.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from robot.api.types import Secret

from environments.local.procs import free_port
from kitcore import KitError
from PlatformKit import PlatformKit

TOKEN = "t-0123456789"


class Clock:
    """When the session becomes ``running`` (monotonic seconds; None: never) and what it is before."""

    def __init__(self) -> None:
        self.running_at: float | None = None
        self.before = "pending"


def build_app(clock: Clock) -> web.Application:
    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"token": TOKEN, "expiresAt": "2030-01-01T00:00:00Z",
                                  "user": {"id": "id-admin", "username": body["username"], "role": "admin"}})

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "healthy", "service": "api-1"})

    async def get(request: web.Request) -> web.Response:
        ready = clock.running_at is not None and time.monotonic() >= clock.running_at
        state = "running" if ready else clock.before
        return web.json_response({"name": request.match_info["name"], "user": "admin", "state": state,
                                  "status": {"phase": state.capitalize(), "message": "image not found"}})

    app = web.Application()
    app.add_routes([web.get("/health", health), web.post("/api/v1/auth/login", login),
                    web.get("/api/v1/sessions/{name}", get)])
    return app



@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Clock, str]]:
    clock = Clock()
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}
    port = free_port()

    async def start() -> None:
        runner = web.AppRunner(build_app(clock))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        holder["runner"] = runner

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    yield clock, f"http://127.0.0.1:{port}"
    asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


@pytest.fixture
def kit(served: tuple[Clock, str]) -> Iterator[PlatformKit]:
    clock, url = served
    clock.before, clock.running_at = "pending", None
    lib = PlatformKit(timeout="3s")
    lib.run_keyword("Connect To Platform", [[url]])
    lib.run_keyword("Log In As", ["admin", Secret("admin-pass-1")])
    yield lib
    lib.run_keyword("Close All Platform Connections", [])


def test_a_transition_is_timed_to_within_tens_of_milliseconds(kit: PlatformKit, served: tuple[Clock, str]) -> None:
    clock, _ = served
    start = time.monotonic()
    clock.running_at = start + 0.37  # the truth: 0.37 s after the request
    timing = kit.run_keyword("Time Until Session Is", ["s-1", "running"], {"since": start, "timeout": "5s"})
    assert 0.37 <= timing["seconds"] <= 0.37 + timing["resolution"] + 0.01
    # a 0.5 s poll would read 0.5 or 1.0 s with a resolution of 0.5 s; this one asks every few tens of
    # milliseconds (one read on a busy machine can take 0.1 s)
    assert timing["resolution"] < 0.2, f"a 0.5 s poll would read 0.5 or 1.0 s; this one is {timing}"
    assert timing["tries"] >= 5, f"the keyword asked only {timing['tries']} times in {timing['seconds']} s"
    assert timing["seconds"] - timing["resolution"] <= 0.37, "the change lies inside the interval reported"


def test_a_slow_poll_reports_a_coarse_resolution(kit: PlatformKit, served: tuple[Clock, str]) -> None:
    clock, _ = served
    start = time.monotonic()
    clock.running_at = start + 0.37
    timing = kit.run_keyword("Time Until Session Is", ["s-1", "running"],
                             {"since": start, "timeout": "5s", "poll": "0.5s"})
    assert timing["resolution"] >= 0.5, "the resolution says honestly that a 0.5 s poll cannot see finer"


def test_a_failed_session_ends_the_wait_with_the_platforms_words(kit: PlatformKit, served: tuple[Clock, str]) -> None:
    clock, _ = served
    clock.before = "failed"
    with pytest.raises(KitError, match=r"failed instead of becoming running.*image not found"):
        kit.run_keyword("Time Until Session Is", ["s-1", "running"], {"timeout": "2s"})
