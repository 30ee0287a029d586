"""Throwaway databases and schemas, removed by the cleanup listener."""

from __future__ import annotations

import uuid

from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict
from robot.api import logger
from robot.api.deco import keyword

from DatabaseKit.context import DbContext, DbHandle, open_connection, params_from
from DatabaseKit.copying import Endpoint, copy_database
from kitcore import KitError, to_seconds


def drop_database(ctx: DbContext, admin: DbHandle, name: str) -> None:
    """End every session on ``name``, then drop it."""
    for handle in ctx.connections.all():
        if handle.dbname == name and not handle.conn.closed:
            handle.conn.close()
    ctx.run(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                   "pg_backend_pid()", [name], what=f"End sessions on database {name}")
    ctx.run(admin, pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(name)),
            what=f"Drop database {name}")


class IsolationKeywords:
    def __init__(self, ctx: DbContext) -> None:
        self.ctx = ctx

    @keyword("Create Test Database", tags=["isolation"])
    def create_test_database(self, name: str | None = None, connect: bool = True, alias: str | None = None,
                             template: str | None = None, copy_of: str | None = None, copy_rows: bool = True,
                             copy_timeout: str | float = "5 min") -> str:
        """Create a throwaway database (named ``kit_<random>`` unless ``name`` is given) from the
        current connection; returns its name.

        ``copy_of`` (a libpq conninfo, e.g. the running platform's database) fills it with a copy of
        that database: its schema and, unless ``copy_rows=False``, its rows, read in one consistent
        snapshot by ``pg_dump`` and written by ``pg_restore`` (PostgreSQL's client programs must be
        installed). The source is only read, so a platform that uses it keeps running; unlike
        ``template=`` it may be on another server and in use.

        It is dropped at the end of the test (or the suite, when created in a suite setup) after its
        sessions are ended. With ``connect=True`` a connection to it (same server and credentials)
        becomes the current one, named ``alias`` (default: the database name); when the database is
        dropped, the connection it was made from becomes current again if it has an alias.

        Example:
        | ${db} = | Create Test Database |
        | Migrate Up | ${CURDIR}/migrations |
        | ${db} = | Create Test Database | copy_of=${PLATFORM_DSN} |
        """
        admin = self.ctx.handle()
        db = name or f"kit_{uuid.uuid4().hex[:10]}"
        statement = pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(db))
        if template:
            statement = pgsql.SQL("{} TEMPLATE {}").format(statement, pgsql.Identifier(template))
        self.ctx.run(admin, statement, what=f"Create database {db}")
        admin_alias = admin.alias
        params = dict(admin.params)
        password, timeout_ms = admin.password, admin.statement_timeout_ms

        def drop() -> None:
            keeper = DbHandle(open_connection(params, password, timeout_ms), params, password, timeout_ms)
            try:
                drop_database(self.ctx, keeper, db)
            finally:
                keeper.conn.close()
            current = self.ctx.connections.current if self.ctx.connections else None
            if admin_alias and current is not None and current.dbname == db:
                self.ctx.connections.switch(admin_alias)  # back to where the database was made from

        self.ctx.cleanup.register(f"test database '{db}' at {admin.where}", drop, key=f"database:{db}")
        logger.info(f"Created test database '{db}' at {admin.where}"
                    + (f" (admin connection: {admin_alias})" if admin_alias else ""))
        if copy_of:
            source = Endpoint(params_from(copy_of), conninfo_to_dict(copy_of).get("password"))
            target = Endpoint({**params, "dbname": db}, password)
            seconds = copy_database(source, target, rows=copy_rows, timeout=to_seconds(copy_timeout, 300.0))
            logger.info(f"Copied the schema{' and rows' if copy_rows else ''} of {source.where} into test "
                        f"database '{db}' in {seconds:.2f} s")
        if connect:
            db_params = {**params, "dbname": db}
            handle = DbHandle(None, db_params, password, timeout_ms, alias or db)  # type: ignore[arg-type]
            with self.ctx.call(handle, f"Connect to test database {db}"):
                handle.conn = open_connection(db_params, password, timeout_ms)
            self.ctx.connections.add(handle, alias or db)
        return db

    @keyword("Create Test Schema", tags=["isolation"])
    def create_test_schema(self, name: str | None = None, use: bool = True, alias: str | None = None) -> str:
        """Create a throwaway schema (``kit_<random>`` unless ``name`` is given); returns its name.

        With ``use=True`` it becomes the first schema of the connection's search path, so
        unqualified tables (and migrations) land in it. It is dropped (CASCADE) at the end of the
        test or suite.

        Example:
        | ${schema} = | Create Test Schema |
        """
        handle = self.ctx.handle(alias)
        schema = name or f"kit_{uuid.uuid4().hex[:10]}"
        if schema.lower() in ("public", "pg_catalog", "information_schema"):
            raise KitError(f"Refusing to use '{schema}' as a throwaway schema", fix="give another name")
        self.ctx.run(handle, pgsql.SQL("CREATE SCHEMA {}").format(pgsql.Identifier(schema)),
                     what=f"Create schema {schema}")
        if use:
            self.ctx.run(handle, "SELECT set_config('search_path', %s, false)", [f'"{schema}", public'],
                         what="Set search_path")
            handle.extra["schema"] = schema

        def drop() -> None:
            target = handle
            if target.conn.closed or target.conn.broken:
                target.reopen()
            self.ctx.run(target, pgsql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(pgsql.Identifier(schema)),
                         what=f"Drop schema {schema}")
            if target.extra.get("schema") == schema:
                self.ctx.run(target, "SELECT set_config('search_path', '\"$user\", public', false)",
                             what="Reset search_path")
                target.extra.pop("schema", None)

        self.ctx.cleanup.register(f"test schema '{schema}' at {handle.where}", drop, key=f"schema:{schema}")
        return schema
