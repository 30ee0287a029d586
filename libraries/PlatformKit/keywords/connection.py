"""Connecting to a platform's API replicas, choosing the replica, and its health."""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robotlibcore import keyword

from kitcore import AssertionOperator, Check, KitError, getter, to_seconds
from PlatformKit.client import Platform, parse_replicas
from PlatformKit.context import PlatformContext


class ConnectionKeywords:
    def __init__(self, ctx: PlatformContext) -> None:
        self.ctx = ctx

    @keyword("Connect To Platform", tags=["connection"])
    def connect_to_platform(
        self,
        urls: Any,
        alias: str | None = None,
        timeout: str | None = None,
        round_robin: bool = False,
        names: Any = None,
        verify: bool = True,
    ) -> str:
        """Open a connection to a platform's Control Plane, with one or several API replicas.

        ``urls`` is one URL, a comma-separated string, a list of URLs, or the topology's
        ``api`` list (entries with ``name`` and ``url``). Replicas are named ``api-1``,
        ``api-2``... unless ``names`` (or the topology) says otherwise. ``timeout`` applies to
        every call. With ``round_robin=True`` calls that name no replica go to each replica
        in turn; otherwise they go to the current replica (the first, or the one set with
        `Use API Replica`). The new connection becomes the current one; returns its alias.

        Example:
        | Connect To Platform | ${topology}[api] | alias=local | timeout=5s |
        | Connect To Platform | http://127.0.0.1:8000, http://127.0.0.1:8001 | round_robin=True |
        """
        replicas = parse_replicas(urls, names)
        budget = to_seconds(timeout or self.ctx.default_timeout)
        platform = Platform(replicas, budget, bool(round_robin), bool(verify), alias)
        self.ctx.connections.add(platform, alias)
        logger.info(
            f"Connected to platform{f' {alias}' if alias else ''}: "
            + ", ".join(f"{r.name}={r.url}" for r in replicas)
            + (" (round robin)" if round_robin else "")
        )
        return alias or ""

    @keyword("Switch Platform Connection", tags=["connection"])
    def switch_platform_connection(self, alias: str) -> None:
        """Make the connection named ``alias`` the current one.

        Example:
        | Switch Platform Connection | staging |
        """
        self.ctx.connections.switch(alias)

    @keyword("Close All Platform Connections", tags=["connection"])
    def close_all_platform_connections(self) -> None:
        """Forget every platform connection and its logins (sessions are cleaned up by the listener).

        Example:
        | [Teardown] | Close All Platform Connections |
        """
        self.ctx.connections.close_all()

    @keyword("Use API Replica", tags=["connection"])
    def use_api_replica(self, replica: Any, alias: str | None = None) -> str:
        """Send calls that name no replica to ``replica`` (name, 1-based index or URL); returns its name.

        Example:
        | Use API Replica | api-2 |
        """
        chosen = self.ctx.platform(alias).use(replica)
        logger.info(f"Calls now go to {chosen.name} ({chosen.url})")
        return chosen.name

    @keyword("Get Platform Replica Names", tags=["connection"])
    def get_platform_replica_names(self, alias: str | None = None) -> list[str]:
        """The names of the API replicas of the connection, in order.

        Example:
        | ${names} = | Get Platform Replica Names |
        """
        return [r.name for r in self.ctx.platform(alias).replicas]

    @keyword("Get Platform Replica URL", tags=["connection"])
    def get_platform_replica_url(self, replica: Any = None, alias: str | None = None) -> str:
        """The base URL of ``replica`` (name, 1-based index) or of the current replica.

        Example:
        | ${url} = | Get Platform Replica URL | api-2 |
        """
        return self.ctx.platform(alias).replica(replica).url

    @keyword("Get API Health", tags=["connection", "assertion"])
    @getter
    def get_api_health(
        self,
        replica: Any = None,
        *,
        check: Check,
        alias: str | None = None,
    ) -> str:
        """The ``status`` that ``GET /health`` of a replica reports (``healthy`` when all is well).

        A replica that does not answer gives ``unreachable``; another HTTP status gives
        ``http <code>``. Can assert.

        Example:
        | Get API Health | api-2 | == | healthy | timeout=20s |
        | Get API Health | api-3 | == | unreachable |
        """
        platform = self.ctx.platform(alias)
        target = platform.replica(replica)

        def probe() -> str:
            try:
                response = platform.call("GET", "/health", replica=target, anonymous=True)
            except KitError:
                return "unreachable"
            if response.status != 200:
                return f"http {response.status}"
            body = response.body if isinstance(response.body, dict) else {}
            return str(body.get("status", "unknown"))

        return check(probe, f"Health of {target.name}")

    @keyword("Every API Replica Should Be Healthy", tags=["connection", "assertion"])
    def every_api_replica_should_be_healthy(self, timeout: str = "10s", alias: str | None = None) -> None:
        """Every replica of the connection reports ``healthy`` on ``GET /health`` within ``timeout``.

        The error names every replica that is not healthy and what it answered.

        Example:
        | Every API Replica Should Be Healthy | timeout=30s |
        """
        platform = self.ctx.platform(alias)
        sick: list[str] = []
        for replica in platform.replicas:
            try:
                self.get_api_health(replica, AssertionOperator["=="], "healthy", timeout=timeout, alias=alias)
            except AssertionError as error:
                sick.append(f"{replica.name} ({replica.url}): {error}")
        if sick:
            raise KitError(
                f"{len(sick)} of {len(platform.replicas)} API replicas are not healthy",
                cause="; ".join(sick),
                fix="check those replicas' logs; a replica killed on purpose is started again by its test's teardown",
            )
