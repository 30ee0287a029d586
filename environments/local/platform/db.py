"""The database of the reference stack: create it, migrate it, seed it, and a tiny async pool.

Migrations are ``migrations/NNN_<name>.up.sql`` / ``.down.sql``. The version table is
golang-migrate's: ``schema_migrations(version bigint primary key, dirty boolean not null)`` with one
row. Each step marks the table dirty, runs the file and the clean mark in one transaction, so a
failed step leaves ``dirty = true`` (as golang-migrate does) and the next start refuses to go on.
Everything runs under a PostgreSQL advisory lock, so several replicas may start at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from environments.local.platform.common.config import StackConfig
from environments.local.platform.common.passwords import hash_password, verify_password

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_KEY = 0x5354524D  # "STRM": one advisory lock for migrate + seed
_FILE = re.compile(r"^(\d+)_(.+)\.(up|down)\.sql$")
log = logging.getLogger("streamspace.db")


class MigrationError(RuntimeError):
    """The schema cannot be brought to the wanted version; the message names the fix."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: Path
    down: Path | None


def find_migrations(folder: Path = MIGRATIONS) -> list[Migration]:
    ups: dict[int, tuple[str, Path]] = {}
    downs: dict[int, Path] = {}
    for path in folder.iterdir():
        match = _FILE.match(path.name)
        if not match:
            continue
        version = int(match.group(1))
        if match.group(3) == "up":
            ups[version] = (match.group(2), path)
        else:
            downs[version] = path
    return [Migration(v, ups[v][0], ups[v][1], downs.get(v)) for v in sorted(ups)]


def ensure_database(dsn: str) -> None:
    """Create the DSN's database if it does not exist (several replicas may race: that is fine)."""
    params = conninfo_to_dict(dsn)
    name = params.get("dbname") or "postgres"
    if name == "postgres":
        return
    admin = make_conninfo(dsn, dbname="postgres")
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return
        with contextlib.suppress(psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def current_version(conn: psycopg.Connection) -> tuple[int | None, bool]:
    conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version bigint NOT NULL PRIMARY KEY, "
                 "dirty boolean NOT NULL)")
    row = conn.execute("SELECT version, dirty FROM schema_migrations LIMIT 1").fetchone()
    return (None, False) if row is None else (int(row[0]), bool(row[1]))


def _set_version(conn: psycopg.Connection, version: int | None, dirty: bool) -> None:
    conn.execute("DELETE FROM schema_migrations")
    if version is not None:
        conn.execute("INSERT INTO schema_migrations (version, dirty) VALUES (%s, %s)", (version, dirty))


def migrate(dsn: str, target: int | None = None, folder: Path = MIGRATIONS) -> int | None:
    """Bring the schema to ``target`` (default: the newest), up or down. Returns the version reached."""
    migrations = find_migrations(folder)
    if target is None:
        target = migrations[-1].version if migrations else None
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            return _migrate_locked(conn, migrations, target)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _migrate_locked(conn: psycopg.Connection, migrations: list[Migration], target: int | None) -> int | None:
    version, dirty = current_version(conn)
    if dirty:
        raise MigrationError(f"the database is dirty at migration {version} (a step failed half-way); "
                             "repair the schema by hand, then set schema_migrations.dirty = false")
    known = [m.version for m in migrations]
    if version is not None and version not in known:
        raise MigrationError(f"the database is at migration {version}, which this stack does not know; "
                             "use a newer stack or roll the database back")
    for step in migrations:  # up
        if (version is None or step.version > version) and (target is None or step.version <= target):
            log.info("migrating up to %s (%s)", step.version, step.name)
            _set_version(conn, step.version, True)
            with conn.transaction():
                conn.execute(step.up.read_text())
                _set_version(conn, step.version, False)
            version = step.version
    for step in reversed(migrations):  # down
        if version is not None and step.version == version and (target is None or step.version > target):
            if step.down is None:
                raise MigrationError(f"migration {step.version} has no .down.sql; add one to roll it back")
            previous = max((v for v in known if v < step.version), default=None)
            log.info("migrating down from %s (%s)", step.version, step.name)
            _set_version(conn, step.version, True)
            with conn.transaction():
                conn.execute(step.down.read_text())
                _set_version(conn, previous, False)
            version = previous
    return version


def template_manifest(platform: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "stream.space/v1alpha1",
        "kind": "Template",
        "spec": {
            "platform": platform,
            "baseImage": image,
            "ports": [{"name": "vnc", "containerPort": 5900}],
            "vnc": {"enabled": True, "port": 5900},
            "defaultResources": {"memory": "512Mi", "cpu": "500m"},
        },
    }


def seed(dsn: str, config: StackConfig) -> None:
    """Admin, users, quotas and the two VNC templates; idempotent; passwords come from the config."""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        try:
            with conn.transaction():
                _seed_locked(conn, config)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_KEY,))


def _seed_locked(conn: psycopg.Connection, config: StackConfig) -> None:
    people: list[tuple[dict[str, Any], str]] = []
    admin = config.seed.get("admin")
    if admin:
        people.append((admin, "admin"))
    people += [(user, str(user.get("role", "user"))) for user in config.seed.get("users", [])]
    quota = {"maxSessions": 5, "maxCpu": "4000m", "maxMemory": "8Gi", **(config.seed.get("quota") or {})}
    for person, role in people:
        username, password = str(person["username"]), str(person["password"])
        row = conn.execute("SELECT id, password_hash FROM users WHERE username = %s", (username,)).fetchone()
        if row is None:
            user_id = str(uuid.uuid4())
            conn.execute("INSERT INTO users (id, username, email, full_name, role, password_hash) "
                         "VALUES (%s, %s, %s, %s, %s, %s)",
                         (user_id, username, person.get("email", f"{username}@streamspace.local"),
                          person.get("fullName", username.capitalize()), role, hash_password(password)))
        else:
            user_id = row[0]
            if not verify_password(password, row[1]):
                conn.execute("UPDATE users SET password_hash = %s, updated_at = now() WHERE id = %s",
                             (hash_password(password), user_id))
        conn.execute("INSERT INTO user_quotas (user_id, max_sessions, max_cpu, max_memory) VALUES (%s, %s, %s, %s) "
                     "ON CONFLICT (user_id) DO NOTHING",
                     (user_id, int(person.get("maxSessions", quota["maxSessions"])), quota["maxCpu"],
                      quota["maxMemory"]))
    for platform, name in config.templates.items():
        title = "Kubernetes" if platform == "kubernetes" else "Docker"
        conn.execute("INSERT INTO catalog_templates (name, display_name, description, category, platform, manifest) "
                     "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET manifest = EXCLUDED.manifest, "
                     "platform = EXCLUDED.platform",
                     (name, f"VNC Desktop ({title})", f"A VNC desktop session on {title}", "Desktops", platform,
                      Jsonb(template_manifest(platform, config.session_image))))


class Pool:
    """A few async connections (autocommit, dict rows); a broken connection is replaced."""

    def __init__(self, dsn: str, size: int = 6, query_timeout: float = 3.0) -> None:
        # a cut link must fail, not hang: TCP keepalives and a user timeout on every connection
        self.dsn = make_conninfo(dsn, keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=2,
                                 tcp_user_timeout=10000)
        self.query_timeout = query_timeout
        self.size = size
        self._idle: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()
        self._slots = asyncio.Semaphore(size)
        self._abandoned: set[asyncio.Future[list[dict[str, Any]]]] = set()

    async def _open(self) -> psycopg.AsyncConnection:
        return await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, row_factory=dict_row,
                                                     connect_timeout=5)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection]:
        async with self._slots:
            conn = None
            while not self._idle.empty():
                candidate = self._idle.get_nowait()
                if not candidate.closed and not candidate.broken:
                    conn = candidate
                    break
            if conn is None:
                conn = await self._open()
            try:
                yield conn
            except BaseException:
                if conn.broken or conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    with contextlib.suppress(Exception):
                        await conn.close()
                else:
                    self._idle.put_nowait(conn)
                raise
            else:
                self._idle.put_nowait(conn)

    async def fetch(self, query: str, params: Any = None) -> list[dict[str, Any]]:
        """Run ``query``; a database that does not answer within ``query_timeout`` -- waiting for a free
        connection, connecting and the query itself all count -- raises ``OperationalError`` at once.

        The caller never waits for the cancellation: on a cut link cancelling the query and closing
        its connection can take seconds more, so that finishes in the background."""
        task = asyncio.ensure_future(self._fetch(query, params))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.query_timeout)
        except asyncio.CancelledError:
            self._abandon(task)
            raise
        if task in done:
            return task.result()
        self._abandon(task)
        raise psycopg.OperationalError(f"the database did not answer within {self.query_timeout:g} s")

    def _abandon(self, task: asyncio.Future[list[dict[str, Any]]]) -> None:
        task.cancel()
        self._abandoned.add(task)
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Future[list[dict[str, Any]]]) -> None:
        self._abandoned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("an abandoned query ended with: %s", task.exception())

    async def _fetch(self, query: str, params: Any) -> list[dict[str, Any]]:
        async with self.connection() as conn:
            cursor = await conn.execute(query, params)
            return await cursor.fetchall() if cursor.description else []

    async def fetchone(self, query: str, params: Any = None) -> dict[str, Any] | None:
        rows = await self.fetch(query, params)
        return rows[0] if rows else None

    async def close(self) -> None:
        for task in list(self._abandoned):
            task.cancel()
        while not self._idle.empty():
            with contextlib.suppress(Exception):
                await self._idle.get_nowait().close()
