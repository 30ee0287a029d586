"""The compose project: secrets, ``up``/``down`` with a compose tool, topology and faults via the engine.

The compose tool only creates and removes the project; everything else -- which containers run,
their published ports, kill/stop/start/restart, network disconnect/connect -- goes through the
Docker API (the ``docker`` SDK), so it works the same under Docker and Podman.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from environments.local.procs import free_port
from kitcore import KitError, TargetGuard
from kitcore.containers import list_containers

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
RUN_LABEL = "streamspace.kit/run"
USERS = ("alice", "bob", "carol", "dave", "erin")
BACKENDS = ("redis", "postgres", "kubernetes")
ACTIONS = ("kill", "stop", "start", "restart")
TOOL_TIMEOUT = 300.0
STOP_TIMEOUT = 5
LOCAL_TIMINGS = {"heartbeatInterval": 1.0, "staleAfter": 4.0, "leaseDuration": 3.0, "renewDeadline": 2.0,
                 "retryPeriod": 0.5, "reconnectBackoff": [0.2, 0.4, 0.8, 1.6, 3.2], "dockerLeaderLease": 3.0,
                 "commandPoll": 0.5, "redisRetryBackoff": [0.2, 0.5, 1.0, 2.0]}


def find_compose_tool(preferred: str = "") -> list[str]:
    """The compose command: ``preferred`` (words), else docker-compose, else podman-compose."""
    if preferred:
        return preferred.split()
    for tool in ("docker-compose", "podman-compose"):
        path = shutil.which(tool)
        if path:
            return [path]
    raise KitError("No compose tool found", cause="neither docker-compose nor podman-compose is on the PATH",
                   fix="apt-get install docker-compose (it talks to the engine's Docker API), or set COMPOSE_COMMAND")


@dataclass
class ComposeSettings:
    file: str = str(HERE / "compose.yaml")  # relative paths are taken from the repository root
    project: str = ""                  # default: kit-<run id>
    command: str = ""                  # default: docker-compose, else podman-compose
    engine_url: str = ""               # default: DOCKER_HOST, /var/run/docker.sock, else the kit's podman service
    namespace: str = "streamspace"
    agent_id: str = "k8s-compose"
    api_replicas: int = 3
    agent_replicas: int = 3
    test_projects: str = "kit-*"       # faults act only on containers of these compose projects
    timings: dict[str, Any] = field(default_factory=lambda: dict(LOCAL_TIMINGS))

    @classmethod
    def load(cls, lookup: Any = None, **overrides: Any) -> ComposeSettings:
        values: dict[str, Any] = {}
        for key in cls.__dataclass_fields__:
            value = overrides.get(key)
            if value in (None, "") and lookup is not None:
                value = lookup(f"KIT_COMPOSE_{key.upper()}")
            if value in (None, ""):
                value = os.environ.get(f"KIT_COMPOSE_{key.upper()}")
            if value not in (None, ""):
                values[key] = _convert(key, value)
        return cls(**values)


def _convert(key: str, value: Any) -> Any:
    try:
        if key in ("api_replicas", "agent_replicas"):
            return int(value)
        if key == "timings":
            data = json.loads(value) if isinstance(value, str) else dict(value)
            return {**LOCAL_TIMINGS, **data}
    except (TypeError, ValueError) as error:
        raise KitError(f"The compose setting KIT_COMPOSE_{key.upper()} is not usable", cause=f"{value!r}: {error}",
                       fix="correct it in environments/compose/variables.yaml") from None
    return str(value)


class ComposeStack:
    """One compose project of the reference stack on one engine."""

    def __init__(self, settings: ComposeSettings, client: Any, engine_url: str, image: str,
                 run_id: str | None = None) -> None:
        self.settings = settings
        self.client = client
        self.engine_url = engine_url
        self.image = image
        self.run_id = run_id or secrets.token_hex(4)
        self.project = settings.project or f"kit-{self.run_id}"
        self.secrets_dir: Path | None = None
        self.values: dict[str, Any] = {}
        self.cuts: list[dict[str, Any]] = []
        self._ports: dict[str, str] = {}
        self.guard = TargetGuard("EnvironmentKit (compose)", "KIT_TEST_COMPOSE_PROJECTS",
                                 settings.test_projects.split(","))

    # -- secrets and the compose tool ------------------------------------------------------------
    def write_secrets(self) -> Path:
        folder = Path(tempfile.mkdtemp(prefix=f"kit-compose-{self.run_id}-"))
        folder.chmod(0o700)
        self.values = {"jwtSecret": secrets.token_hex(32), "agentKey": secrets.token_hex(32),
                       "admin": secrets.token_urlsafe(12), "postgres": secrets.token_urlsafe(16),
                       **{user: secrets.token_urlsafe(12) for user in USERS}}
        config = {"runId": self.run_id, "runLabel": f"{RUN_LABEL}={self.run_id}", "namespace": self.settings.namespace,
                  "timings": self.settings.timings,
                  "seed": {"admin": {"username": "admin", "password": self.values["admin"]},
                           "users": [{"username": u, "password": self.values[u]} for u in USERS]}}
        files = {"config.json": json.dumps(config, indent=2), "jwt.secret": self.values["jwtSecret"],
                 "agent.key": self.values["agentKey"], "pg.password": self.values["postgres"],
                 "pgpass": f"*:*:*:postgres:{self.values['postgres']}\n"}
        for name, text in files.items():
            path = folder / name
            path.write_text(text)
            path.chmod(0o600)
        self.secrets_dir = folder
        return folder

    def host_ports(self) -> dict[str, str]:
        """``KIT_PORT_<SERVICE>`` -> a free loopback port for each published service, fixed for the run."""
        if not self._ports:
            data = yaml.safe_load(self.compose_file.read_text()) or {}
            for service, spec in (data.get("services") or {}).items():
                if isinstance(spec, dict) and spec.get("ports"):
                    key = "KIT_PORT_" + re.sub(r"[^A-Z0-9]", "_", service.upper())
                    self._ports[key] = str(free_port("127.0.0.1"))
        return self._ports

    def tool_env(self) -> dict[str, str]:
        assert self.secrets_dir is not None
        return {**os.environ, "DOCKER_HOST": self.engine_url, "KIT_PLATFORM_IMAGE": self.image,
                "KIT_SECRETS_DIR": str(self.secrets_dir), "KIT_RUN_ID": self.run_id,
                "COMPOSE_PROJECT_NAME": self.project, **self.host_ports()}

    @property
    def compose_file(self) -> Path:
        path = Path(self.settings.file)
        return path if path.is_absolute() else REPO / path

    def run_tool(self, *args: str, timeout: float = TOOL_TIMEOUT) -> str:
        argv = [*find_compose_tool(self.settings.command), "-p", self.project, "-f", str(self.compose_file), *args]
        try:
            result = subprocess.run(argv, env=self.tool_env(), capture_output=True, text=True, timeout=timeout,
                                    check=False)
        except subprocess.TimeoutExpired:
            raise KitError(f"'{' '.join(args)}' of the compose project {self.project} did not finish",
                           cause=f"more than {timeout:g} s", fix="check the container engine (it may be overloaded "
                           "or stuck); 'podman ps -a' shows the containers") from None
        if result.returncode != 0:
            tail = "\n  ".join((result.stderr or result.stdout).strip().splitlines()[-10:])
            raise KitError(f"'{' '.join(args)}' of the compose project {self.project} failed",
                           cause=f"exit code {result.returncode}:\n  {tail}",
                           fix=f"read the compose tool's lines above; the file is {self.compose_file}")
        return result.stdout

    def up(self) -> None:
        if self.secrets_dir is None:
            self.write_secrets()
        self.run_tool("up", "-d", "--no-build")

    def down(self) -> None:
        """Remove the project's containers, networks and volumes (also when ``up`` failed half-way)."""
        with contextlib.suppress(KitError):
            self.heal()
        for container in self.containers().values():  # disposable: no need to wait for graceful stops
            with contextlib.suppress(Exception):
                if self.running(container):
                    container.kill()
        try:
            if self.secrets_dir is not None:
                self.run_tool("down", "-v", "--remove-orphans", "--timeout", str(STOP_TIMEOUT))
        except KitError:
            pass
        finally:
            self._remove_leftovers()
            if self.secrets_dir is not None:
                shutil.rmtree(self.secrets_dir, ignore_errors=True)
                self.secrets_dir = None

    def _remove_leftovers(self) -> None:
        label = f"{PROJECT_LABEL}={self.project}"
        for container in list_containers(self.client, all=True, filters={"label": label}):
            with contextlib.suppress(Exception):
                container.remove(force=True, v=True)
        for network in self.client.networks.list(filters={"label": label}):
            with contextlib.suppress(Exception):
                network.remove()

    # -- reading ----------------------------------------------------------------------------------
    def containers(self) -> dict[str, Any]:
        """Containers of the project by service name."""
        found = list_containers(self.client, all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"})
        return {c.labels.get(SERVICE_LABEL, c.name): c for c in found}

    @staticmethod
    def published(container: Any, port: int) -> int | None:
        ports = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for binding in ports.get(f"{port}/tcp") or []:
            if binding.get("HostPort"):
                return int(binding["HostPort"])
        return None

    @staticmethod
    def running(container: Any) -> bool:
        return (container.attrs.get("State") or {}).get("Status") == "running"

    def leader(self, kube_url: str | None) -> str | None:
        if not kube_url:
            return None
        name = f"streamspace-agent-{self.settings.agent_id}"
        url = f"{kube_url}/apis/coordination.k8s.io/v1/namespaces/{self.settings.namespace}/leases/{name}"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return json.loads(answer.read()).get("spec", {}).get("holderIdentity")
        except (OSError, ValueError):
            return None

    def topology(self) -> dict[str, Any]:
        containers = self.containers()

        def url(service: str, port: int, scheme: str = "http", suffix: str = "") -> str | None:
            container = containers.get(service)
            host_port = self.published(container, port) if container is not None else None
            return f"{scheme}://127.0.0.1:{host_port}{suffix}" if host_port else None

        def is_running(service: str) -> bool:
            return service in containers and self.running(containers[service])

        api = [{"name": f"api-{i}", "url": url(f"api-{i}", 8000), "running": is_running(f"api-{i}")}
               for i in range(1, self.settings.api_replicas + 1)]
        kube_url = url("kubernetes", 6443)
        holder = self.leader(kube_url) if is_running("kubernetes") else None
        replicas = [{"name": name, "running": is_running(name), "leader": holder == name and is_running(name)}
                    for name in (f"k8s-agent-{c}" for c in "abcdefghij"[: self.settings.agent_replicas])]
        postgres_port = url("postgres", 5432, "tcp")
        dsn = None
        if postgres_port and self.secrets_dir is not None:
            port = postgres_port.rsplit(":", 1)[1]
            dsn = (f"host=127.0.0.1 port={port} user=postgres dbname=streamspace connect_timeout=5 "
                   f"passfile={self.secrets_dir / 'pgpass'}")
        values = self.values
        return {
            "environment": "compose", "runId": self.run_id, "control": None, "project": self.project,
            "api": api,
            "agents": {"kubernetes": {"agentId": self.settings.agent_id, "namespace": self.settings.namespace,
                                      "lease": f"streamspace-agent-{self.settings.agent_id}", "replicas": replicas}},
            "redis": {"url": url("redis", 6379, "redis", "/0"), "running": is_running("redis")},
            "postgres": {"dsn": dsn, "running": is_running("postgres")},
            "kubernetes": {"url": kube_url, "namespace": self.settings.namespace, "standIn": True,
                           "running": is_running("kubernetes")},
            "engine": {"url": self.engine_url, "image": self.image},
            "credentials": {"admin": {"username": "admin", "password": values.get("admin", "")},
                            "users": [{"username": u, "password": values.get(u, "")} for u in USERS],
                            "agentKey": values.get("agentKey", ""), "jwtSecret": values.get("jwtSecret", "")},
            "timings": dict(self.settings.timings),
            "labels": {"run": f"{RUN_LABEL}={self.run_id}"},
        }

    # -- faults -----------------------------------------------------------------------------------
    def check_target(self, action: str, name: str) -> Any:
        containers = self.containers()
        if name not in containers:
            raise KitError(f"No component '{name}' in the compose project {self.project}",
                           cause=f"known: {', '.join(sorted(containers)) or 'none'}",
                           fix="use a name from the topology (Get Topology shows it)")
        container = containers[name]
        if not self.guard.allows(self.project) or container.labels.get(RUN_LABEL) != self.run_id:
            raise KitError(f"The compose environment refused to {action} '{name}'",
                           cause=f"the project '{self.project}' is not allow-listed (allowed: "
                                 f"{', '.join(self.guard.patterns) or 'nothing'}) or the container does not carry "
                                 f"{RUN_LABEL}={self.run_id}",
                           fix="only act on a disposable project; if it is one, add its name to "
                               "KIT_COMPOSE_TEST_PROJECTS (variables.yaml) or KIT_TEST_COMPOSE_PROJECTS")
        return container

    def component(self, name: str, action: str) -> None:
        if action not in ACTIONS:
            raise KitError(f"Unknown component action '{action}'", fix=f"use one of: {', '.join(ACTIONS)}")
        container = self.check_target(action, name)
        if action == "kill":
            if self.running(container):
                container.kill()
        elif action == "stop":
            container.stop(timeout=STOP_TIMEOUT)
        elif action == "start":
            if not self.running(container):
                container.start()
        else:
            container.restart(timeout=STOP_TIMEOUT)

    def _networks(self, container: Any) -> dict[str, Any]:
        container.reload()
        return dict((container.attrs.get("NetworkSettings") or {}).get("Networks") or {})

    def partition(self, a: str, b: str) -> None:
        """Disconnect ``a`` from every network it shares with ``b`` (which also cuts ``a`` from the
        other members of those networks -- the networks are per relation to keep that small)."""
        if a == b:
            raise KitError(f"Cannot cut '{a}' from itself", fix="give two different components")
        first, second = self.check_target("partition", a), self.check_target("partition", b)
        shared = sorted(set(self._networks(first)) & set(self._networks(second)))
        if not shared:
            raise KitError(f"'{a}' and '{b}' share no network", cause="they are already apart",
                           fix="check Get Partitions; heal first if an earlier cut is in force")
        for network_name in shared:
            self.client.networks.get(network_name).disconnect(first)
            self.cuts.append({"a": a, "b": b, "network": network_name, "container": first.id, "alias": a})

    def heal(self) -> None:
        cuts, self.cuts = self.cuts, []
        for cut in cuts:
            with contextlib.suppress(Exception):
                self.client.networks.get(cut["network"]).connect(cut["container"], aliases=[cut["alias"]])

    def partitions(self) -> list[dict[str, Any]]:
        return [{"a": c["a"], "b": c["b"], "network": c["network"]} for c in self.cuts]

    # -- health -----------------------------------------------------------------------------------
    def readiness(self) -> tuple[bool, str]:
        """(ready, what was seen): every API replica answers /health and the agent is online."""
        data = self.topology()
        healthy = [r["name"] for r in data["api"] if r["url"] and _http_status(f"{r['url']}/health") == 200]
        if len(healthy) < len(data["api"]):
            stopped = self.diagnostics()
            return False, (f"API replicas answering /health: {healthy or 'none'} of {len(data['api'])}"
                           + (f"; not running: {stopped}" if stopped else ""))
        online = self.online_agents(data["api"][0]["url"])
        if self.settings.agent_id not in online:
            return False, f"all API replicas healthy; agents online: {online or 'none'}"
        return True, "ready"

    def diagnostics(self, lines: int = 3) -> str:
        """Containers that are not running, with their exit code and last log lines."""
        notes = []
        for name, container in sorted(self.containers().items()):
            if self.running(container):
                continue
            state = container.attrs.get("State") or {}
            try:
                tail = container.logs(tail=lines).decode(errors="replace").strip().replace("\n", " | ")
            except Exception:  # noqa: BLE001 - logs are a help, not a requirement
                tail = ""
            notes.append(f"{name} {state.get('Status')} (exit {state.get('ExitCode')}): {tail or 'no output'}")
        return "; ".join(notes)

    def online_agents(self, api_url: str) -> list[str]:
        body = json.dumps({"username": "admin", "password": self.values.get("admin", "")}).encode()
        login = urllib.request.Request(f"{api_url}/api/v1/auth/login", body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(login, timeout=3) as answer:
                token = json.loads(answer.read())["token"]
            request = urllib.request.Request(f"{api_url}/api/v1/admin/agents?status=online",
                                             headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=3) as answer:
                return [a["agentId"] for a in json.loads(answer.read()).get("agents", [])]
        except (OSError, ValueError, KeyError):
            return []


def _http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0
