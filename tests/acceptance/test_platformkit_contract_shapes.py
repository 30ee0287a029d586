"""PlatformKit's argument handling and error paths, against a tiny contract-shaped server.

This is NOT a replacement for running PlatformKit against the local reference stack
(tests/acceptance/test_platformkit_stack.py does that): the server here is the test's own,
about a hundred lines of aiohttp that answer the contract's routes with its exact status codes
and error shapes, so that every error path of the library (401, 403, 404, 409, 503, a replica
that does not answer, expected refusals) can be provoked on demand and checked quickly.
Two "replicas" share one state, as two API replicas share one database.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from robot.api.types import Secret

from environments.local.procs import free_port
from kitcore import AssertionOperator, KitError, WaitTimeout
from PlatformKit import PlatformKit

PASSWORDS = {"admin": "admin-pass-1", "alice": "alice-pass-1", "bob": "bob-pass-1"}
ROLES = {"admin": "admin", "alice": "user", "bob": "user"}


@dataclass
class State:
    tokens: dict[str, str] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    quotas: dict[str, int] = field(default_factory=lambda: {"alice": 2, "bob": 5, "admin": 100})
    docker_online: bool = True
    deleted: list[str] = field(default_factory=list)


def error(status: int, short: str, long: str = "") -> web.Response:
    body = {"error": short}
    if long:
        body["message"] = long
    return web.json_response(body, status=status)


def build_app(state: State, pod: str) -> web.Application:
    def who(request: web.Request) -> str | None:
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ") if header.startswith("Bearer ") else request.query.get("token", "")
        return next((u for u, t in state.tokens.items() if t == token), None)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"status": "healthy", "service": pod})

    async def login(request: web.Request) -> web.Response:
        body = await request.json()
        if PASSWORDS.get(body.get("username")) != body.get("password"):
            return error(401, "Invalid credentials")
        user = body["username"]
        state.tokens.setdefault(user, secrets.token_hex(16))
        return web.json_response({"token": state.tokens[user], "expiresAt": "2030-01-01T00:00:00Z",
                                  "user": {"id": f"id-{user}", "username": user, "role": ROLES[user]}})

    def owned(request: web.Request) -> tuple[str | None, dict[str, Any] | None, web.Response | None]:
        user = who(request)
        if user is None:
            return None, None, error(401, "Unauthorized")
        session = state.sessions.get(request.match_info["name"])
        if session is None:
            return user, None, error(404, "Session not found")
        if ROLES[user] != "admin" and session["user"] != user:
            return user, None, error(403, "Forbidden", "not your session")
        return user, session, None

    async def create(request: web.Request) -> web.Response:
        user = who(request)
        if user is None:
            return error(401, "Unauthorized")
        body = await request.json()
        if body["template"] not in ("firefox", "desktop"):
            return error(404, "Template not found")
        owner = body.get("user") or user
        if ROLES[user] != "admin" and owner != user:
            return error(403, "Forbidden")
        live = [s for s in state.sessions.values() if s["user"] == owner and s["state"] != "terminated"]
        if len(live) >= state.quotas.get(owner, 0):
            return error(403, "Quota exceeded", f"maxSessions {state.quotas.get(owner)}")
        platform = body.get("platform") or "kubernetes"
        if platform == "docker" and not state.docker_online:
            return error(503, "No agents available", "no online docker agent")
        name = f"{owner}-{body['template']}-{secrets.token_hex(4)}"
        state.sessions[name] = {"name": name, "user": owner, "template": body["template"], "state": "running",
                                "platform": platform, "agentId": f"{platform}-local", "status": {"phase": "Running"}}
        return web.json_response(state.sessions[name], status=202)

    async def get(request: web.Request) -> web.Response:
        _, session, refusal = owned(request)
        return refusal or web.json_response(session)

    async def listing(request: web.Request) -> web.Response:
        user = who(request)
        if user is None:
            return error(401, "Unauthorized")
        found = [s for s in state.sessions.values() if ROLES[user] == "admin" or s["user"] == user]
        wanted = request.query.get("state")
        found = [s for s in found if (s["state"] == wanted if wanted else s["state"] != "terminated")]
        for key in ("user", "platform"):
            if request.query.get(key):
                found = [s for s in found if s[key] == request.query[key]]
        return web.json_response({"sessions": found, "total": len(found)})

    def command(action: str, needed: str | None, result: str):
        async def handler(request: web.Request) -> web.Response:
            _, session, refusal = owned(request)
            if refusal:
                return refusal
            if (needed and session["state"] != needed) or session["state"] in ("terminated",):
                return error(409, "Conflict", f"session is {session['state']}")
            session["state"] = result
            if action == "stop_session":
                state.deleted.append(session["name"])
            return web.json_response({"name": session["name"], "commandId": f"cmd-{secrets.token_hex(4)}",
                                      "message": action}, status=202)
        return handler

    async def agents(request: web.Request) -> web.Response:
        found = [{"agentId": "k8s-local", "platform": "kubernetes", "status": "online", "connectedPod": "api-1"},
                 {"agentId": "docker-local", "platform": "docker",
                  "status": "online" if state.docker_online else "offline", "connectedPod": "api-2"}]
        for key in ("platform", "status"):
            if request.query.get(key):
                found = [a for a in found if a[key] == request.query[key]]
        return web.json_response({"agents": found, "total": len(found)})

    async def agent(request: web.Request) -> web.Response:
        for item in (await agents(request)).text and __import__("json").loads((await agents(request)).text)["agents"]:
            if item["agentId"] == request.match_info["agent"]:
                return web.json_response(item)
        return error(404, "Agent not found")

    async def vnc(request: web.Request) -> web.StreamResponse:
        _, session, refusal = owned(request)
        if refusal:
            return refusal
        if session["state"] != "running":
            return error(409, "Session not running")
        ws = web.WebSocketResponse(protocols=("binary",))
        await ws.prepare(request)
        await ws.close()
        return ws

    app = web.Application()
    app.add_routes([
        web.get("/health", health),
        web.post("/api/v1/auth/login", login),
        web.post("/api/v1/sessions", create),
        web.get("/api/v1/sessions", listing),
        web.get("/api/v1/sessions/{name}", get),
        web.delete("/api/v1/sessions/{name}", command("stop_session", None, "terminated")),
        web.put("/api/v1/sessions/{name}/hibernate", command("hibernate_session", "running", "hibernated")),
        web.put("/api/v1/sessions/{name}/wake", command("wake_session", "hibernated", "running")),
        web.get("/api/v1/admin/agents", agents),
        web.get("/api/v1/admin/agents/{agent}", agent),
        web.get("/api/v1/vnc/{name}", vnc),
    ])
    return app



@pytest.fixture(scope="module")
def server() -> Iterator[tuple[State, list[str]]]:
    state = State()
    loop = asyncio.new_event_loop()
    runners: list[web.AppRunner] = []
    urls: list[str] = []

    async def start() -> None:
        for pod in ("api-1", "api-2"):
            runner = web.AppRunner(build_app(state, pod))
            await runner.setup()
            port = free_port()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            runners.append(runner)
            urls.append(f"http://127.0.0.1:{port}")

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    yield state, urls

    async def stop() -> None:
        for runner in runners:
            await runner.cleanup()

    asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=5)


@pytest.fixture
def kit(server: tuple[State, list[str]]) -> Iterator[PlatformKit]:
    state, urls = server
    state.docker_online = True
    lib = PlatformKit(timeout="3s")
    lib.run_keyword("Connect To Platform", [urls])
    lib.run_keyword("Log In As", ["admin", Secret(PASSWORDS["admin"])])
    yield lib
    lib.cleanup.run_all()
    lib.run_keyword("Close All Platform Connections", [])


OPERATORS = {"==", "!=", "contains", "<", ">", ">=", "<="}


def run(lib: PlatformKit, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call a keyword; operators written as in Robot data are converted as Robot would."""
    values = [AssertionOperator[a] if isinstance(a, str) and a in OPERATORS else a for a in args]
    if "assertion_operator" in kwargs:
        kwargs["assertion_operator"] = AssertionOperator[kwargs["assertion_operator"]]
    return lib.run_keyword(name, values, kwargs)


def test_replicas_by_name_index_and_url(kit: PlatformKit, server: tuple[State, list[str]]) -> None:
    _, urls = server
    assert run(kit, "Get Platform Replica Names") == ["api-1", "api-2"]
    assert run(kit, "Get Platform Replica URL", "2") == urls[1]
    assert run(kit, "Get API Health", "api-2", "==", "healthy") == "healthy"
    assert run(kit, "Get API Health", urls[0] + "/api/v1/") == "healthy"
    with pytest.raises(KitError, match=r"No API replica 'api-9'.*1=api-1, 2=api-2"):
        run(kit, "Get API Health", "api-9")


def test_every_replica_healthy_names_the_sick_one(kit: PlatformKit, server: tuple[State, list[str]]) -> None:
    _, urls = server
    run(kit, "Every API Replica Should Be Healthy", timeout="1s")
    dead = f"http://127.0.0.1:{free_port()}"
    lib = PlatformKit()
    run(lib, "Connect To Platform", [urls[0], dead])
    with pytest.raises(KitError, match=r"1 of 2 API replicas are not healthy: api-2 .*'unreachable'"):
        run(lib, "Every API Replica Should Be Healthy", timeout="0.5s")


def test_unreachable_replica_is_named_with_a_fix(kit: PlatformKit) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    assert run(kit, "Get API Health", dead) == "unreachable"
    with pytest.raises(KitError, match=r"could not connect.*Fix: check that the replica runs"):
        run(kit, "List Sessions", replica=dead)


def test_session_round_trip_across_replicas(kit: PlatformKit) -> None:
    name = run(kit, "Create Session From Template", "firefox", user="alice", replica="api-1")
    assert name.startswith("alice-firefox-")
    assert run(kit, "Get Session State", name, "==", "running", replica="api-2") == "running"
    assert run(kit, "Wait Until Session Is", name, "running", timeout="2s", replica=2) >= 0
    assert run(kit, "List Session Names", user="alice", assertion_operator="contains", assertion_expected=name)
    assert run(kit, "Hibernate Session", name).startswith("cmd-")
    run(kit, "Wait Until Session Is", name, "hibernated", timeout="2s")
    assert run(kit, "Wake Session", name, replica="api-2").startswith("cmd-")
    run(kit, "Session Field Should Be", name, "status.phase", "==", "Running")
    assert run(kit, "Terminate Session", name).startswith("cmd-")
    assert run(kit, "List Session Names", state="terminated", assertion_operator="contains", assertion_expected=name)


def test_refusals_are_clear_errors_or_expected(kit: PlatformKit, server: tuple[State, list[str]]) -> None:
    state, _ = server
    with pytest.raises(KitError, match=r"answered 404 as admin: Template not found.*Fix: check the name"):
        run(kit, "Create Session From Template", "no-such-template", user="bob")
    body = run(kit, "Create Session From Template", "no-such-template", user="bob", expect_status=404)
    assert body == {"error": "Template not found"}
    state.docker_online = False
    with pytest.raises(KitError, match=r"503 .*No agents available.*Fix: check that an agent"):
        run(kit, "Create Session From Template", "firefox", user="bob", platform="docker")
    with pytest.raises(KitError, match=r"expected status 503.*answered 202"):
        run(kit, "Create Session From Template", "firefox", user="bob", platform="kubernetes", expect_status=503)
    with pytest.raises(KitError, match=r"Session not found"):
        run(kit, "Get Session", "bob-firefox-00000000")


def test_a_session_created_despite_an_expected_refusal_is_still_cleaned_up(
    kit: PlatformKit, server: tuple[State, list[str]]
) -> None:
    state, _ = server
    with pytest.raises(KitError):
        run(kit, "Create Session From Template", "desktop", user="bob", expect_status=403)
    made = [n for n, s in state.sessions.items() if n.startswith("bob-desktop-") and s["state"] == "running"]
    assert made
    kit.cleanup.run_all()
    assert all(state.sessions[n]["state"] == "terminated" for n in made)


def test_quota_and_ownership(kit: PlatformKit) -> None:
    run(kit, "Log In As", "alice", Secret(PASSWORDS["alice"]))
    run(kit, "Log In As", "bob", Secret(PASSWORDS["bob"]))
    run(kit, "As User", "alice")
    first = run(kit, "Create Session From Template", "firefox")
    run(kit, "Create Session From Template", "desktop")
    refused = run(kit, "Create Session From Template", "firefox", expect_status=403)
    assert refused["error"] == "Quota exceeded"
    with pytest.raises(KitError, match=r"answered 403 as alice: Quota exceeded \(maxSessions 2\)"):
        run(kit, "Create Session From Template", "firefox")
    run(kit, "Terminate Session", first, as_user="bob", expect_status=403)
    assert run(kit, "Get Session", first, as_user="bob", expect_status="403")["error"] == "Forbidden"
    assert run(kit, "Get Session Count", as_user="bob", assertion_operator="==", assertion_expected="0") == 0
    assert run(kit, "Get Session Count", user="alice", as_user="admin") == 2
    assert run(kit, "Get Session Count", "==", "2", user="alice", timeout="1s") == 2
    assert run(kit, "Get VNC Access Status", first, "==", "403", as_user="bob") == 403
    assert run(kit, "Get VNC Access Status", first) == 101
    assert run(kit, "As User", "admin") == "alice"


def test_failed_login_and_unknown_user(kit: PlatformKit) -> None:
    with pytest.raises(KitError, match=r"401.*Invalid credentials.*Fix: log in again"):
        run(kit, "Log In As", "alice", Secret("wrong"))
    assert run(kit, "Log In As", "alice", "wrong", expect_status=401) == {"error": "Invalid credentials"}
    with pytest.raises(KitError, match=r"User 'carol' is not logged in.*Fix: call 'Log In As  carol"):
        run(kit, "List Sessions", as_user="carol")


def test_waits_report_last_state_tries_and_budget(kit: PlatformKit) -> None:
    name = run(kit, "Create Session From Template", "firefox", user="bob")
    budget_message = r"did not become hibernated.*of 0.6 s budget.*tries\); last seen: state running"
    with pytest.raises(WaitTimeout, match=budget_message):
        run(kit, "Wait Until Session Is", name, "hibernated", timeout="0.6s", poll="0.2s")
    with pytest.raises(AssertionError, match=r"should be == 'hibernated': it was still 'running' after .* tries\)"):
        run(kit, "Get Session State", name, "==", "hibernated", timeout="0.5s")
    with pytest.raises(WaitTimeout, match=r"1 of 1 not terminated"):
        run(kit, "Wait Until Sessions Are", [name], "terminated", timeout="0.5s", poll="0.2s")


def test_session_states_come_from_each_session_and_passwords_meet_the_rule(kit: PlatformKit) -> None:
    first = run(kit, "Create Session From Template", "firefox", user="bob")
    second = run(kit, "Create Session From Template", "firefox", user="bob")
    run(kit, "Hibernate Session", second)
    states = run(kit, "Get Session States", [first, second, "bob-firefox-00000000"])
    assert states == {first: "running", second: "hibernated", "bob-firefox-00000000": "absent"}
    password = run(kit, "Generate Password").value
    assert len(password) >= 8 and not password.isalnum()
    assert any(c.isupper() for c in password) and any(c.islower() for c in password)
    assert any(c.isdigit() for c in password)


def test_agents_and_their_replicas(kit: PlatformKit, server: tuple[State, list[str]]) -> None:
    state, _ = server
    assert run(kit, "Get Agent Ids", status="online") == ["docker-local", "k8s-local"]
    assert run(kit, "Get Agent Status", "docker-local", "==", "online", replica="api-1") == "online"
    state.docker_online = False
    assert run(kit, "Get Agent Status", "docker-local", "==", "offline", timeout="1s") == "offline"
    assert [a["agentId"] for a in run(kit, "Get Agents", platform="kubernetes")] == ["k8s-local"]


def test_round_robin_spreads_calls(server: tuple[State, list[str]]) -> None:
    _, urls = server
    lib = PlatformKit()
    run(lib, "Connect To Platform", ",".join(urls), round_robin=True, names="east,west")
    seen = [lib.ctx.platform().replica().name for _ in range(4)]
    assert seen == ["east", "west", "east", "west"]
    run(lib, "Use API Replica", "west")
    run(lib, "Close All Platform Connections")
    with pytest.raises(KitError, match=r"No platform connection is open.*Connect To Platform"):
        run(lib, "List Sessions")


def test_vnc_url_is_a_secret(kit: PlatformKit) -> None:
    name = run(kit, "Create Session From Template", "firefox", user="bob")
    url = run(kit, "Get VNC URL Of Session", name, replica="api-2")
    assert isinstance(url, Secret)
    assert str(url) == "<secret>"
    assert url.value.startswith("ws://127.0.0.1:") and f"/api/v1/vnc/{name}?token=" in url.value


def test_robot_log_never_shows_tokens_or_passwords(server: tuple[State, list[str]], tmp_path: Path) -> None:
    state, urls = server
    secrets_file = tmp_path / "credentials_vars.py"
    secrets_file.write_text(f"from robot.api.types import Secret\nPASSWORD = Secret({PASSWORDS['alice']!r})\n")
    suite = tmp_path / "masking.robot"
    suite.write_text(
        "*** Settings ***\nLibrary    PlatformKit\n\n*** Test Cases ***\nLog In And Create\n"
        f"    Connect To Platform    {urls[0]}\n"
        "    Log In As    alice    ${PASSWORD}\n"
        "    ${name} =    Create Session From Template    firefox\n"
        "    ${url} =    Get VNC URL Of Session    ${name}\n"
        "    Set Suite Variable    ${NAME}    ${name}\n"
    )
    import robot

    rc = robot.run(str(suite), outputdir=str(tmp_path), loglevel="TRACE", stdout=None, console="none",
                   pythonpath=["libraries"], variablefile=[str(secrets_file)])
    assert rc == 0
    output = (tmp_path / "output.xml").read_text()
    assert "POST api-1/api/v1/sessions as alice -&gt; 202" in output
    assert state.tokens["alice"] not in output
    assert PASSWORDS["alice"] not in output
    made = [n for n in state.sessions if n.startswith("alice-firefox-")]
    assert made and all(state.sessions[n]["state"] == "terminated" for n in made), "listener must terminate"
