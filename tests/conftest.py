"""Shared fixtures: real backends on free ports, started once per test session and always stopped.

Use these instead of starting your own: ``redis_server``, ``postgres_server``, ``vnc_server``
(security None), ``vnc_server_with_password`` (VNC authentication, password ``kit-secret``),
``kube_api`` (the Kubernetes API stand-in) and ``kube_client`` (the official client's ``ApiClient``
on it), ``engine`` (the container engine ``KIT_ENGINE`` chooses, default ``auto``).

``each_engine`` runs a test module once per container engine of ``--engines`` (default
``$KIT_TEST_ENGINES``, else ``podman,docker``): Podman's service and the kit's private Docker
engine (or a Docker engine that answers). A module overrides ``engine`` with it to run on both.
``rollback_migrations`` is the StreamSpace migration set written in the rollback layout.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from environments.local.postgres_server import PostgresServer
from environments.local.procs import restore_sigint
from environments.local.redis_server import RedisServer
from environments.local.vnc_server import VncServer
from kitcore.processes import stop_like_ctrl_c

restore_sigint()  # a run started with SIGINT ignored still stops on it, and so do its children

VNC_PASSWORD = "kit-secret"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--engines", default=os.environ.get("KIT_TEST_ENGINES") or "podman,docker",
                     help="the container engines 'each_engine' runs a module on: a comma list of podman, docker "
                          "(default $KIT_TEST_ENGINES, else podman,docker)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "each_engine" in metafunc.fixturenames:
        choices = [c.strip() for c in metafunc.config.getoption("engines").split(",") if c.strip()]
        unknown = sorted(set(choices) - {"podman", "docker"})
        if unknown:
            raise pytest.UsageError(f"--engines takes podman and/or docker, not {', '.join(unknown)}")
        metafunc.parametrize("each_engine", choices, indirect=True, scope="module")


def pytest_configure(config: pytest.Config) -> None:
    # a CI system cancels a job with SIGTERM (SIGHUP when a terminal goes): stop as Ctrl-C does, so every
    # fixture's teardown runs and the backends the tests started are stopped
    stop_like_ctrl_c()


# Folders whose modules share fixed addresses or programs and must not run at the same time
SHARED_GROUPS = {"tests/agents/": "agents", "tests/contract/": "contract"}
# The longest groups, longest first (seconds each took in a ./kit test run, 4 processes on 2 cores): in
# several processes they start before the others, so that none starts late and runs on alone at the end
# (xdist's own order, the groups with the most tests first, left the long groups of few tests for last)
LONGEST_FIRST = (
    "tests/reliability/test_interruption_entry_points.py",  # 153 s
    "tests/acceptance/test_browser.py",  # 93 s
    "tests/reliability/test_interruption.py",  # 72 s
    "agents",  # 64 s
    "tests/acceptance/test_loadkit_distributed.py",  # 52 s
    "tests/acceptance/test_dockerkit.py",  # 43 s
    "tests/acceptance/test_compose.py",  # 42 s
    "tests/reliability/test_bad_input.py",  # 37 s
    "contract",  # 25 s
    "tests/acceptance/test_kubekit.py",  # 19 s
    "tests/acceptance/test_chaoskit_local_stack.py",  # 18 s
    "tests/acceptance/test_dockerkit_robot.py",  # 18 s
    "tests/unit/test_mutants.py",  # 17 s
)


def group_of(nodeid: str) -> str:
    """The group of a test: its module, or the folder of ``SHARED_GROUPS`` it is in."""
    module = nodeid.split("::", 1)[0]
    return next((name for folder, name in SHARED_GROUPS.items() if module.startswith(folder)), module)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """With pytest-xdist (``-n N --dist loadgroup``, as ``./kit test`` runs): each group's tests run in one
    process, one after another, so a module's module-scoped servers start once and the modules of a folder
    in ``SHARED_GROUPS`` never run at the same time. Tests marked ``machine`` audit the whole machine:
    ``./kit test`` runs them after the others, alone. The groups of ``LONGEST_FIRST`` are handed out first.
    (The kit groups by nodeid itself: xdist's own ``xdist_group`` marks do not reach its scheduler under
    pytest 9.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    rank = {group: index for index, group in enumerate(LONGEST_FIRST)}

    class ByGroup(LoadScopeScheduling):
        ordered = False

        def _split_scope(self, nodeid: str) -> str:
            return group_of(nodeid)

        def _assign_work_unit(self, node: Any) -> None:
            if not self.ordered:  # the first assignment: the queue is complete, nothing was sent yet
                self.ordered = True
                order = sorted(self.workqueue, key=lambda group: rank.get(group, len(rank)))  # stable
                self.workqueue = type(self.workqueue)((group, self.workqueue[group]) for group in order)
            super()._assign_work_unit(node)

    return ByGroup(config, log)


MIGRATIONS = Path(__file__).resolve().parent / "data" / "migrations"
Server = TypeVar("Server", bound=Any)


def running(server: Server) -> Iterator[Server]:
    """Start ``server``, hand it to the tests, and stop it always (also when starting failed halfway)."""
    try:
        server.start()
        yield server
    finally:
        server.stop()


def write_rollback_layout(updown: Path, dest: Path) -> Path:
    """Write an up/down migration set (``NNN_name.up.sql``/``.down.sql``) in the StreamSpace layout
    (``NNN_name.sql``/``NNN_name_rollback.sql``) into ``dest``; returns ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    for up in sorted(updown.glob("*.up.sql")):
        stem = up.name.removesuffix(".up.sql")
        shutil.copyfile(up, dest / f"{stem}.sql")
        down = up.with_name(f"{stem}.down.sql")
        if down.exists():
            shutil.copyfile(down, dest / f"{stem}_rollback.sql")
    return dest


@pytest.fixture(scope="session")
def backend_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("backends")


@pytest.fixture(scope="session")
def redis_server(backend_dir: Path) -> Iterator[RedisServer]:
    yield from running(RedisServer(backend_dir / "redis"))


@pytest.fixture(scope="session")
def postgres_server(backend_dir: Path) -> Iterator[PostgresServer]:
    yield from running(PostgresServer(backend_dir / "postgres"))


@pytest.fixture(scope="session")
def vnc_server(backend_dir: Path) -> Iterator[VncServer]:
    yield from running(VncServer(backend_dir / "vnc", name="vnc-none"))


@pytest.fixture(scope="session")
def vnc_server_with_password(backend_dir: Path) -> Iterator[VncServer]:
    yield from running(VncServer(backend_dir / "vnc", name="vnc-auth", password=VNC_PASSWORD))


@pytest.fixture(scope="session")
def kube_api(backend_dir: Path) -> Iterator[object]:
    from environments.local.kubeapi import KubeApiStandIn

    yield from running(KubeApiStandIn(backend_dir / "kubeapi"))


@pytest.fixture(scope="session")
def kube_client(kube_api: Any) -> Iterator[Any]:
    from kubernetes import client

    with client.ApiClient(client.Configuration(host=kube_api.url)) as api_client:
        yield api_client


@pytest.fixture(scope="session")
def default_engine(backend_dir: Path) -> Iterator[object]:
    from environments.local.engine import Engine

    yield from running(Engine(backend_dir / "engine"))


@pytest.fixture(scope="session")
def engine(default_engine: Any) -> Any:
    """The container engine of the session (``KIT_ENGINE``, default ``auto``)."""
    return default_engine


@pytest.fixture(scope="module")
def each_engine(request: pytest.FixtureRequest, backend_dir: Path) -> Iterator[object]:
    """The engine of this module's parameter (``podman`` or ``docker``), started for the module and
    stopped after it; the session's engine when it is of that kind already."""
    from environments.local.dockerd import dockerd_binary
    from environments.local.engine import Engine

    choice = request.param
    default = _default_choice()
    if default == choice or (default == "auto" and (choice == "docker") == _docker_answers()):
        yield request.getfixturevalue("default_engine")  # the session's engine is of this kind
        return
    if choice == "docker" and dockerd_binary() is None:
        pytest.skip("no Docker engine: the kit's private one needs dockerd (Debian's docker.io; ./kit setup)")
    yield from running(Engine(backend_dir / f"engine-{choice}-{request.module.__name__.rsplit('.', 1)[-1]}",
                              choice=choice))


def _default_choice() -> str:
    return (os.environ.get("KIT_ENGINE") or "auto").strip().lower()


def _docker_answers() -> bool:
    """Whether ``auto`` finds a Docker engine (DOCKER_HOST or /var/run/docker.sock, not Podman's service)."""
    from environments.local.engine import DOCKER_SOCKET, ping_headers

    for url in (os.environ.get("DOCKER_HOST"), f"unix://{DOCKER_SOCKET}"):
        headers = ping_headers(url) if url else None
        if headers is not None:
            return "libpod-api-version" not in headers
    return False


@pytest.fixture(scope="session")
def rollback_migrations(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The StreamSpace migrations (kept once, in the up/down layout) written in the rollback layout."""
    return write_rollback_layout(MIGRATIONS / "streamspace_updown", tmp_path_factory.mktemp("streamspace_rollback"))


@pytest.fixture
def scratch_database_kit(postgres_server: PostgresServer) -> Iterator[Any]:
    """DatabaseKit connected to the test PostgreSQL as ``admin``, with a scratch test database made
    (dropped again, with everything the test registered, at the end)."""
    from DatabaseKit import DatabaseKit

    lib = DatabaseKit()
    lib.connect_to_postgresql("127.0.0.1", postgres_server.port, "postgres", dbname="postgres", alias="admin")
    lib.create_test_database()
    try:
        yield lib
    finally:
        lib.ctx.cleanup.run_all()
        lib.close_all_database_connections()
