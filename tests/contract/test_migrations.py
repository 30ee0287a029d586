"""Database schema (docs/contract.md §7 [reference only]): numbered migrations, a golang-migrate version table, safe
concurrent start, and v1 -> v2 -> v1 without data loss."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from environments.local.platform import db
from environments.local.postgres_server import PostgresServer
from tests.contract.stack import Stack


def columns(conn: psycopg.Connection, table: str) -> set[str]:
    rows = conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s", (table,))
    return {r[0] for r in rows.fetchall()}


@pytest.fixture
def scratch_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    admin = make_conninfo(f"host={postgres_server.host} port={postgres_server.port} user=postgres dbname=postgres")
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP DATABASE IF EXISTS migrations_scratch")
        conn.execute("CREATE DATABASE migrations_scratch")
    yield make_conninfo(admin, dbname="migrations_scratch")
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP DATABASE IF EXISTS migrations_scratch WITH (FORCE)")


def test_three_replicas_started_together_left_a_clean_v2_schema(stack: Stack, contract_dsn: str) -> None:
    with psycopg.connect(contract_dsn, connect_timeout=5) as conn:
        assert conn.execute("SELECT version, dirty FROM schema_migrations").fetchall() == [(2, False)]
        assert conn.execute("SELECT count(*) FROM catalog_templates").fetchone()[0] == 2
        assert conn.execute("SELECT count(*) FROM users WHERE username = 'admin'").fetchone()[0] == 1


def test_files_are_numbered_pairs() -> None:
    found = db.find_migrations()
    assert [m.version for m in found] == [1, 2]
    assert all(m.up.name.endswith(".up.sql") and m.down is not None and m.down.name.endswith(".down.sql")
               for m in found)


def test_v1_to_v2_backfills_and_back_keeps_every_row(scratch_dsn: str) -> None:
    assert db.migrate(scratch_dsn, target=1) == 1
    with psycopg.connect(scratch_dsn, autocommit=True, connect_timeout=5) as conn:
        assert "agent_id" not in columns(conn, "sessions")
        conn.execute("INSERT INTO users (id, username, email, password_hash) VALUES ('u1', 'old', 'o@x', 'h')")
        conn.execute("INSERT INTO catalog_templates (name, manifest) VALUES ('dock', '{\"spec\": {\"platform\": "
                     "\"docker\"}}'), ('plain', '{}')")
        conn.execute("INSERT INTO sessions (id, user_id, template_name, state) VALUES ('s1', 'u1', 'dock', "
                     "'running'), ('s2', 'u1', 'plain', 'hibernated')")
    assert db.migrate(scratch_dsn) == 2
    with psycopg.connect(scratch_dsn, autocommit=True, connect_timeout=5) as conn:
        assert {"platform", "agent_id", "platform_metadata"} <= columns(conn, "sessions")
        platforms = dict(conn.execute("SELECT id, platform FROM sessions").fetchall())
        assert platforms == {"s1": "docker", "s2": "kubernetes"}
        assert conn.execute("SELECT max_sessions FROM user_quotas WHERE user_id = 'u1'").fetchone() is not None
        assert {"agents", "agent_commands"} <= {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'").fetchall()}
    assert db.migrate(scratch_dsn, target=1) == 1
    with psycopg.connect(scratch_dsn, autocommit=True, connect_timeout=5) as conn:
        assert conn.execute("SELECT version, dirty FROM schema_migrations").fetchall() == [(1, False)]
        assert "agent_id" not in columns(conn, "sessions")
        assert conn.execute("SELECT id, state FROM sessions ORDER BY id").fetchall() == [("s1", "running"),
                                                                                          ("s2", "hibernated")]
        assert conn.execute("SELECT username FROM users").fetchall() == [("old",)]
    assert db.migrate(scratch_dsn, target=0) is None
    with psycopg.connect(scratch_dsn, autocommit=True, connect_timeout=5) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == 0
    assert db.migrate(scratch_dsn) == 2


def test_a_dirty_database_is_refused(scratch_dsn: str) -> None:
    db.migrate(scratch_dsn)
    with psycopg.connect(scratch_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute("UPDATE schema_migrations SET dirty = true")
    with pytest.raises(db.MigrationError, match="dirty"):
        db.migrate(scratch_dsn)
