"""Connect To PostgreSQL, Switch Database Connection, Close All Database Connections."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict
from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from DatabaseKit.context import DbContext, DbHandle, open_connection, params_from
from kitcore import reveal, to_seconds


class ConnectionKeywords:
    def __init__(self, ctx: DbContext) -> None:
        self.ctx = ctx

    @keyword("Connect To PostgreSQL", tags=["connection"])
    def connect_to_postgresql(
        self,
        host: str | None = None,
        port: int | None = None,
        user: str | None = None,
        password: Secret | str | None = None,
        dbname: str | None = None,
        conninfo: str | None = None,
        alias: str | None = None,
        connect_timeout: str | float = "5s",
        statement_timeout: str | float = "30s",
        application_name: str = "DatabaseKit",
    ) -> str:
        """Connect to PostgreSQL and make the connection the current one; returns ``host:port/dbname``.

        Give the parts (``host``, ``port``, ``user``, ``dbname``) or a libpq ``conninfo``
        (``host=... port=... dbname=...`` or ``postgresql://...``); parts override the conninfo.
        ``password`` should be a ``Secret``; it is never logged (a password inside the conninfo
        is used when no ``password`` is given, and masked too). Every statement runs with
        ``statement_timeout`` (default 30 s) unless a keyword's ``timeout=`` overrides it.
        Statements commit at once (autocommit).

        Example:
        | Connect To PostgreSQL | 127.0.0.1 | 5432 | streamspace | ${DB_PASSWORD} | streamspace |
        | Connect To PostgreSQL | conninfo=${DSN} | alias=admin | statement_timeout=5s |
        """
        params = params_from(conninfo, host=host, port=port, user=user, dbname=dbname,
                             connect_timeout=max(round(to_seconds(connect_timeout, 5.0)), 1),
                             application_name=application_name)
        statement_ms = int(to_seconds(statement_timeout, 30.0) * 1000)
        secret = reveal(password)
        if secret is None and conninfo:
            secret = conninfo_to_dict(conninfo).get("password")
        handle = DbHandle(None, params, secret, statement_ms, alias)  # type: ignore[arg-type]
        with self.ctx.call(handle, "Connect To PostgreSQL"):
            handle.conn = open_connection(params, secret, statement_ms)
        self.ctx.connections.add(handle, alias)
        logger.info(f"Connected to PostgreSQL at {handle.where}" + (f" as '{alias}'" if alias else "")
                    + f"; statement timeout {statement_ms / 1000:g} s")
        return handle.where

    @keyword("Switch Database Connection", tags=["connection"])
    def switch_database_connection(self, alias: str) -> str:
        """Make the connection named ``alias`` the current one; returns where it points.

        Example:
        | Switch Database Connection | admin |
        """
        return self.ctx.connections.switch(alias).where

    @keyword("Close All Database Connections", tags=["connection"])
    def close_all_database_connections(self) -> None:
        """Close every database connection.

        Example:
        | [Teardown] | Close All Database Connections |
        """
        self.ctx.connections.close_all()

    @keyword("Set Statement Timeout", tags=["connection"])
    def set_statement_timeout(self, timeout: str | float, alias: str | None = None) -> float:
        """Change the statement timeout of a connection (``0`` disables it); returns the old one in seconds.

        Example:
        | Set Statement Timeout | 2s |
        """
        handle: DbHandle = self.ctx.handle(alias)
        old = handle.statement_timeout_ms / 1000
        millis = int(to_seconds(timeout) * 1000)
        self.ctx.run(handle, "SELECT set_config('statement_timeout', %s, false)", [str(millis)],
                     what="Set Statement Timeout")
        handle.statement_timeout_ms = millis
        return old
