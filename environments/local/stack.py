"""The local reference stack: every backend and platform component, started and stopped as one.

:class:`LocalStack` starts Redis, PostgreSQL, the Kubernetes API stand-in, the container engine,
the links between components, the API replicas, the kubelet stand-in and the agent replicas; it
knows how to kill, stop, start and restart each one and how to partition two of them; and it stops
everything it started — processes, containers, volumes, networks, temp directories.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import string
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from environments.local import reaper
from environments.local.links import LinkTable
from environments.local.platforms import PartSpec, PlatformSpec, load_platform
from environments.local.postgres_server import PostgresServer
from environments.local.procs import (
    BackendError,
    ManagedProcess,
    ReadyNotice,
    await_ready,
    free_port,
    log_tail,
    wait_for,
)
from environments.local.redis_server import RedisServer
from environments.local.vnc_server import VncServer
from environments.local.zygote import PLATFORM, Zygote
from kitcore.containers import list_containers

REPO = Path(__file__).resolve().parents[2]
RUN_LABEL = "streamspace.kit/run"
USERS = ("alice", "bob", "carol", "dave", "erin")
LETTERS = "abcdefghij"
TEMPLATES = {"desktop-kubernetes": "kubernetes", "desktop-docker": "docker"}  # the suites' templates
BACKENDS = ("redis", "postgres", "kubernetes", "engine", "vnc")
PLATFORM_KINDS = ("api", "kubelet", "k8s-agent", "docker-agent")
HEALTH_TIMEOUT = 30.0  # a platform part's health endpoint must answer 200 within this
HEALTH_POLL = 0.1  # how often it is asked besides its readiness signal (for programs that send none)


class StartCancelled(BackendError):
    """The stack was asked to stop while starting: the next step is not begun."""


@dataclass
class StackOptions:
    api_replicas: int = 3
    k8s_agents: int = 3
    docker_agents: int = 2
    namespace: str = "streamspace"
    k8s_agent_id: str = "k8s-local"
    docker_agent_id: str = "docker-local"
    results: Path = REPO / "results"
    start_timeout: float = 180.0
    # only these backends, and no platform (API replicas, agents): e.g. {"redis", "postgres"}
    only: frozenset[str] | None = None
    # the platform under test: a shipped platform file's name or a path (environments/local/platforms/)
    platform: str = "reference"
    # the folder of the platform's programs, for a platform you built (e.g. StreamSpace)
    programs: str | None = None
    # timings that override the platform file's (the platform's own settings, see its file)
    timings: dict[str, object] = field(default_factory=dict)


@dataclass
class Component:
    """One part of the stack that the fault hooks can act on."""

    name: str
    kind: str
    start: Callable[[], None]
    stop: Callable[[], None]
    kill: Callable[[], None]
    running: Callable[[], bool]
    info: Callable[[], dict[str, object]] = dict


class LocalStack:
    def __init__(self, options: StackOptions | None = None) -> None:
        self.options = options or StackOptions()
        # the platform file is read first: a wrong name or a missing program fails before anything starts
        self.platform: PlatformSpec = load_platform(self.options.platform, self.options.programs)
        self.timings: dict[str, object] = {**self.platform.timings, **self.options.timings}
        self.run_id = secrets.token_hex(4)
        self.state = Path(tempfile.mkdtemp(prefix=f"kit-stack-{self.run_id}-"))
        self.state.chmod(0o700)
        self._guards = [reaper.guard_path(self.state)]  # removed by a watcher if this process is killed
        self.logs = self.options.results / "components" / self.run_id
        self.components: dict[str, Component] = {}
        self.links = LinkTable()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.redis: RedisServer | None = None
        self.postgres: PostgresServer | None = None
        self.kube = None
        self.engine = None
        self.vnc: list[VncServer] = []
        self.session_image = ""
        self.api_urls: dict[str, str] = {}
        self.secrets = {
            "jwtSecret": secrets.token_hex(32),
            "agentKey": secrets.token_hex(32),
            "admin": strong_password(),
            "vnc": secrets.token_hex(4),
            **{user: strong_password() for user in USERS},
        }
        self.agent_api_keys: dict[str, str] = {}  # agent id -> the key the platform issued (seed)
        self.pods: dict[str, str] = {}  # slot name -> pod name
        self._procs: dict[str, ManagedProcess] = {}
        self.zygote: Zygote | None = None  # forks the platform's Python programs (zygote.py)
        self._notices: dict[str, ReadyNotice] = {}  # process -> its readiness signal, until it came
        self._health: dict[str, str | None] = {}  # process -> the URL that answers 200 once it is ready
        self._stopped = False
        self.cancelled = threading.Event()  # set (by cancel()) to stop a start in progress at its next step
        self._abort_read, self._abort_write = os.pipe()  # readable once cancelled: ends a wait in progress
        self.stop_errors: list[str] = []  # what could not be removed at stop (a leak the exit status reports)
        self.start_times: dict[str, float] = {}  # step of the start -> seconds (several run at the same time)
        self.stop_times: dict[str, float] = {}  # step of the stop -> seconds

    # ------------------------------------------------------------------ start
    def start(self, loop: asyncio.AbstractEventLoop) -> dict[str, object]:
        """Start everything; returns the topology. Runs in a worker thread beside ``loop``.

        Each part starts as soon as what it needs is ready: the backends all at once; the API replicas
        once Redis, PostgreSQL and the engine (the session image in their configuration) are; the
        kubelet stand-in once the Kubernetes API stand-in is; the agents beside the API replicas when
        they need nothing from the seed (see :meth:`_agents_wait_for_seed`), else after it. On a busy
        machine the early start wins: the agents' imports overlap the API replicas' start."""
        self.loop = loop
        self._check_results_dir()
        started = time.monotonic()
        self._start_zygote()
        starters = dict(zip(BACKENDS, (self._start_redis, self._start_postgres, self._start_kube,
                                       self._start_engine, self._start_vnc), strict=True))
        wanted = self.options.only or frozenset(starters)
        with ThreadPoolExecutor(len(wanted)) as pool:
            jobs = {name: pool.submit(self._timed, name, starters[name]) for name in sorted(wanted)}
            if self.options.only is None:
                self._start_platform(jobs)  # on a failure the pool still lets every backend's start end
            _first_failure(jobs.values())
        if self.options.only is None:
            self._timed("agents online", self._wait_for_agents)
        self.started_in = time.monotonic() - started
        return self.topology()

    def _start_platform(self, jobs: dict[str, Future[None]]) -> None:
        _first_failure(jobs[name] for name in ("redis", "postgres", "engine"))
        self._write_secrets()
        self._timed("api", self._launch_api_replicas)
        began = time.monotonic()
        early = not self._agents_wait_for_seed()
        _first_failure([jobs["kubernetes"]])
        if self.options.k8s_agents:
            self._timed("kubelet", self._start_kubelet)
        if early:
            self._timed("agents", self._start_agents)
        self._await_healthy([name for name, c in self.components.items() if c.kind == "api"])
        self.start_times["api"] += time.monotonic() - began
        self._timed("seed", self._seed)
        if not early:
            self._timed("agents", self._start_agents)

    def _agents_wait_for_seed(self) -> bool:
        """Whether the agents must start after the seed: when it obtains something they are given (an
        API key), or does anything through the API at all (any seed but ``reference``). Otherwise they
        start beside the API replicas and connect once one answers: the platform's agents retry
        connecting until an API replica answers, as the reference platform's do."""
        if self.platform.seed != "reference":
            return True
        parts = [self.platform.parts[p] for p in ("kubernetes-agent", "docker-agent") if p in self.platform.parts]
        return any("secret.agent_api_key" in part.placeholders() for part in parts)

    def cancel(self) -> None:
        """A stop was asked while starting: no further step begins and a wait in progress ends now."""
        if not self.cancelled.is_set():
            self.cancelled.set()
            os.write(self._abort_write, b"x")

    def _timed(self, name: str, step: Callable[[], None]) -> None:
        """Run one step of the start and keep how long it took (``start_times``, printed when ready);
        a stop asked meanwhile ends the start before the step."""
        if self.cancelled.is_set():
            raise StartCancelled("The stack was not started", f"a stop was asked before '{name}'")
        began = time.monotonic()
        step()
        self.start_times[name] = time.monotonic() - began

    def _check_results_dir(self) -> None:
        try:
            self.logs.mkdir(parents=True, exist_ok=True)
            probe = self.logs / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            raise BackendError("The local stack cannot write its logs", f"{self.logs}: {error.strerror}",
                               "make results/ writable (chmod u+w results) or pass --results DIR") from None

    def _start_redis(self) -> None:
        # kept before it starts: a start that fails or is cancelled half-way is stopped with the rest
        self.redis = RedisServer(self.logs, host="127.0.2.1")
        self.redis.start(abort=self._abort_read)
        self._register_backend("redis", "redis", self.redis.resume, self.redis.crash, self.redis.crash,
                               lambda: self.redis.process.running(), lambda: {"url": self.redis.url})

    def _start_postgres(self) -> None:
        self.postgres = PostgresServer(self.logs, host="127.0.2.2", databases=("streamspace",))
        self.postgres.start(abort=self._abort_read)
        self._register_backend("postgres", "postgres", self.postgres.resume, self.postgres.halt,
                               self.postgres.crash, lambda: self.postgres.process.running(),
                               lambda: {"dsn": self._dsn(), "url": self._db_url()})

    def _start_kube(self) -> None:
        from environments.local.kubeapi import KubeApiStandIn

        self.kube = KubeApiStandIn(self.logs, host="127.0.2.3")
        self.kube.start(abort=self._abort_read)
        self._register_backend("kubernetes", "kubernetes", self.kube.start, self.kube.stop, self.kube.stop,
                               lambda: self.kube.process is not None and self.kube.process.running(),
                               lambda: {"url": self.kube.url, "namespace": self.options.namespace, "standIn": True})
        self._create_namespace()

    def _start_vnc(self) -> None:
        """Two plain TigerVNC servers, security None and VNC authentication, for checks of the VNC path."""
        for server in (VncServer(self.logs, host="127.0.2.4", name="vnc-none"),
                       VncServer(self.state, host="127.0.2.4", name="vnc-auth", password=self.secrets["vnc"])):
            self.vnc.append(server)
            server.start()

    def _start_engine(self) -> None:
        from environments.local.engine import Engine
        from environments.local.images import ensure_session_image

        self.engine = Engine(self.state / "engine").start()
        self._guards.append(reaper.guard_labelled(self.engine.url, f"{RUN_LABEL}={self.run_id}",
                                                  podman=self.engine.kind == "podman"))
        self.session_image = ensure_session_image(self.engine.client(), abort=self._abort_read)  # a stop ends a build
        if self.platform.engine_objects.get("network"):
            # made here with the run's label, so the leak audit finds it and what is attached to it
            # even if this supervisor is killed; the platform's agent finds it and joins it
            self.engine.client().networks.create(self.session_network(), driver="bridge",
                                                 labels={RUN_LABEL: self.run_id})
        self.components["engine"] = Component(
            "engine", "engine", lambda: None, lambda: None, lambda: None, lambda: True,
            lambda: {"url": self.engine.url, "kind": self.engine.kind, "network": self.session_network(),
                     "image": self.session_image})

    def _register_backend(self, name: str, kind: str, start: Callable[[], None], stop: Callable[[], None],
                          kill: Callable[[], None], running: Callable[[], bool],
                          info: Callable[[], dict[str, object]]) -> None:
        self.components[name] = Component(name, kind, start, stop, kill, running, info)

    def _dsn(self, dbname: str = "streamspace") -> str:
        return f"host={self.postgres.host} port={self.postgres.port} user=postgres dbname={dbname} connect_timeout=5"

    def _db_url(self) -> str:
        return f"postgresql://postgres@{self.postgres.host}:{self.postgres.port}/streamspace"

    def _create_namespace(self) -> None:
        body = json.dumps({"apiVersion": "v1", "kind": "Namespace",
                           "metadata": {"name": self.options.namespace}}).encode()
        request = urllib.request.Request(f"{self.kube.url}/api/v1/namespaces", body,
                                         {"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def _write_secrets(self) -> None:
        config = {
            "runId": self.run_id,
            "runLabel": f"{RUN_LABEL}={self.run_id}",
            "sessionImage": self.session_image,
            "namespace": self.options.namespace,
            "timings": self.timings,
            "seed": {
                "admin": {"username": "admin", "password": self.secrets["admin"]},
                "users": [{"username": u, "password": self.secrets[u]} for u in USERS],
            },
        }
        self._private_file("config.json", json.dumps(config, indent=2))
        self._private_file("jwt.secret", self.secrets["jwtSecret"])
        self._private_file("agent.key", self.secrets["agentKey"])

    def _private_file(self, name: str, text: str) -> Path:
        path = self.state / name
        path.write_text(text)
        path.chmod(0o600)
        return path

    # -------------------------------------------------------------- processes
    def _link(self, client: str, server: str, host: str, port: int) -> str:
        future = asyncio.run_coroutine_threadsafe(self.links.add(client, server, host, port), self.loop)
        return future.result(10).address

    def _add_process(self, name: str, kind: str, argv: list[str], health: str | None,
                     info: Callable[[], dict[str, object]] = dict, env: dict[str, str] | None = None) -> None:
        """Register and launch one process; with a ``health`` URL, :meth:`_await_healthy` waits for it
        (a restart by the fault hooks waits at once)."""
        environment = {"PYTHONPATH": self._pythonpath(), "PYTHONUNBUFFERED": "1", **(env or {})}
        self._health[name] = health

        def launch() -> None:
            if name in self._procs and self._procs[name].running():
                return
            notice = ReadyNotice() if health else None
            extra = notice.env if notice else {}
            try:
                proc = ManagedProcess(name, argv, self.logs / f"{name}.log", cwd=self.state,
                                      env={**environment, **extra}, zygote=self.zygote)
                self._procs[name] = proc.start()
            except BaseException:
                if notice:
                    notice.close()
                raise
            if notice:
                self._notices[name] = notice

        def start() -> None:
            launch()
            self._await_healthy([name])

        def stop() -> None:
            if name in self._procs:
                self._procs[name].stop()

        def kill() -> None:
            if name in self._procs:
                self._procs[name].kill()

        def running() -> bool:
            return name in self._procs and self._procs[name].running()

        def details() -> dict[str, object]:
            proc = self._procs.get(name)
            return {"pid": proc.pid if proc and proc.running() else None, **info()}

        self.components[name] = Component(name, kind, start, stop, kill, running, details)
        launch()

    def _await_healthy(self, names: list[str]) -> None:
        """Wait, all at once, until each of these processes answers its health URL: woken by its
        readiness signal (READY=1, sent by programs that know the convention) or by its exit, and
        asking every HEALTH_POLL seconds besides. Fails with the first that did not become healthy."""
        waiting = [name for name in names if self._health.get(name)]
        if not waiting:
            return
        with ThreadPoolExecutor(len(waiting)) as pool:
            _first_failure([pool.submit(self._await_one, name) for name in waiting])

    def _await_one(self, name: str) -> None:
        url, proc, notice = self._health[name], self._procs[name], self._notices.pop(name, None)
        try:
            await_ready(f"{name} did not become healthy ({url} did not answer 200)", proc.popen, HEALTH_TIMEOUT,
                        proc.log, notice, lambda: _http_ok(url), HEALTH_POLL, self._abort_read)
        finally:
            if notice:
                notice.close()

    def _start_zygote(self) -> None:
        """Start the zygote when the platform runs Python programs of the kit's (the reference platform, a
        mutant's copy): it imports them while the backends start. With the ``PYTHONPATH`` those parts are run
        with; a part run otherwise is started the usual way."""
        if os.environ.get("KIT_ZYGOTE", "1") == "0":  # each program a process of its own, as its command says
            return
        paths = {part.env.get("PYTHONPATH", self._pythonpath()) for part in self.platform.parts.values()
                 if len(part.command) > 2 and tuple(part.command[:2]) == ("{python}", "-m")
                 and part.command[2].startswith(PLATFORM)}
        if len(paths) != 1 or "{" in next(iter(paths)):
            return
        self.zygote = Zygote(self.state, self.logs / "zygote.log", paths.pop(), name="zygote")
        self.zygote.start()

    @staticmethod
    def _pythonpath() -> str:
        return f"{REPO}{os.pathsep}{REPO / 'libraries'}"

    def _python(self, module: str, *args: str) -> list[str]:
        return [sys.executable, "-m", module, *args]

    # ------------------------------------------------------ the platform's parts
    def _values(self, part: PartSpec, name: str, index: int, host: str = "", port: int = 0,
                agent_id: str = "") -> dict[str, str]:
        """What the platform file's placeholders stand for, for one replica; links made on demand."""
        used = part.placeholders()
        values = {
            "name": name, "index": str(index), "letter": LETTERS[index - 1], "host": host, "port": str(port),
            "url": f"http://{host}:{port}", "namespace": self.options.namespace, "agent_id": agent_id,
            "state": str(self.state), "config": str(self.state / "config.json"),
            "jwt_secret_file": str(self.state / "jwt.secret"), "agent_key_file": str(self.state / "agent.key"),
            "python": sys.executable, "repo": str(REPO), "programs": str(self.platform.programs or ""),
            "engine_url": self.engine.url if self.engine else "",
            "session_platform": "kubernetes" if self.options.k8s_agents else "docker",
            "run_id": self.run_id,
            "secret.jwt": self.secrets["jwtSecret"], "secret.agent_key": self.secrets["agentKey"],
            "secret.admin": self.secrets["admin"],
            "secret.agent_api_key": self.agent_api_keys.get(agent_id, self.secrets["agentKey"]),
        }
        values["pod"] = part.render(part.pod, values)
        if used & {"redis", "redis_host", "redis_port"}:
            address = self._link(name, "redis", self.redis.host, self.redis.port)
            values["redis"] = address
            values["redis_host"], values["redis_port"] = address.split(":")
        if used & {"db_host", "db_port", "db_name", "db_user", "dsn"}:
            address = self._link(name, "postgres", self.postgres.host, self.postgres.port)
            values["db_host"], values["db_port"] = address.split(":")
            values["db_name"], values["db_user"] = "streamspace", "postgres"
            values["dsn"] = (f"host={values['db_host']} port={values['db_port']} user=postgres "
                             f"dbname=streamspace connect_timeout=5")
        if used & {"kube_url", "kubeconfig"}:
            values["kube_url"] = "http://" + self._link(name, "kubernetes", self.kube.host, self.kube.port)
            values["kubeconfig"] = str(self._kubeconfig(name, values["kube_url"]))
        if "api_urls" in used:
            values["api_urls"] = self._agent_api_urls(name)
        if "api_service" in used:
            values["api_service"] = self._api_service(name)
        return values

    def _kubeconfig(self, name: str, url: str) -> Path:
        """A kubeconfig naming the Kubernetes API stand-in through this component's own link."""
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "kit",
            "clusters": [{"name": "kit-stand-in", "cluster": {"server": url}}],
            "users": [{"name": "kit", "user": {}}],
            "contexts": [{"name": "kit", "context": {"cluster": "kit-stand-in", "user": "kit",
                                                      "namespace": self.options.namespace}}],
        }
        return self._private_file(f"kubeconfig-{name}", json.dumps(config, indent=2))

    def _api_service(self, client: str) -> str:
        servers = []
        for api, url in self.api_urls.items():
            host, port = url.removeprefix("http://").split(":")
            servers.append((api, host, int(port)))
        future = asyncio.run_coroutine_threadsafe(self.links.add_service(client, "api", servers), self.loop)
        return future.result(10).address

    def _start_part(self, part_name: str, kind: str, name: str, index: int, host: str = "", port: int = 0,
                    agent_id: str = "", info: Callable[[], dict[str, object]] | None = None) -> None:
        part = self.platform.part(part_name)
        values = self._values(part, name, index, host, port, agent_id)
        self.pods[name] = values["pod"]
        argv = part.argv(values)
        if part.hostname:
            argv = own_hostname(values["pod"], argv)
        health = f"http://{host}:{port}{part.health}" if part.health else None
        pod = values["pod"]
        details = info or dict
        self._add_process(name, kind, argv, health, lambda: {"pod": pod, **details()},
                          env=part.environment(values))

    def _launch_api_replicas(self) -> None:
        """Every API replica launched at once; :meth:`_await_healthy` then waits for them together."""
        for index in range(1, self.options.api_replicas + 1):
            name = f"api-{index}"
            host = f"127.0.1.{index}"
            port = free_port(host)
            url = f"http://{host}:{port}"
            self.api_urls[name] = url
            self._start_part("api", "api", name, index, host, port, info=lambda url=url: {"url": url})

    def _agent_api_urls(self, replica: str) -> str:
        urls = []
        for api, url in self.api_urls.items():
            host, port = url.removeprefix("http://").split(":")
            urls.append("http://" + self._link(replica, api, host, int(port)))
        return ",".join(urls)

    def _start_kubelet(self) -> None:
        """The kubelet stand-in belongs to the Kubernetes stand-in: it runs the pods any platform asks for."""
        kube = self._link("kubelet", "kubernetes", self.kube.host, self.kube.port)
        argv = self._python("environments.local.platform.agents.kubelet", "--kube-url", f"http://{kube}",
                            "--namespace", self.options.namespace, "--config", str(self.state / "config.json"),
                            "--workdir", str(self.state / "kubelet"))  # in the stack's folder: gone with it
        self._add_process("kubelet", "kubelet", argv, None)

    def _start_agents(self) -> None:
        if self.options.k8s_agents and "kubernetes-agent" not in self.platform.parts:
            raise BackendError(f"The {self.platform.name} platform has no Kubernetes agent",
                               f"{self.platform.path.name} has no 'kubernetes-agent' part",
                               "start the stack with --k8s-agents 0, or add the part")
        if self.options.docker_agents and "docker-agent" not in self.platform.parts:
            raise BackendError(f"The {self.platform.name} platform has no Docker agent",
                               f"{self.platform.path.name} has no 'docker-agent' part",
                               "start the stack with --docker-agents 0, or add the part")
        for index in range(1, self.options.k8s_agents + 1):
            self._start_part("kubernetes-agent", "k8s-agent", f"k8s-agent-{LETTERS[index - 1]}", index,
                             agent_id=self.options.k8s_agent_id)
        for index in range(1, self.options.docker_agents + 1):
            self._start_part("docker-agent", "docker-agent", f"docker-agent-{LETTERS[index - 1]}", index,
                             agent_id=self.options.docker_agent_id)

    def _seed(self) -> None:
        """What the platform needs before its agents start and the suites use it (see platforms.seeding)."""
        from environments.local.platforms.seeding import SeedContext, seed

        agents = {}
        if self.options.k8s_agents:
            agents[self.options.k8s_agent_id] = "kubernetes"
        if self.options.docker_agents:
            agents[self.options.docker_agent_id] = "docker"
        templates = {name: {"image": self.session_image, "platform": platform, "port": 5900}
                     for name, platform in TEMPLATES.items()}
        context = SeedContext(api_url=next(iter(self.api_urls.values())), admin_password=self.secrets["admin"],
                              bootstrap_key=self.secrets["agentKey"], users={u: self.secrets[u] for u in USERS},
                              agents=agents, templates=templates, dsn=self._dsn())
        self.agent_api_keys.update(seed(self.platform.seed, context))

    def _agent_ids(self) -> list[str]:
        wanted = []
        if self.options.k8s_agents:
            wanted.append(self.options.k8s_agent_id)
        if self.options.docker_agents:
            wanted.append(self.options.docker_agent_id)
        return wanted

    def _wait_for_agents(self, timeout: float = 90.0) -> None:
        wanted = self._agent_ids()
        if not wanted:
            return
        token = self.admin_token()
        url = next(iter(self.api_urls.values()))

        def online() -> bool:
            agents = _http_json(f"{url}/api/v1/admin/agents?status=online", token)["agents"]
            return set(wanted) <= {a["agentId"] for a in agents if a.get("status", "online") == "online"}

        def every_replica_of_a_part_exited() -> str | None:
            if self.cancelled.is_set():
                return "a stop was asked while waiting"
            for kind in ("k8s-agent", "docker-agent"):
                replicas = [c for c in self.components.values() if c.kind == kind]
                if replicas and not any(c.running() for c in replicas):
                    first = replicas[0].name
                    return f"every {kind} replica exited; {first}" + log_tail(self.logs / f"{first}.log")
            return None

        wait_for(online, timeout, f"agents {', '.join(wanted)} did not come online (see the agent logs in {self.logs})",
                 hopeless=every_replica_of_a_part_exited, poll=0.05)

    def admin_token(self) -> str:
        url = next(iter(self.api_urls.values()))
        body = json.dumps({"username": "admin", "password": self.secrets["admin"]}).encode()
        request = urllib.request.Request(f"{url}/api/v1/auth/login", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())["token"]

    def session_network(self) -> str:
        """The engine network the platform's Docker sessions join."""
        return self.platform.engine_objects.get("network", "streamspace").replace("{run_id}", self.run_id)

    def _remove_platform_engine_objects(self) -> None:
        """What the platform made in the engine without the kit's run label (``engineObjects``): the
        containers on this run's session network, their sessions' volumes, then the network."""
        wanted = self.platform.engine_objects
        if not wanted.get("network") or self.engine is None:
            return
        import docker.errors

        client = self.engine.client()
        network = self.session_network()
        failures: list[str] = []

        def attempt(what: str, action: Callable[[], object]) -> None:
            try:
                action()
            except docker.errors.NotFound:
                pass
            except Exception as error:  # noqa: BLE001 - go on, report at the end
                failures.append(f"{what}: {error}")

        sessions = set()
        for container in list_containers(client, all=True, filters={"network": network}):
            label = wanted.get("sessionLabel")
            if label and container.labels.get(label):
                sessions.add(container.labels[label])
            attempt(f"container {container.name}", lambda c=container: c.remove(force=True, v=True))
        prefix = wanted.get("sessionVolumePrefix", "")
        for volume in client.volumes.list() if prefix and sessions else []:
            if any(volume.name.startswith(prefix.replace("{session}", s)) for s in sessions):
                attempt(f"volume {volume.name}", lambda v=volume: v.remove(force=True))
        for found in client.networks.list(names=[network]):
            if found.name == network:
                attempt(f"network {network}", found.remove)
        if failures:
            raise BackendError("Could not remove what the platform made in the engine", "; ".join(failures),
                               "remove them by hand (podman rm -f / docker rm -f)")

    # ---------------------------------------------------------------- topology
    def k8s_leader(self) -> str | None:
        if not self.kube or not self.options.k8s_agents:
            return None
        lease = self.lease_name()
        try:
            data = _http_json(f"{self.kube.url}/apis/coordination.k8s.io/v1/namespaces/"
                              f"{self.options.namespace}/leases/{lease}")
        except Exception:  # noqa: BLE001 - no lease yet means no leader
            return None
        holder = (data.get("spec") or {}).get("holderIdentity")
        return holder if holder and self._lease_fresh(data) else None

    def lease_name(self) -> str:
        template = self.platform.leader.get("lease", "streamspace-agent-{agent_id}")
        return template.replace("{agent_id}", self.options.k8s_agent_id)

    def docker_lock_key(self) -> str:
        template = self.platform.leader.get("redisKey", "streamspace:agent:leader:{agent_id}")
        return template.replace("{agent_id}", self.options.docker_agent_id)

    @staticmethod
    def _lease_fresh(lease: dict) -> bool:
        from datetime import datetime

        spec = lease.get("spec") or {}
        renew, duration = spec.get("renewTime"), spec.get("leaseDurationSeconds") or 0
        if not renew:
            return True
        renewed = datetime.fromisoformat(renew.replace("Z", "+00:00"))
        return (datetime.now(UTC) - renewed).total_seconds() <= float(duration)

    def docker_leader(self) -> str | None:
        if not self.redis or not self.options.docker_agents or not self.redis.process.running():
            return None
        import redis

        try:
            client = redis.Redis(host=self.redis.host, port=self.redis.port, socket_timeout=1, decode_responses=True)
            value = client.get(self.docker_lock_key())
            client.close()
        except redis.RedisError:
            return None
        return value

    def topology(self) -> dict[str, object]:
        # the platform stores pod names (the Lease holder, the lock's value); the topology maps them to slots
        k8s_leader, docker_leader = self.k8s_leader(), self.docker_leader()

        def replicas(kind: str, leader: str | None) -> list[dict[str, object]]:
            return [{"name": c.name, "running": c.running(),
                     "leader": leader is not None and self.pods.get(c.name, c.name) == leader, **c.info()}
                    for c in self.components.values() if c.kind == kind]

        def backend(name: str) -> dict[str, object]:
            c = self.components.get(name)
            return {"running": c.running(), **c.info()} if c else {"running": False}

        return {
            "environment": "local",
            "runId": self.run_id,
            "platform": {"name": self.platform.name, "file": str(self.platform.path),
                         "programs": str(self.platform.programs) if self.platform.programs else None},
            "api": [{"name": c.name, "running": c.running(), **c.info()}
                    for c in self.components.values() if c.kind == "api"],
            "agents": {
                "kubernetes": {"agentId": self.options.k8s_agent_id, "namespace": self.options.namespace,
                               "lease": self.lease_name(),
                               "replicas": replicas("k8s-agent", k8s_leader)},
                "docker": {"agentId": self.options.docker_agent_id,
                           "lockKey": self.docker_lock_key(),
                           "replicas": replicas("docker-agent", docker_leader)},
            },
            "kubelet": backend("kubelet"),
            "redis": backend("redis"),
            "postgres": backend("postgres"),
            "kubernetes": backend("kubernetes"),
            "engine": backend("engine"),
            "vnc": [{"name": v.name, "host": v.host, "port": v.port, "security": v.security,
                     "running": v.process.running()} for v in self.vnc],
            "credentials": {
                "vnc": {"password": self.secrets["vnc"]},
                "admin": {"username": "admin", "password": self.secrets["admin"]},
                "users": [{"username": u, "password": self.secrets[u]} for u in USERS],
                "agentKey": self.secrets["agentKey"],
                "jwtSecret": self.secrets["jwtSecret"],
            },
            "timings": self.timings,
            "labels": {"run": f"{RUN_LABEL}={self.run_id}"},
            "sessionImage": self.session_image,
            "logs": str(self.logs),
            "partitions": self.links.cuts(),
            "connections": self.links.connections(),
        }

    # ------------------------------------------------------------------- faults
    def component(self, name: str) -> Component:
        if name not in self.components:
            raise KeyError(name)
        return self.components[name]

    # -------------------------------------------------------------------- stop
    def stop(self) -> None:
        """Stop everything that was started; never raises. Two steps, each all at once (SIGTERM to every
        process of the step, SIGKILL to one still there after its grace): first the platform's programs,
        the kubelet stand-in and the plain VNC servers, while the backends they may still talk to while
        stopping are up; then the links, what the run made in the engine (nothing makes more now) and
        the engine, beside the other backends."""
        if self._stopped:
            return
        self._stopped = True
        self.cancel()
        began = time.monotonic()
        platform = [c.stop for c in self.components.values() if c.kind in PLATFORM_KINDS]
        _all_at_once([*platform, *(vnc.stop for vnc in self.vnc)])
        for notice in self._notices.values():
            notice.close()
        if self.zygote is not None:  # after its programs: it reports their exits
            self.zygote.stop()
        self.stop_times["platform"] = time.monotonic() - began
        middle = time.monotonic()
        if self.loop and self.loop.is_running():
            _quietly(lambda: asyncio.run_coroutine_threadsafe(self.links.close(), self.loop).result(10))
        backends = {name: b.stop for name, b in (("kubernetes", self.kube), ("postgres", self.postgres),
                                                  ("redis", self.redis)) if b is not None}
        if self.engine is not None:
            backends["engine"] = self._stop_engine
        self.stop_times.update(_all_at_once(list(backends.values()), list(backends)))
        shutil.rmtree(self.state, ignore_errors=True)
        for token in self._guards:
            reaper.release(token)
        for handle in (self._abort_read, self._abort_write):
            os.close(handle)
        self.stop_times["backends"] = time.monotonic() - middle

    def _stop_engine(self) -> None:
        from environments.local.engine import cleanup_by_label

        # first what the platform made on the run's network, then everything labelled (the network too)
        _quietly(self._remove_platform_engine_objects, self.stop_errors)
        _quietly(lambda: cleanup_by_label(self.engine.client(), f"{RUN_LABEL}={self.run_id}"), self.stop_errors)
        self.engine.stop()


def strong_password() -> str:
    """A fresh password that any usual password rule accepts: upper, lower, digit and special character."""
    pick = secrets.SystemRandom()
    return (secrets.token_urlsafe(12) + pick.choice(string.ascii_uppercase) + pick.choice(string.ascii_lowercase)
            + pick.choice(string.digits) + pick.choice("!#%+=@^"))


def own_hostname(hostname: str, argv: list[str]) -> list[str]:
    """Run ``argv`` in its own UTS namespace under ``hostname``, as a container or pod has its own."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        raise BackendError("A platform part must run under its own hostname (as in a container)",
                           "that needs 'unshare --uts' (util-linux) and root",
                           "run the stack as root, or set hostname: false in the platform file")
    return [unshare, "--uts", "--", "sh", "-c", 'hostname "$0" && exec "$@"', hostname, *argv]


def _all_at_once(actions: list[Callable[[], object]], names: list[str] | None = None) -> dict[str, float]:
    """Run every action at the same time and wait for all; a failure is printed, never raised.
    With ``names``: how long each took (seconds by name)."""
    took: dict[str, float] = {}

    def timed(name: str, action: Callable[[], object]) -> None:
        began = time.monotonic()
        _quietly(action)
        took[name] = time.monotonic() - began

    if actions:
        with ThreadPoolExecutor(len(actions)) as pool:
            for index, action in enumerate(actions):
                pool.submit(timed, names[index] if names else str(index), action)
    return took if names else {}


def _quietly(action: Callable[[], object], errors: list[str] | None = None) -> None:
    try:
        action()
    except Exception as error:  # noqa: BLE001 - stopping must go on
        print(f"[stack] while stopping: {error}", file=sys.stderr, flush=True)
        if errors is not None:
            errors.append(str(error))


def _first_failure(jobs: Iterable[Future[None]]) -> None:
    """Wait until every job has ended, then raise the failure of the first one that failed."""
    jobs = list(jobs)
    wait(jobs)
    for job in jobs:
        job.result()


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def _http_json(url: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=3) as response:
        return json.loads(response.read())
