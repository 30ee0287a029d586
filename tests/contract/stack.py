"""API replicas as processes (the real ``python -m environments.local.platform.api``) and an HTTP client."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from environments.local.procs import ManagedProcess, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 5.0


@dataclass
class Replica:
    name: str
    host: str
    port: int
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"


class Stack:
    """N replicas sharing one PostgreSQL database, one Redis and one JWT secret."""

    def __init__(self, workdir: Path, dsn: str, redis_url: str, config: Path, jwt_file: Path, key_file: Path,
                 count: int) -> None:
        self.workdir = workdir
        self.dsn = dsn
        self.redis_url = redis_url
        self.config = config
        self.jwt_file = jwt_file
        self.key_file = key_file
        self.replicas: dict[str, Replica] = {}
        for index in range(1, count + 1):
            host = f"127.0.1.{index}"
            self.replicas[f"api-{index}"] = Replica(f"api-{index}", host, free_port(host))

    def __getitem__(self, name: str) -> Replica:
        return self.replicas[name]

    def argv(self, replica: Replica) -> list[str]:
        return [sys.executable, "-m", "environments.local.platform.api", "--name", replica.name,
                "--host", replica.host, "--port", str(replica.port), "--redis-url", self.redis_url,
                "--database-dsn", self.dsn, "--jwt-secret-file", str(self.jwt_file),
                "--agent-key-file", str(self.key_file), "--config", str(self.config)]

    def start(self, name: str) -> Replica:
        replica = self.replicas[name]
        replica.process = ManagedProcess(name, self.argv(replica), self.workdir / f"{name}.log", cwd=REPO).start()
        return replica

    def wait_healthy(self, name: str, timeout: float = 30.0) -> float:
        replica = self.replicas[name]
        assert replica.process is not None
        return wait_for(lambda: requests.get(f"{replica.url}/health", timeout=1).status_code == 200, timeout,
                        f"API replica {name} did not become healthy", replica.process.log, replica.process.popen)

    def start_all(self) -> None:
        for name in self.replicas:
            self.start(name)
        for name in self.replicas:
            self.wait_healthy(name)

    def kill(self, name: str) -> None:
        replica = self.replicas[name]
        if replica.process is not None:
            replica.process.kill()

    def restart(self, name: str) -> float:
        """Start a (killed or stopped) replica again on the same address; returns seconds until healthy."""
        self.kill(name)
        started = time.monotonic()
        self.start(name)
        self.wait_healthy(name)
        return time.monotonic() - started

    def stop_all(self) -> None:
        for replica in self.replicas.values():
            if replica.process is not None:
                replica.process.stop(grace=5)

    def log_tail(self, name: str, lines: int = 30) -> str:
        log = self.workdir / f"{name}.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


class Api:
    """Calls one replica; every call has a timeout."""

    def __init__(self, replica: Replica, token: str | None = None) -> None:
        self.replica = replica
        self.token = token

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             headers: dict[str, str] | None = None, **params: Any) -> requests.Response:
        sent = dict(headers or {})
        token = token if token is not None else self.token
        if token:
            sent["Authorization"] = f"Bearer {token}"
        return requests.request(method, f"{self.replica.url}{path}", json=body, headers=sent,
                                params=params or None, timeout=TIMEOUT)

    def as_user(self, token: str) -> Api:
        return Api(self.replica, token)

    def on(self, replica: Replica) -> Api:
        return Api(replica, self.token)

    def login(self, username: str, password: str) -> str:
        response = self.call("POST", "/api/v1/auth/login", {"username": username, "password": password})
        assert response.status_code == 200, response.text
        return response.json()["token"]
