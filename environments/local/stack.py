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
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path

from environments.local.links import LinkTable
from environments.local.postgres_server import PostgresServer
from environments.local.procs import BackendError, ManagedProcess, free_port, wait_for
from environments.local.redis_server import RedisServer
from environments.local.vnc_server import VncServer

REPO = Path(__file__).resolve().parents[2]
RUN_LABEL = "streamspace.kit/run"
USERS = ("alice", "bob", "carol", "dave", "erin")
BACKENDS = ("redis", "postgres", "kubernetes", "engine", "vnc")


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
    timings: dict[str, object] = field(default_factory=lambda: {
        "heartbeatInterval": 1.0,
        "staleAfter": 4.0,
        "leaseDuration": 3.0,
        "renewDeadline": 2.0,
        "retryPeriod": 0.5,
        "reconnectBackoff": [0.2, 0.4, 0.8, 1.6, 3.2],
        "dockerLeaderLease": 3.0,
        "commandPoll": 0.5,
        "redisRetryBackoff": [0.2, 0.5, 1.0, 2.0],
    })


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
        self.run_id = secrets.token_hex(4)
        self.state = Path(tempfile.mkdtemp(prefix=f"kit-stack-{self.run_id}-"))
        self.state.chmod(0o700)
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
            "admin": secrets.token_urlsafe(12),
            "vnc": secrets.token_hex(4),
            **{user: secrets.token_urlsafe(12) for user in USERS},
        }
        self._procs: dict[str, ManagedProcess] = {}
        self._argv: dict[str, tuple[list[str], Callable[[], None] | None]] = {}
        self._stopped = False
        self.stop_errors: list[str] = []  # what could not be removed at stop (a leak the exit status reports)

    # ------------------------------------------------------------------ start
    def start(self, loop: asyncio.AbstractEventLoop) -> dict[str, object]:
        """Start everything; returns the topology. Runs in a worker thread beside ``loop``."""
        self.loop = loop
        self._check_results_dir()
        started = time.monotonic()
        starters = dict(zip(BACKENDS, (self._start_redis, self._start_postgres, self._start_kube,
                                       self._start_engine, self._start_vnc), strict=True))
        wanted = self.options.only or frozenset(starters)
        with ThreadPoolExecutor(len(wanted)) as pool:
            jobs = [pool.submit(starters[name]) for name in sorted(wanted)]
            for job in jobs:
                job.result()
        self.started_in = time.monotonic() - started
        if self.options.only is not None:
            return self.topology()
        self._write_secrets()
        self._start_api_replicas()
        self._start_kubelet()
        self._start_agents()
        self._wait_for_agents()
        self.started_in = time.monotonic() - started
        return self.topology()

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
        self.redis = RedisServer(self.logs, host="127.0.2.1").start()
        self._register_backend("redis", "redis", self.redis.resume, self.redis.crash, self.redis.crash,
                               lambda: self.redis.process.running(), lambda: {"url": self.redis.url})

    def _start_postgres(self) -> None:
        self.postgres = PostgresServer(self.logs, host="127.0.2.2").start()
        self._create_database()
        self._register_backend("postgres", "postgres", self.postgres.resume, self.postgres.halt,
                               self.postgres.crash, lambda: self.postgres.process.running(),
                               lambda: {"dsn": self._dsn(), "url": self._db_url()})

    def _start_kube(self) -> None:
        from environments.local.kubeapi import KubeApiStandIn

        self.kube = KubeApiStandIn(self.logs, host="127.0.2.3").start()
        self._register_backend("kubernetes", "kubernetes", self.kube.start, self.kube.stop, self.kube.stop,
                               lambda: self.kube.process is not None and self.kube.process.running(),
                               lambda: {"url": self.kube.url, "namespace": self.options.namespace, "standIn": True})
        self._create_namespace()

    def _start_vnc(self) -> None:
        """Two plain TigerVNC servers, security None and VNC authentication, for checks of the VNC path."""
        self.vnc = [VncServer(self.logs, host="127.0.2.4", name="vnc-none").start(),
                    VncServer(self.state, host="127.0.2.4", name="vnc-auth", password=self.secrets["vnc"]).start()]

    def _start_engine(self) -> None:
        from environments.local.engine import Engine
        from environments.local.images import ensure_session_image

        self.engine = Engine(self.state / "engine").start()
        self.session_image = ensure_session_image(self.engine.client())
        self.components["engine"] = Component(
            "engine", "engine", lambda: None, lambda: None, lambda: None, lambda: True,
            lambda: {"url": self.engine.url, "kind": self.engine.kind, "network": "streamspace",
                     "image": self.session_image})

    def _register_backend(self, name: str, kind: str, start: Callable[[], None], stop: Callable[[], None],
                          kill: Callable[[], None], running: Callable[[], bool],
                          info: Callable[[], dict[str, object]]) -> None:
        self.components[name] = Component(name, kind, start, stop, kill, running, info)

    def _dsn(self, dbname: str = "streamspace") -> str:
        return f"host={self.postgres.host} port={self.postgres.port} user=postgres dbname={dbname} connect_timeout=5"

    def _db_url(self) -> str:
        return f"postgresql://postgres@{self.postgres.host}:{self.postgres.port}/streamspace"

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(self.postgres.dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE streamspace")

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
            "timings": self.options.timings,
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

    def _add_process(self, name: str, kind: str, argv: list[str], ready: Callable[[], None] | None,
                     info: Callable[[], dict[str, object]] = dict) -> None:
        self._argv[name] = (argv, ready)

        def start() -> None:
            if name in self._procs and self._procs[name].running():
                return
            proc = ManagedProcess(name, argv, self.logs / f"{name}.log", cwd=REPO,
                                  env={"PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'libraries'}",
                                       "PYTHONUNBUFFERED": "1"})
            self._procs[name] = proc.start()
            if ready:
                ready()

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
        start()

    def _python(self, module: str, *args: str) -> list[str]:
        return [sys.executable, "-m", module, *args]

    def _start_api_replicas(self) -> None:
        for index in range(1, self.options.api_replicas + 1):
            name = f"api-{index}"
            host = f"127.0.1.{index}"
            port = free_port(host)
            url = f"http://{host}:{port}"
            self.api_urls[name] = url
            redis = self._link(name, "redis", self.redis.host, self.redis.port)
            pg_host, pg_port = self._link(name, "postgres", self.postgres.host, self.postgres.port).split(":")
            dsn = f"host={pg_host} port={pg_port} user=postgres dbname=streamspace connect_timeout=5"
            argv = self._python(
                "environments.local.platform.api", "--name", name, "--host", host, "--port", str(port),
                "--redis-url", f"redis://{redis}/1", "--database-dsn", dsn,
                "--jwt-secret-file", str(self.state / "jwt.secret"),
                "--agent-key-file", str(self.state / "agent.key"), "--config", str(self.state / "config.json"))
            self._add_process(name, "api", argv, self._health_waiter(name, url), lambda url=url: {"url": url})

    def _health_waiter(self, name: str, url: str) -> Callable[[], None]:
        def ready() -> None:
            proc = self._procs[name]
            wait_for(lambda: _http_ok(f"{url}/health"), 30, f"API replica {name} did not become healthy",
                     proc.log, proc.popen)
        return ready

    def _agent_api_urls(self, replica: str) -> str:
        urls = []
        for api, url in self.api_urls.items():
            host, port = url.removeprefix("http://").split(":")
            urls.append("http://" + self._link(replica, api, host, int(port)))
        return ",".join(urls)

    def _start_kubelet(self) -> None:
        kube = self._link("kubelet", "kubernetes", self.kube.host, self.kube.port)
        argv = self._python("environments.local.platform.agents.kubelet", "--kube-url", f"http://{kube}",
                            "--namespace", self.options.namespace, "--config", str(self.state / "config.json"))
        self._add_process("kubelet", "kubelet", argv, None)

    def _start_agents(self) -> None:
        for letter in "abcdefghij"[: self.options.k8s_agents]:
            name = f"k8s-agent-{letter}"
            kube = self._link(name, "kubernetes", self.kube.host, self.kube.port)
            argv = self._python(
                "environments.local.platform.agents.kubernetes", "--replica", name,
                "--agent-id", self.options.k8s_agent_id, "--namespace", self.options.namespace,
                "--kube-url", f"http://{kube}", "--api-urls", self._agent_api_urls(name),
                "--agent-key-file", str(self.state / "agent.key"), "--config", str(self.state / "config.json"))
            self._add_process(name, "k8s-agent", argv, None)
        for letter in "abcdefghij"[: self.options.docker_agents]:
            name = f"docker-agent-{letter}"
            redis = self._link(name, "redis", self.redis.host, self.redis.port)
            argv = self._python(
                "environments.local.platform.agents.docker", "--replica", name,
                "--agent-id", self.options.docker_agent_id, "--engine-url", self.engine.url,
                "--redis-url", f"redis://{redis}/0", "--api-urls", self._agent_api_urls(name),
                "--agent-key-file", str(self.state / "agent.key"), "--config", str(self.state / "config.json"))
            self._add_process(name, "docker-agent", argv, None)

    def _wait_for_agents(self) -> None:
        wanted = []
        if self.options.k8s_agents:
            wanted.append(self.options.k8s_agent_id)
        if self.options.docker_agents:
            wanted.append(self.options.docker_agent_id)
        if not wanted:
            return
        token = self.admin_token()
        url = next(iter(self.api_urls.values()))

        def online() -> bool:
            agents = _http_json(f"{url}/api/v1/admin/agents?status=online", token)["agents"]
            return set(wanted) <= {a["agentId"] for a in agents}

        wait_for(online, 60, f"agents {', '.join(wanted)} did not come online (see the agent logs in {self.logs})")

    def admin_token(self) -> str:
        url = next(iter(self.api_urls.values()))
        body = json.dumps({"username": "admin", "password": self.secrets["admin"]}).encode()
        request = urllib.request.Request(f"{url}/api/v1/auth/login", body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())["token"]

    # ---------------------------------------------------------------- topology
    def k8s_leader(self) -> str | None:
        if not self.kube or not self.options.k8s_agents:
            return None
        lease = f"streamspace-agent-{self.options.k8s_agent_id}"
        try:
            data = _http_json(f"{self.kube.url}/apis/coordination.k8s.io/v1/namespaces/"
                              f"{self.options.namespace}/leases/{lease}")
        except Exception:  # noqa: BLE001 - no lease yet means no leader
            return None
        holder = (data.get("spec") or {}).get("holderIdentity")
        return holder if holder and self._lease_fresh(data) else None

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
            value = client.get(f"streamspace:agent:leader:{self.options.docker_agent_id}")
            client.close()
        except redis.RedisError:
            return None
        return value

    def topology(self) -> dict[str, object]:
        k8s_leader, docker_leader = self.k8s_leader(), self.docker_leader()

        def replicas(kind: str, leader: str | None) -> list[dict[str, object]]:
            return [{"name": c.name, "running": c.running(), "leader": c.name == leader, **c.info()}
                    for c in self.components.values() if c.kind == kind]

        def backend(name: str) -> dict[str, object]:
            c = self.components.get(name)
            return {"running": c.running(), **c.info()} if c else {"running": False}

        return {
            "environment": "local",
            "runId": self.run_id,
            "api": [{"name": c.name, "running": c.running(), **c.info()}
                    for c in self.components.values() if c.kind == "api"],
            "agents": {
                "kubernetes": {"agentId": self.options.k8s_agent_id, "namespace": self.options.namespace,
                               "lease": f"streamspace-agent-{self.options.k8s_agent_id}",
                               "replicas": replicas("k8s-agent", k8s_leader)},
                "docker": {"agentId": self.options.docker_agent_id,
                           "lockKey": f"streamspace:agent:leader:{self.options.docker_agent_id}",
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
            "timings": self.options.timings,
            "labels": {"run": f"{RUN_LABEL}={self.run_id}"},
            "sessionImage": self.session_image,
            "logs": str(self.logs),
            "partitions": self.links.cuts(),
        }

    # ------------------------------------------------------------------- faults
    def component(self, name: str) -> Component:
        if name not in self.components:
            raise KeyError(name)
        return self.components[name]

    # -------------------------------------------------------------------- stop
    def stop(self) -> None:
        """Stop everything that was started, newest first; never raises."""
        if self._stopped:
            return
        self._stopped = True
        for kinds in (("docker-agent", "k8s-agent"), ("kubelet",), ("api",)):
            group = [c for c in self.components.values() if c.kind in kinds]
            with ThreadPoolExecutor(max(1, len(group))) as pool:
                for component in group:
                    pool.submit(_quietly, component.stop)
        if self.loop and self.loop.is_running():
            _quietly(lambda: asyncio.run_coroutine_threadsafe(self.links.close(), self.loop).result(10))
        if self.engine is not None:
            from environments.local.engine import cleanup_by_label

            _quietly(lambda: cleanup_by_label(self.engine.client(), f"{RUN_LABEL}={self.run_id}"), self.stop_errors)
            _quietly(self.engine.stop)
        for backend in (*self.vnc, self.kube, self.postgres, self.redis):
            if backend is not None:
                _quietly(backend.stop)
        shutil.rmtree(self.state, ignore_errors=True)


def _quietly(action: Callable[[], object], errors: list[str] | None = None) -> None:
    try:
        action()
    except Exception as error:  # noqa: BLE001 - stopping must go on
        print(f"[stack] while stopping: {error}", file=sys.stderr, flush=True)
        if errors is not None:
            errors.append(str(error))


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def _http_json(url: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=3) as response:
        return json.loads(response.read())
