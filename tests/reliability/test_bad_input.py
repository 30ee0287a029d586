"""Bad input across every library and the environment: each case fails in time, says why and what
to do, and leaves nothing behind.

Every case runs a keyword (through the library's Robot Framework interface, ``run_keyword``) that
must fail, and checks three things:

- **in time**: it fails within its budget plus a small slack -- measured, and a hard ceiling in
  a watchdog thread turns a hang into a failure instead of a stuck test run;
- **a useful message**: a fragment that names the cause, and ``Fix:`` (or, for Robot Framework's
  own errors, where to look);
- **no leak**: no new child process, socket, file descriptor or temp entry (``no_leaks`` fixture),
  and nothing of the stack's run left after the module (``stack`` fixture).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from environments.local.procs import free_port

from .conftest import DB_USER, Snapshot, private_temp
from .kits import end_of_test, kw, new
from .stackrun import REPO, StackRun
from .watch import engine_objects_of_runs

SLACK = 3.0  # seconds allowed beyond a case's budget (a loaded 2-core machine)
BLACKHOLE = "192.0.2.1"  # TEST-NET-1: never routed
MIGRATIONS = REPO / "tests" / "data" / "migrations"


# ---------------------------------------------------------------------------- servers
class SilentServer:
    """A TCP server that accepts and then sends ``greeting`` (or nothing) and never answers again."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.clients: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
            except OSError:
                continue
            if self.greeting:
                with contextlib.suppress(OSError):
                    client.sendall(self.greeting)
            self.clients.append(client)

    def drop_clients(self) -> None:
        """Close the server side of every accepted connection (they are the fake server's, not a leak)."""
        while self.clients:
            self.clients.pop().close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for client in self.clients:
            client.close()
        self.sock.close()


@pytest.fixture(scope="module")
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


@pytest.fixture(scope="module")
def garbage() -> Iterator[SilentServer]:
    server = SilentServer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
    yield server
    server.close()


@pytest.fixture(scope="module")
def admin(stack: StackRun) -> dict[str, str]:
    return stack.topology["credentials"]["admin"]


# ---------------------------------------------------------------------------- cases
@dataclass
class Case:
    budget: float
    action: Callable[[dict[str, Any]], Any]
    cause: tuple[str, ...]
    hint: tuple[str, ...] = ("Fix:",)
    needs: tuple[str, ...] = ()
    engine: bool = False  # also compare the stack run's containers / volumes / networks before and after


def closing(library: Any, close: str) -> Callable[[Callable[[Any], Any]], Any]:
    """Run ``body(library)`` and always close the library's connections afterwards."""
    def run(body: Callable[[Any], Any]) -> Any:
        try:
            return body(library)
        finally:
            end_of_test(library)
            with contextlib.suppress(Exception):
                kw(library, close)
    return run


# -- Redis
def redis_case(body: Callable[[Any, dict[str, Any]], Any], test_targets: str | None = None) -> Callable:
    def action(env: dict[str, Any]) -> Any:
        library = new("RedisKit", *([test_targets] if test_targets is not None else []))
        return closing(library, "Close All Redis Connections")(lambda lib_: body(lib_, env))
    return action


def redis_ping(library: Any, **connect: Any) -> None:
    kw(library, "Connect To Redis Server", **connect)
    kw(library, "Set Value", "kit:reliability", "1")


def redis_pause_not_allowed(library: Any, env: dict[str, Any]) -> None:
    server = env["redis_server"]
    kw(library, "Connect To Redis Server", host=server.host, port=server.port, timeout="2s")
    kw(library, "Pause Redis Clients", "1s")


# -- PostgreSQL
def db_case(body: Callable[[Any, dict[str, Any]], Any], test_targets: str | None = None) -> Callable:
    def action(env: dict[str, Any]) -> Any:
        library = new("DatabaseKit", *([test_targets] if test_targets is not None else []))
        return closing(library, "Close All Database Connections")(lambda lib_: body(lib_, env))
    return action


def db_connect(library: Any, env: dict[str, Any], **given: Any) -> None:
    server = env["postgres_server"]
    kw(library, "Connect To PostgreSQL", **{"host": server.host, "port": server.port, "user": "postgres",
                                          "dbname": "postgres", "connect_timeout": "2s", **given})


def db_fresh(library: Any, env: dict[str, Any]) -> None:
    db_connect(library, env)
    kw(library, "Create Test Database")


def migrate_missing_down(library: Any, env: dict[str, Any]) -> None:
    db_fresh(library, env)
    kw(library, "Migrate Up", str(MIGRATIONS / "missing_down"))
    kw(library, "Migrate Down", str(MIGRATIONS / "missing_down"), steps=1)


def migrate_broken(library: Any, env: dict[str, Any]) -> None:
    db_fresh(library, env)
    kw(library, "Migrate Up", str(MIGRATIONS / "broken_syntax"))


def down_fails_halfway(library: Any, env: dict[str, Any]) -> None:
    folder = env["tmp"] / "half_down"
    folder.mkdir(exist_ok=True)
    (folder / "001_two_tables.up.sql").write_text("CREATE TABLE kit_a (id int);\nCREATE TABLE kit_b (id int);\n")
    (folder / "001_two_tables.down.sql").write_text("DROP TABLE kit_a;\nDROP TABLE kit_missing_table;\n")
    db_fresh(library, env)
    kw(library, "Migrate Up", str(folder))
    try:
        kw(library, "Migrate Down", str(folder), steps=1)
    finally:
        # the failed down must leave the schema as it was: kit_a kept, version still 1
        kept = True
        try:
            kw(library, "Table Should Exist", "kit_a")
        except AssertionError:
            kept = False
        env["after"] = (kw(library, "Get Schema Version"), kept)


# -- VNC
def vnc_case(body: Callable[[Any, dict[str, Any]], Any]) -> Callable:
    def action(env: dict[str, Any]) -> Any:
        library = new("VncKit")
        return closing(library, "Close All VNC Connections")(lambda lib_: body(lib_, env))
    return action


def vnc_connect(address: Callable[[dict[str, Any]], str], **given: Any) -> Callable:
    return vnc_case(lambda library, env: kw(library, "Connect To VNC", address(env), timeout="2s", **given))


# -- containers
def docker_case(body: Callable[[Any, dict[str, Any]], Any]) -> Callable:
    def action(env: dict[str, Any]) -> Any:
        library = new("DockerKit")
        return closing(library, "Close All Container Engine Connections")(lambda lib_: body(lib_, env))
    return action


def engine_url(env: dict[str, Any]) -> str:
    return env["stack"].topology["engine"]["url"]


# -- Kubernetes
def kube_case(body: Callable[[Any, dict[str, Any]], Any]) -> Callable:
    def action(env: dict[str, Any]) -> Any:
        library = new("KubeKit")
        return closing(library, "Close All Kubernetes Connections")(lambda lib_: body(lib_, env))
    return action


def kube_url(env: dict[str, Any]) -> str:
    return env["stack"].topology["kubernetes"]["url"]


def kubeconfig_with_context(env: dict[str, Any]) -> str:
    path = env["tmp"] / "kubeconfig.yaml"
    path.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: kit-a\n"
        f"clusters:\n- name: a\n  cluster: {{server: '{kube_url(env)}'}}\n"
        "contexts:\n- name: kit-a\n  context: {cluster: a, user: u}\n"
        "users:\n- name: u\n  user: {token: abc}\n")
    return str(path)


# -- platform
def platform_case(body: Callable[[Any, dict[str, Any]], Any]) -> Callable:
    def action(env: dict[str, Any]) -> Any:
        library = new("PlatformKit")
        return closing(library, "Close All Platform Connections")(lambda lib_: body(lib_, env))
    return action


def api_url(env: dict[str, Any]) -> str:
    return env["stack"].topology["api"][0]["url"]


def logged_in(library: Any, env: dict[str, Any], user: str = "admin") -> None:
    kw(library, "Connect To Platform", api_url(env), timeout="5s")
    creds = env["stack"].topology["credentials"]
    password = creds["admin"]["password"] if user == "admin" else next(
        u["password"] for u in creds["users"] if u["username"] == user)
    kw(library, "Log In As", user, password)


def expired_token(library: Any, env: dict[str, Any]) -> None:
    logged_in(library, env)
    platform = library.ctx.connections.get(None)
    claims = jwt.decode(platform.tokens["admin"], options={"verify_signature": False})
    claims["exp"] = int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)).timestamp())
    platform.tokens["admin"] = jwt.encode(claims, env["stack"].topology["credentials"]["jwtSecret"], "HS256")
    kw(library, "Get Session Count")


def quota_exceeded(library: Any, env: dict[str, Any]) -> None:
    logged_in(library, env)
    kw(library, "Set User Quota", "erin", max_sessions=0)
    logged_in(library, env, "erin")
    kw(library, "Create Session From Template", "desktop-docker")


def never_reaches(library: Any, env: dict[str, Any]) -> None:
    logged_in(library, env)
    name = kw(library, "Create Session From Template", "desktop-docker")
    env["cleanup"].append(lambda: kw(library, "Terminate Session", name))
    kw(library, "Wait Until Session Is", name, "hibernated", timeout="2s", poll="0.2s")


# -- environment and chaos
def env_case(body: Callable[[Any, dict[str, Any]], Any], library_name: str = "EnvironmentKit") -> Callable:
    def action(env: dict[str, Any]) -> Any:
        from EnvironmentKit import state

        library = new(library_name)
        try:
            return body(library, env)
        finally:
            end_of_test(library)
            active = state.current()
            state.set_current(None)
            if active is not None and active.attached:
                active.driver.stop(5)
    return action


def topology_file(env: dict[str, Any], text: str) -> str:
    path = env["tmp"] / f"topology-{len(text)}.json"
    path.write_text(text)
    return str(path)


def attach_stack(env: dict[str, Any]) -> None:
    from EnvironmentKit import state

    path = env["tmp"] / "stack-topology.json"
    path.write_text(json.dumps(env["stack"].topology))
    state.attach_file(path)


def robot_with_variable_file(env: dict[str, Any]) -> None:
    broken = env["tmp"] / "broken.yaml"
    broken.write_text("thresholds:\n  failover: 30\n   leader: [1, 2\n")
    suite = env["tmp"] / "yaml.robot"
    suite.write_text("*** Test Cases ***\nNothing\n    Log    ${thresholds}\n")
    result = subprocess.run([sys.executable, "-m", "robot", "-V", str(broken), "--output", "NONE",
                             "--log", "NONE", "--report", "NONE", str(suite)],
                            capture_output=True, text=True, timeout=60, cwd=env["tmp"], check=False)
    raise AssertionError(f"robot exited {result.returncode}: {result.stdout[-600:]} {result.stderr[-600:]}")


CASES: dict[str, Case] = {
    # Redis
    "redis-unreachable-host": Case(4, redis_case(lambda lb, e: redis_ping(
        lb, host=BLACKHOLE, port=6379, timeout="1s", connect_timeout="1s")), (BLACKHOLE,)),
    "redis-refused-port": Case(3, redis_case(lambda lb, e: redis_ping(
        lb, host="127.0.0.1", port=free_port(), timeout="1s")), ("refused",)),
    "redis-wrong-password": Case(3, redis_case(lambda lb, e: redis_ping(
        lb, host=e["locked_redis"].host, port=e["locked_redis"].port, password="wrong-pw", timeout="2s")),
        ("password",), needs=("locked_redis",)),
    "redis-password-missing": Case(3, redis_case(lambda lb, e: redis_ping(
        lb, host=e["locked_redis"].host, port=e["locked_redis"].port, timeout="2s")),
        ("auth",), needs=("locked_redis",)),
    "redis-stalled-server": Case(4, redis_case(lambda lb, e: redis_ping(
        lb, host="127.0.0.1", port=e["silent"].port, timeout="1s", connect_timeout="1s")),
        ("time",), needs=("silent",)),
    "redis-pause-refused": Case(3, redis_case(redis_pause_not_allowed, test_targets="10.99.*"),
                                ("not allow-listed",), needs=("redis_server",)),
    # PostgreSQL
    "db-refused-port": Case(3, db_case(lambda lb, e: kw(
        lb, "Connect To PostgreSQL", host="127.0.0.1", port=free_port(), user="postgres", dbname="postgres",
        connect_timeout="2s")), ("refused",)),
    "db-unreachable-host": Case(4, db_case(lambda lb, e: kw(
        lb, "Connect To PostgreSQL", host=BLACKHOLE, port=5432, user="postgres", dbname="postgres",
        connect_timeout="2s")), (BLACKHOLE,)),
    "db-wrong-password": Case(4, db_case(lambda lb, e: db_connect(
        lb, {"postgres_server": e["password_postgres"]}, user=DB_USER, password="wrong-pw")),
        ("password",), needs=("password_postgres",)),
    "db-unknown-database": Case(3, db_case(lambda lb, e: db_connect(lb, e, dbname="kit_no_such_db")),
                                ("kit_no_such_db",), needs=("postgres_server",)),
    "db-stalled-server": Case(4, db_case(lambda lb, e: kw(
        lb, "Connect To PostgreSQL", host="127.0.0.1", port=e["silent"].port, user="postgres",
        dbname="postgres", connect_timeout="2s")), ("time",), needs=("silent",)),
    "db-missing-migration-folder": Case(3, db_case(lambda lb, e: (db_connect(lb, e), kw(
        lb, "Migrate Up", str(e["tmp"] / "no-such-folder")))), ("no-such-folder",), needs=("postgres_server",)),
    "db-missing-down-file": Case(10, db_case(migrate_missing_down), ("down",), needs=("postgres_server",)),
    "db-malformed-migration-name": Case(3, db_case(lambda lb, e: kw(
        lb, "Read Migrations", str(MIGRATIONS / "malformed_name"))), ("add-agents.sql",)),
    "db-broken-migration-sql": Case(10, db_case(migrate_broken), ("002",), needs=("postgres_server",)),
    "db-down-fails-halfway": Case(10, db_case(down_fails_halfway), ("kit_missing_table",),
                                  needs=("postgres_server",)),
    "db-migrate-down-refused": Case(5, db_case(lambda lb, e: (db_connect(lb, e), kw(
        lb, "Migrate Down", str(MIGRATIONS / "streamspace_updown"), steps=1)), test_targets="10.99.*"),
        ("not allow-listed",), needs=("postgres_server",)),
    # VNC
    "vnc-refused-port": Case(3, vnc_connect(lambda e: f"127.0.0.1:{free_port()}"), ("refused",)),
    "vnc-unreachable-host": Case(4, vnc_connect(lambda e: f"{BLACKHOLE}:5900"), (BLACKHOLE,)),
    "vnc-wrong-password": Case(4, vnc_connect(
        lambda e: f"{e['vnc_server_with_password'].host}:{e['vnc_server_with_password'].port}",
        password="wrong-pw"), ("password",), needs=("vnc_server_with_password",)),
    "vnc-password-missing": Case(4, vnc_connect(
        lambda e: f"{e['vnc_server_with_password'].host}:{e['vnc_server_with_password'].port}"),
        ("password",), needs=("vnc_server_with_password",)),
    "vnc-server-stalls": Case(4, vnc_connect(lambda e: f"127.0.0.1:{e['silent'].port}"), ("2",),
                              needs=("silent",)),
    "vnc-server-sends-garbage": Case(4, vnc_connect(lambda e: f"127.0.0.1:{e['garbage'].port}"), ("RFB",),
                                     needs=("garbage",)),
    # container engine
    "engine-absent-socket": Case(4, docker_case(lambda lb, e: kw(
        lb, "Connect To Container Engine", f"unix://{e['tmp']}/no-engine/docker.sock", timeout="2s")),
        ("no-engine",)),
    "engine-unknown-container": Case(8, docker_case(lambda lb, e: (kw(
        lb, "Connect To Container Engine", engine_url(e), timeout="5s"), kw(
        lb, "Get Container State", "kit-no-such-container"))), ("kit-no-such-container",), needs=("stack",)),
    "engine-image-not-local": Case(15, docker_case(lambda lb, e: (kw(
        lb, "Connect To Container Engine", engine_url(e), timeout="10s"), kw(
        lb, "Run Container", "localhost/kit-no-such-image:0"))), ("kit-no-such-image",), needs=("stack",),
        engine=True),
    # Kubernetes
    "kube-missing-context": Case(3, kube_case(lambda lb, e: kw(
        lb, "Connect To Kubernetes", kubeconfig=kubeconfig_with_context(e), context="kit-missing")),
        ("kit-missing",), needs=("stack",)),
    "kube-missing-kubeconfig": Case(3, kube_case(lambda lb, e: kw(
        lb, "Connect To Kubernetes", kubeconfig=str(e["tmp"] / "no-kubeconfig"))), ("no-kubeconfig",)),
    "kube-refused-port": Case(5, kube_case(lambda lb, e: (kw(
        lb, "Connect To Kubernetes", api_url=f"http://127.0.0.1:{free_port()}", timeout="2s"), kw(
        lb, "Get Kubernetes Version"))), ("refused",)),
    "kube-lease-never-held": Case(2, kube_case(lambda lb, e: (kw(
        lb, "Connect To Kubernetes", api_url=kube_url(e)), kw(
        lb, "Wait Until Lease Has A Holder", "kit-nobody", "streamspace", timeout="1s", poll="0.2s"))),
        ("kit-nobody", "last seen"), needs=("stack",)),
    "kube-delete-refused": Case(3, kube_case(lambda lb, e: (kw(
        lb, "Connect To Kubernetes", api_url=kube_url(e)), kw(lb, "Delete Pod", "web-0", "production"))),
        ("not allow-listed", "production"), needs=("stack",)),
    # platform
    "platform-refused-port": Case(4, platform_case(lambda lb, e: (kw(
        lb, "Connect To Platform", f"http://127.0.0.1:{free_port()}", timeout="2s"), kw(
        lb, "Log In As", "admin", "whatever"))), ("refused",)),
    "platform-wrong-password": Case(4, platform_case(lambda lb, e: (kw(
        lb, "Connect To Platform", api_url(e), timeout="5s"), kw(lb, "Log In As", "admin", "wrong-pw"))),
        ("401",), needs=("stack",)),
    "platform-expired-token": Case(5, platform_case(expired_token), ("expired",), needs=("stack",)),
    "platform-unknown-template": Case(5, platform_case(lambda lb, e: (logged_in(lb, e), kw(
        lb, "Create Session From Template", "kit-no-such-template"))), ("404",), needs=("stack",)),
    "platform-unknown-session": Case(5, platform_case(lambda lb, e: (logged_in(lb, e), kw(
        lb, "Get Session", "kit-no-such-session"))), ("404",), needs=("stack",)),
    "platform-quota-exceeded": Case(6, platform_case(quota_exceeded), ("Quota exceeded",), needs=("stack",)),
    "platform-session-never-reaches-state": Case(5, platform_case(never_reaches), ("hibernated", "last seen"),
                                                 needs=("stack",), engine=True),
    # environment
    "env-unknown-environment": Case(3, env_case(lambda lb, e: kw(lb, "Start Test Environment", "kit-nowhere")),
                                    ("kit-nowhere",)),
    "env-malformed-topology": Case(3, env_case(lambda lb, e: kw(
        lb, "Start Test Environment", topology_file=topology_file(e, "{ \"api\": [ broken"))),
        ("not JSON",)),
    "env-missing-topology-file": Case(3, env_case(lambda lb, e: kw(
        lb, "Start Test Environment", topology_file=str(e["tmp"] / "no-topology.json"))), ("no-topology.json",)),
    "env-topology-without-control": Case(3, env_case(lambda lb, e: kw(
        lb, "Start Test Environment", topology_file=topology_file(e, json.dumps({"api": []})))), ("control",)),
    "env-invalid-replica-count": Case(10, env_case(lambda lb, e: kw(
        lb, "Start Test Environment", "local", api_replicas=0)), ("between 1 and 10",)),
    "env-robot-malformed-yaml-variables": Case(30, lambda e: robot_with_variable_file(e),
                                               ("broken.yaml",), hint=("line",)),
    "chaos-no-environment": Case(3, env_case(lambda lb, e: kw(lb, "Kill Component", "api-1"), "ChaosKit"),
                                 ("No test environment",)),
    "chaos-unknown-component": Case(5, env_case(lambda lb, e: (attach_stack(e), kw(
        lb, "Kill Component", "kit-no-such-component")), "ChaosKit"), ("kit-no-such-component",),
        needs=("stack",)),
}


def session_objects(run_id: str) -> list[str]:
    """The run's containers and volumes (its network is shared: the Docker agent makes it on first use)."""
    return sorted(o for o in engine_objects_of_runs({run_id}) if not o.startswith("network "))


def run_with_ceiling(action: Callable[[], Any], ceiling: float) -> tuple[str | None, float]:
    """Run ``action`` in a thread; its error message and how long it took. A hang past ``ceiling`` fails.

    Only the message is kept (as Robot Framework does): the exception's traceback would keep the
    failed call's frames -- and the sockets in them -- alive.
    """
    outcome: dict[str, Any] = {}

    def target() -> None:
        start = time.monotonic()
        try:
            action()
        except BaseException as error:  # noqa: BLE001 - what the case raised is the result
            outcome["error"] = str(error) or type(error).__name__
        outcome["elapsed"] = time.monotonic() - start

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(ceiling)
    if thread.is_alive():
        pytest.fail(f"hung: no answer after {ceiling:g} s")
    return outcome.get("error"), outcome["elapsed"]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_fails_fast_and_clearly(name: str, request: pytest.FixtureRequest, tmp_path: Path,
                                          temp_root: Path) -> None:
    case = CASES[name]
    env: dict[str, Any] = {"tmp": tmp_path, "cleanup": []}
    for fixture in case.needs:
        env[fixture] = request.getfixturevalue(fixture)
    fakes = tuple(env[server].port for server in ("silent", "garbage") if server in env)
    before = Snapshot(temp_root, fakes)
    objects = session_objects(env["stack"].run_id) if case.engine else []
    try:
        with private_temp(temp_root):
            error, elapsed = run_with_ceiling(lambda: case.action(env), case.budget * 3 + 15)
    finally:
        for undo in env["cleanup"]:
            with contextlib.suppress(Exception):
                undo()
    for server in ("silent", "garbage"):
        if server in env:
            env[server].drop_clients()
    left = Snapshot(temp_root, fakes).settled_leaks_since(before)
    if case.engine:  # what the run made must be gone again (a terminated session's container goes async)
        deadline = time.monotonic() + 20
        while (now := session_objects(env["stack"].run_id)) != objects:
            if time.monotonic() > deadline:
                left.append(f"engine objects of the run changed: {objects} -> {now}")
                break
            time.sleep(0.5)
    assert not left, f"{name}: left behind: {left}"
    assert error is not None, f"{name}: the keyword did not fail"
    message = error
    print(f"\n[{name}] {elapsed:.2f} s (budget {case.budget:g} s): {message}")
    assert elapsed < case.budget + SLACK, f"{name}: failed after {elapsed:.1f} s (budget {case.budget} s): {message}"
    for fragment in case.cause:
        assert fragment.lower() in message.lower(), f"{name}: no '{fragment}' (the cause) in: {message}"
    assert any(h.lower() in message.lower() for h in case.hint), f"{name}: no hint {case.hint} in: {message}"
    if name == "db-down-fails-halfway":
        version, kept = env["after"]
        assert version == {"version": 1, "dirty": False} and kept, f"a failed down changed the schema: {env['after']}"
    if name == "platform-quota-exceeded":
        restore = new("PlatformKit")
        logged_in(restore, env)
        kw(restore, "Set User Quota", "erin", max_sessions=10)
        kw(restore, "Close All Platform Connections")


def test_matrix_is_wide_enough() -> None:
    """At least 30 cases, and every library and the environment appears in the matrix."""
    assert len(CASES) >= 30
    prefixes = {name.split("-")[0] for name in CASES}
    assert {"redis", "db", "vnc", "engine", "kube", "platform", "env", "chaos"} <= prefixes


