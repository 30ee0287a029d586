"""Connect To Redis Server, Switch Redis Connection, Close All Redis Connections."""

from __future__ import annotations

from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from kitcore import reveal, to_seconds
from RedisKit.context import RedisContext, RedisHandle

try:  # redis-py >= 7
    from redis.maint_notifications import MaintNotificationsConfig
except ImportError:  # pragma: no cover - older redis-py has no maintenance notifications
    MaintNotificationsConfig = None  # type: ignore[assignment,misc]


class ConnectionKeywords:
    def __init__(self, ctx: RedisContext) -> None:
        self.ctx = ctx

    @keyword("Connect To Redis Server", tags=["connection"])
    def connect_to_redis_server(
        self,
        host: str = "127.0.0.1",
        port: int = 6379,
        db: int = 0,
        password: Secret | str | None = None,
        username: str | None = None,
        url: str | None = None,
        alias: str | None = None,
        timeout: str | float = "5s",
        connect_timeout: str | float | None = None,
        retries: int = 0,
        tls: bool = False,
        tls_ca_certs: str | None = None,
        tls_certfile: str | None = None,
        tls_keyfile: str | None = None,
        tls_verify: bool = True,
    ) -> str:
        """Open a connection to Redis, check it with PING and make it the current one.

        Give ``host``/``port``/``db`` or a ``url`` (``redis://[:password@]host:port/db``,
        ``rediss://`` for TLS). ``password`` should be a ``Secret``; it never appears in the log.
        ``tls=True`` (or a ``rediss://`` URL) encrypts the connection: ``tls_ca_certs`` names the CA
        file that signed the server's certificate, ``tls_certfile``/``tls_keyfile`` a client
        certificate, and ``tls_verify=False`` skips verification (throwaway test servers only).
        ``timeout`` is the socket timeout of every command, ``connect_timeout`` that of
        connecting (default: ``timeout``). The client does not retry (so a timeout shows when
        it happens) unless ``retries`` asks it to. Values are read as text.

        Returns a description of the server (``host:port/db``).

        Example:
        | Connect To Redis Server | 127.0.0.1 | 6379 | db=1 | alias=hub |
        | Connect To Redis Server | url=${REDIS_URL} | password=${REDIS_PASSWORD} | timeout=2s |
        """
        socket_timeout = to_seconds(timeout, 5.0)
        options: dict[str, object] = {
            "socket_timeout": socket_timeout,
            "socket_connect_timeout": to_seconds(connect_timeout, socket_timeout),
            "decode_responses": True,
            "retry": Retry(NoBackoff(), int(retries)),
            "client_name": "RedisKit",
        }
        if MaintNotificationsConfig is not None:
            # no extra handshake, and no "relaxed" timeouts behind the tester's back
            options["maint_notifications_config"] = MaintNotificationsConfig(enabled=False)
        secret = reveal(password)
        if secret is not None:
            options["password"] = secret
        if username:
            options["username"] = username
        if url and tls and url.startswith("redis://"):
            url = "rediss://" + url[len("redis://"):]
        if tls or (url or "").startswith("rediss://"):
            options.update(ssl_ca_certs=tls_ca_certs, ssl_certfile=tls_certfile, ssl_keyfile=tls_keyfile,
                           ssl_cert_reqs="required" if tls_verify else "none", ssl_check_hostname=tls_verify)
            if not url:
                options["ssl"] = True
        secrets: list[str] = [s for s in (secret,) if s]
        if url:
            parts = urlsplit(url)
            if parts.password:
                secrets.append(parts.password)
            client = redis.Redis.from_url(url, **options)
            kwargs = client.connection_pool.connection_kwargs
            where = f"{kwargs.get('host', parts.hostname)}:{kwargs.get('port', parts.port)}/{kwargs.get('db', 0)}"
            db = int(kwargs.get("db", 0))
        else:
            client = redis.Redis(host=host, port=int(port), db=int(db), **options)
            where = f"{host}:{port}/{db}"
        handle = RedisHandle(client, where, int(db), socket_timeout, tuple(secrets), alias)
        with self.ctx.call(handle, "Connect To Redis Server"):
            try:
                client.ping()
            except Exception:
                client.close()
                raise
        self.ctx.connections.add(handle, alias)
        logger.info(f"Connected to Redis at {where}" + (f" as '{alias}'" if alias else ""))
        return where

    @keyword("Switch Redis Connection", tags=["connection"])
    def switch_redis_connection(self, alias: str) -> str:
        """Make the connection named ``alias`` the current one; returns where it points.

        Example:
        | Switch Redis Connection | hub |
        """
        return self.ctx.connections.switch(alias).where

    @keyword("Close All Redis Connections", tags=["connection"])
    def close_all_redis_connections(self) -> None:
        """Close every Redis connection and stop their subscriptions.

        Example:
        | [Teardown] | Close All Redis Connections |
        """
        self.ctx.connections.close_all()
        self.ctx.subscriptions.clear()
        self.ctx.last_subscription = None
