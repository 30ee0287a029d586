"""The stack's configuration file (JSON) and secrets read from files or the environment.

Keys (all optional; defaults are the local stack's short timings)::

    {"namespace": "streamspace", "sessionImage": "streamspace-session:local",
     "hubRedisDb": 1, "tokenTtl": 86400,
     "timings": {"heartbeatInterval": 1.0, "staleAfter": 3.0, "commandPoll": 0.5,
                 "commandRedeliverAfter": 5.0, "commandExpireAfter": 60.0, "databaseTimeout": 3.0,
                 "redisRetryBackoff": [0.2, 0.4, 0.8, 1.6, 3.2]},
     "seed": {"admin": {"username": "admin", "password": "..."},
              "users": [{"username": "alice", "password": "..."}],
              "quota": {"maxSessions": 5, "maxCpu": "4000m", "maxMemory": "8Gi"}},
     "templates": {"kubernetes": "desktop-kubernetes", "docker": "desktop-docker"}}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message names the cause and the fix."""


@dataclass(frozen=True)
class Timings:
    heartbeat_interval: float = 1.0
    stale_after: float = 3.0
    command_poll: float = 0.5
    command_redeliver_after: float = 5.0
    command_expire_after: float = 60.0
    database_timeout: float = 3.0
    redis_retry_backoff: tuple[float, ...] = (0.2, 0.4, 0.8, 1.6, 3.2)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Timings:
        backoff = data.get("redisRetryBackoff", cls.redis_retry_backoff)
        return cls(
            heartbeat_interval=float(data.get("heartbeatInterval", cls.heartbeat_interval)),
            stale_after=float(data.get("staleAfter", cls.stale_after)),
            command_poll=float(data.get("commandPoll", cls.command_poll)),
            command_redeliver_after=float(data.get("commandRedeliverAfter", cls.command_redeliver_after)),
            command_expire_after=float(data.get("commandExpireAfter", cls.command_expire_after)),
            database_timeout=float(data.get("databaseTimeout", cls.database_timeout)),
            redis_retry_backoff=tuple(float(x) for x in backoff) or (1.0,),
        )


@dataclass(frozen=True)
class StackConfig:
    namespace: str = "streamspace"
    session_image: str = "streamspace-session:local"
    hub_redis_db: int = 1
    token_ttl: int = 86400
    timings: Timings = field(default_factory=Timings)
    seed: dict[str, Any] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=lambda: {"kubernetes": "desktop-kubernetes",
                                                               "docker": "desktop-docker"})

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackConfig:
        defaults = cls()
        return cls(
            namespace=str(data.get("namespace", defaults.namespace)),
            session_image=str(data.get("sessionImage", defaults.session_image)),
            hub_redis_db=int(data.get("hubRedisDb", defaults.hub_redis_db)),
            token_ttl=int(data.get("tokenTtl", defaults.token_ttl)),
            timings=Timings.from_json(data.get("timings") or {}),
            seed=dict(data.get("seed") or {}),
            templates={**defaults.templates, **(data.get("templates") or {})},
        )


def load_config(path: str | Path | None) -> StackConfig:
    """Read the JSON configuration file; no file means the defaults."""
    if not path:
        return StackConfig()
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"configuration file {path} does not exist; pass an existing file with --config") from None
    except json.JSONDecodeError as error:
        raise ConfigError(f"configuration file {path} is not JSON ({error}); fix the file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"configuration file {path} must hold a JSON object")
    return StackConfig.from_json(data)


def read_secret(file: str | Path | None, env: str, what: str) -> str:
    """A secret from ``file`` (first line, stripped) or the environment variable ``env``."""
    if file:
        try:
            value = Path(file).read_text().strip()
        except OSError as error:
            raise ConfigError(f"{what}: cannot read {file} ({error.strerror}); pass a readable file") from None
    else:
        value = os.environ.get(env, "").strip()
    if not value:
        raise ConfigError(f"{what} is missing: pass it in a file or set {env} (never on the command line)")
    return value
