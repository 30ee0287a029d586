"""Server facts (role, clients, INFO, latency) and fault actions for chaos tests."""

from __future__ import annotations

import statistics
import time
from typing import Any

import redis
from robot.api import logger
from robot.api.deco import keyword

from kitcore import Check, KitError, getter, to_seconds
from RedisKit.context import RedisContext, RedisHandle

PAUSE_MODES = ("ALL", "WRITE")
CLIENT_TYPES = ("normal", "master", "replica", "pubsub")


class ServerKeywords:
    def __init__(self, ctx: RedisContext) -> None:
        self.ctx = ctx
        self._pauses: dict[str, tuple[float, str]] = {}

    def _info(self, handle: RedisHandle, section: str | None) -> dict[str, Any]:
        with self.ctx.call(handle, f"INFO {section or ''}".strip()):
            return dict(handle.client.info(section) if section else handle.client.info())

    @keyword("Get Redis Role", tags=["server", "getter"])
    @getter
    def get_redis_role(self, *, check: Check, alias: str | None = None) -> str:
        """The server's replication role: ``master`` or ``slave`` (as Redis names them); can assert.

        Example:
        | Get Redis Role | == | master |
        """
        handle = self.ctx.handle(alias)
        return check(lambda: str(self._info(handle, "replication")["role"]), f"Role of Redis at {handle.where}")

    @keyword("Get Connected Clients Count", tags=["server", "getter"])
    @getter
    def get_connected_clients_count(self, *, check: Check, alias: str | None = None) -> int:
        """How many clients are connected (this library's own connections included); can assert.

        Example:
        | Get Connected Clients Count | >= | 4 | timeout=10s |
        """
        handle = self.ctx.handle(alias)
        return check(lambda: int(self._info(handle, "clients")["connected_clients"]),
                     f"Connected clients of Redis at {handle.where}")

    @keyword("Get Redis Info", tags=["server", "getter"])
    @getter
    def get_redis_info(self, section: str | None = None, field: str | None = None, *, check: Check,
                       alias: str | None = None) -> Any:
        """The server's INFO (one ``section`` or all) as a dictionary; with ``field``, that field's
        value; can assert.

        Example:
        | ${memory} = | Get Redis Info | memory |
        | Get Redis Info | persistence | loading | == | 0 |
        """
        handle = self.ctx.handle(alias)

        def read() -> Any:
            info = self._info(handle, section)
            if field is None:
                return info
            if field not in info:
                raise KitError(f"INFO {section or ''} of Redis at {handle.where} has no field '{field}'",
                               f"fields: {', '.join(sorted(info)[:30])}", "check the section and field name")
            return info[field]

        return check(read, f"INFO field '{field}'" if field else "INFO")

    @keyword("Measure Redis Ping Latency", tags=["server", "measure"])
    def measure_redis_ping_latency(self, count: int = 10, alias: str | None = None) -> float:
        """PING ``count`` times; returns the median round trip in milliseconds (and logs min/max).

        Example:
        | ${ms} = | Measure Redis Ping Latency | count=20 |
        """
        handle = self.ctx.handle(alias)
        samples: list[float] = []
        with self.ctx.call(handle, "PING"):
            for _ in range(max(int(count), 1)):
                start = time.perf_counter()
                handle.client.ping()
                samples.append((time.perf_counter() - start) * 1000)
        median = statistics.median(samples)
        logger.info(f"Redis PING latency at {handle.where}: median {median:.3f} ms, min {min(samples):.3f} ms, "
                    f"max {max(samples):.3f} ms ({len(samples)} pings)")
        return round(median, 3)

    # -- faults ----------------------------------------------------------------------------
    def _guard(self, handle: RedisHandle, action: str) -> None:
        self.ctx.check_target(handle, action)

    @keyword("Pause Redis Clients", tags=["fault"])
    def pause_redis_clients(self, duration: str | float = "5s", mode: str = "ALL", alias: str | None = None) -> None:
        """Make the server hold every client's commands (``mode=WRITE``: only writes) for ``duration``.

        The pause ends by itself after ``duration``; it is also lifted at the end of the test
        (or with `Unpause Redis Clients`). Under ``mode=ALL`` Redis holds every command, the
        unpause included, so lifting such a pause waits until its end. The server must be
        allow-listed as a test target.

        Example:
        | Pause Redis Clients | 3s | mode=WRITE |
        """
        handle = self.ctx.handle(alias)
        mode = mode.upper()
        if mode not in PAUSE_MODES:
            raise KitError(f"Unknown pause mode '{mode}'", fix=f"use one of {', '.join(PAUSE_MODES)}")
        self._guard(handle, "pause the clients of")
        millis = int(to_seconds(duration) * 1000)
        with self.ctx.call(handle, f"CLIENT PAUSE {millis} {mode}"):
            handle.client.execute_command("CLIENT", "PAUSE", millis, mode)
        self._pauses[handle.where] = (time.monotonic() + millis / 1000, mode)
        self.ctx.cleanup.register(f"client pause on Redis at {handle.where}", lambda: self._unpause(handle),
                                  key=f"pause:{handle.where}")
        logger.info(f"Paused {mode} clients of Redis at {handle.where} for {millis} ms")

    def _unpause(self, handle: RedisHandle) -> None:
        ends, mode = self._pauses.pop(handle.where, (0.0, "WRITE"))
        remaining = max(ends - time.monotonic(), 0.0)
        if mode == "ALL" and remaining > 0:
            logger.info(f"Redis holds every command during an ALL pause: the unpause waits up to {remaining:.1f} s")
        pool = handle.client.connection_pool
        kwargs = dict(pool.connection_kwargs)
        kwargs["socket_timeout"] = handle.socket_timeout + (remaining if mode == "ALL" else 0.0)
        client = redis.Redis(connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **kwargs))
        try:
            with self.ctx.call(handle, "CLIENT UNPAUSE"):
                client.execute_command("CLIENT", "UNPAUSE")
        finally:
            client.close()

    @keyword("Unpause Redis Clients", tags=["fault"])
    def unpause_redis_clients(self, alias: str | None = None) -> None:
        """Lift a pause made with `Pause Redis Clients` (at once for ``mode=WRITE``; an ``ALL``
        pause holds the unpause too, so this returns when that pause ends).

        Example:
        | Unpause Redis Clients |
        """
        handle = self.ctx.handle(alias)
        self._unpause(handle)
        self.ctx.cleanup.forget(f"pause:{handle.where}")

    @keyword("Disconnect Redis Clients", tags=["fault"])
    def disconnect_redis_clients(self, client_type: str = "normal", address: str | None = None,
                                 user: str | None = None, name: str | None = None,
                                 alias: str | None = None) -> int:
        """Close the server side of other clients' connections; returns how many were closed.

        Chooses clients by ``client_type`` (normal, pubsub, replica, master), ``address``
        (``ip:port`` of the client), ``user`` or client ``name``. The connection that sends the
        command is never closed. The server must be allow-listed as a test target.

        Example:
        | ${closed} = | Disconnect Redis Clients | client_type=pubsub |
        """
        handle = self.ctx.handle(alias)
        client_type = client_type.lower()
        if client_type not in CLIENT_TYPES:
            raise KitError(f"Unknown client type '{client_type}'", fix=f"use one of {', '.join(CLIENT_TYPES)}")
        self._guard(handle, "disconnect the clients of")
        if name is not None:
            return self._kill_by_name(handle, client_type, name)
        args: list[str] = ["CLIENT", "KILL", "TYPE", client_type, "SKIPME", "yes"]
        if address:
            args += ["ADDR", address]
        if user:
            args += ["USER", user]
        with self.ctx.call(handle, " ".join(args)):
            closed = int(handle.client.execute_command(*args))
        logger.info(f"Disconnected {closed} {client_type} clients of Redis at {handle.where}")
        return closed

    def _kill_by_name(self, handle: RedisHandle, client_type: str, name: str) -> int:
        with self.ctx.call(handle, "CLIENT LIST"):
            me = int(handle.client.client_id())
            clients = handle.client.client_list(_type=client_type)
            closed = 0
            for client in clients:
                if client.get("name") == name and int(client["id"]) != me:
                    try:
                        closed += int(handle.client.execute_command("CLIENT", "KILL", "ID", client["id"], "SKIPME",
                                                                    "yes"))
                    except redis.exceptions.ResponseError:
                        continue  # gone already
        logger.info(f"Disconnected {closed} {client_type} clients named '{name}' of Redis at {handle.where}")
        return closed
