"""DatabaseKit against a real PostgreSQL: connections, queries, isolation, schema and checksums."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psycopg
import pytest
from robot.api.types import Secret

from DatabaseKit import DatabaseKit
from environments.local.procs import free_port
from kitcore import AssertionOperator, KitError, TargetRefused

EQ = AssertionOperator("==")
GE = AssertionOperator(">=")
DATA = Path(__file__).resolve().parent.parent / "data" / "migrations"
UPDOWN = str(DATA / "streamspace_updown")


@pytest.fixture(scope="session")
def postgres(postgres_server):
    return postgres_server


@pytest.fixture(scope="session")
def admin(postgres):
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def kit(postgres):
    lib = DatabaseKit()
    lib.connect_to_postgresql("127.0.0.1", postgres.port, "postgres", dbname="postgres")
    try:
        yield lib
    finally:
        lib.ctx.cleanup.run_all()
        lib.close_all_database_connections()


@pytest.fixture
def testdb(kit):
    """A throwaway database with the v1..v5 schema and the v1 seed data, current on ``kit``."""
    kit.create_test_database()
    kit.migrate_up(UPDOWN, version=1)
    kit.execute_sql_file(str(DATA / "seed_v1.sql"))
    kit.migrate_up(UPDOWN)
    return kit


# -- connections ---------------------------------------------------------------------------
def test_connect_with_conninfo_alias_and_switch(postgres):
    lib = DatabaseKit()
    try:
        where = lib.connect_to_postgresql(conninfo=postgres.dsn, alias="info")
        assert where == f"127.0.0.1:{postgres.port}/postgres"
        lib.connect_to_postgresql("127.0.0.1", postgres.port, "postgres", dbname="template1", alias="t1")
        assert lib.get_query_rows("SELECT current_database() AS db") == [{"db": "template1"}]
        assert lib.switch_database_connection("info") == where
        assert lib.get_query_rows("SELECT current_database()", rows="tuples") == [("postgres",)]
        assert lib.get_query_rows("SELECT current_database() AS db", alias="t1")[0]["db"] == "template1"
        with pytest.raises(KitError, match="No database connection named 'x'"):
            lib.switch_database_connection("x")
    finally:
        lib.close_all_database_connections()
    with pytest.raises(KitError, match=r"No database connection is open.*Connect To PostgreSQL"):
        lib.get_query_rows("SELECT 1")


def test_refused_connection_names_cause_and_fix():
    port = free_port()
    with pytest.raises(KitError) as error:
        DatabaseKit().connect_to_postgresql("127.0.0.1", port, "postgres", dbname="postgres", connect_timeout="2s")
    text = str(error.value)
    assert f"cannot reach PostgreSQL at 127.0.0.1:{port}/postgres" in text
    assert "connection refused" in text and "Fix: start PostgreSQL there" in text


def test_bad_password_is_named_and_never_shown(postgres, admin):
    admin.execute("CREATE ROLE kit_pw_user LOGIN PASSWORD 'correct-horse-77'")
    hba = Path(postgres.datadir) / "pg_hba.conf"
    original = hba.read_text()
    hba.write_text("host all kit_pw_user 127.0.0.1/32 scram-sha-256\n" + original)
    admin.execute("SELECT pg_reload_conf()")
    try:
        lib = DatabaseKit()
        with pytest.raises(KitError) as error:
            lib.connect_to_postgresql("127.0.0.1", postgres.port, "kit_pw_user", Secret("wrong-battery-12"),
                                    dbname="postgres")
        assert "refused the credentials" in str(error.value)
        assert "password authentication failed" in str(error.value)
        assert "wrong-battery-12" not in str(error.value)
        with pytest.raises(KitError, match="refused the credentials"):
            lib.connect_to_postgresql("127.0.0.1", postgres.port, "kit_pw_user", dbname="postgres")
        lib.connect_to_postgresql("127.0.0.1", postgres.port, "kit_pw_user", Secret("correct-horse-77"),
                                dbname="postgres")
        assert lib.get_query_rows("SELECT current_user AS who") == [{"who": "kit_pw_user"}]
        lib.close_all_database_connections()
    finally:
        hba.write_text(original)
        admin.execute("SELECT pg_reload_conf()")
        admin.execute("DROP ROLE kit_pw_user")


def test_statement_timeout_default_override_and_change(kit, postgres):
    kit.connect_to_postgresql("127.0.0.1", postgres.port, "postgres", dbname="postgres", statement_timeout="0.5s",
                            alias="short")
    start = time.monotonic()
    with pytest.raises(KitError) as error:
        kit.get_query_rows("SELECT pg_sleep(3)")
    assert time.monotonic() - start < 2
    assert "timed out" in str(error.value) and "statement timeout of 0.5 s" in str(error.value)
    assert kit.get_query_rows("SELECT true AS slept FROM pg_sleep(0.7)", timeout="3s") == [{"slept": True}]
    with pytest.raises(KitError, match=r"statement timeout of 0.2 s"):
        kit.execute_sql("SELECT pg_sleep(1)", timeout="0.2s")
    assert kit.set_statement_timeout("2s") == 0.5
    assert kit.get_query_rows("SELECT true AS slept FROM pg_sleep(0.7)") == [{"slept": True}]
    assert kit.get_query_rows("SHOW statement_timeout", rows="tuples") == [("2s",)]


def test_reconnects_after_the_connection_broke(kit, admin):
    pid = kit.get_query_rows("SELECT pg_backend_pid() AS pid")[0]["pid"]
    admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(KitError, match="cannot talk to PostgreSQL"):
        kit.get_query_rows("SELECT 1")
    assert kit.get_query_rows("SELECT 1 AS one") == [{"one": 1}]


# -- queries ---------------------------------------------------------------------------------
def test_query_execute_and_row_counts(kit):
    kit.create_test_schema()
    kit.execute_sql("CREATE TABLE items (id int PRIMARY KEY, name text)")
    assert kit.execute_sql("INSERT INTO items VALUES (%s, %s), (%s, %s)", [1, "a", 2, "b"]) == 2
    assert kit.get_query_rows("SELECT * FROM items ORDER BY id") == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    assert kit.get_query_rows("SELECT name FROM items WHERE id = %(id)s", {"id": 2}, rows="tuples") == [("b",)]
    assert kit.get_row_count("items") == 2
    assert kit.get_row_count("items", EQ, 2) == 2
    assert kit.get_row_count("SELECT * FROM items WHERE id > %s", GE, 1, parameters=[1]) == 1
    with pytest.raises(AssertionError, match="Row count of table items"):
        kit.get_row_count("items", EQ, 3)
    assert kit.query_value_should_be("SELECT id, name FROM items ORDER BY id", EQ, "b", row=1, column="name") == "b"
    assert kit.query_result_should_be("SELECT count(*) FROM items", EQ, 2) == 2
    kit.query_result_should_be("SELECT id, name FROM items ORDER BY id", EQ, [[1, "a"], [2, "b"]])
    with pytest.raises(KitError, match="no row 5"):
        kit.query_value_should_be("SELECT id FROM items", EQ, 1, row=5)
    with pytest.raises(KitError, match="Unknown rows="):
        kit.get_query_rows("SELECT 1", rows="lists")
    # column names come from the result in the connection's encoding, whatever their letters
    assert kit.get_query_rows('SELECT 1 AS "Größe", 2 AS "名前"') == [{"Größe": 1, "名前": 2}]
    assert kit.get_query_rows("SELECT FROM items") == [{}, {}]  # rows without columns


def test_row_count_retries_until_rows_arrive(kit, postgres):
    kit.create_test_schema(name="kit_retry")
    kit.execute_sql("CREATE TABLE kit_retry.events (id int)")

    def insert_later() -> None:
        time.sleep(0.4)
        with psycopg.connect(postgres.dsn, autocommit=True) as conn:
            conn.execute("INSERT INTO kit_retry.events VALUES (1), (2)")

    thread = threading.Thread(target=insert_later)
    thread.start()
    try:
        assert kit.get_row_count("kit_retry.events", EQ, 2, timeout="5s", poll="0.05s") == 2
    finally:
        thread.join(5)
    with pytest.raises(AssertionError, match=r"it was still 2 after .* tries\)"):
        kit.query_value_should_be("SELECT count(*) FROM kit_retry.events", EQ, 3, timeout="0.3s")


def test_missing_table_is_named(kit):
    with pytest.raises(KitError) as error:
        kit.get_query_rows("SELECT * FROM no_such_table")
    assert "a table is missing" in str(error.value) and "no_such_table" in str(error.value)
    with pytest.raises(KitError, match="a table is missing"):
        kit.get_row_count("no_such_table")


def test_sql_script_names_the_failing_statement_and_rolls_back(kit, tmp_path):
    kit.create_test_schema()
    script = tmp_path / "seed.sql"
    script.write_text("CREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n\nINSERT INTO t VALUES ('x');\n")
    with pytest.raises(KitError) as error:
        kit.execute_sql_file(str(script))
    text = str(error.value)
    assert "seed.sql failed at statement 3 of 3 (line 4, column" in text
    assert "invalid input syntax for type integer" in text and "INSERT INTO t VALUES ('x')" in text
    kit.table_should_not_exist("t")
    script.write_text("BEGIN;\nCREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\nCOMMIT;\n")
    assert kit.execute_sql_file(str(script)) == 2
    assert kit.get_row_count("t") == 1
    with pytest.raises(KitError, match="does not exist"):
        kit.execute_sql_file(str(tmp_path / "missing.sql"))


# -- isolation and cleanup ---------------------------------------------------------------------
def test_test_database_is_dropped_with_its_sessions(kit, admin, postgres):
    name = kit.create_test_database()
    assert kit.get_query_rows("SELECT current_database() AS db") == [{"db": name}]
    other = psycopg.connect(f"host=127.0.0.1 port={postgres.port} user=postgres dbname={name}", autocommit=True)
    try:
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        kit.ctx.cleanup.run_all()
        assert admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None
        assert other.broken or other.closed or _dead(other)
    finally:
        other.close()


def _dead(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return True
    return False


def test_test_schema_is_used_and_dropped(kit, admin):
    schema = kit.create_test_schema()
    kit.execute_sql("CREATE TABLE scoped (id int)")
    kit.table_should_exist("scoped", schema=schema)
    assert admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()
    kit.ctx.cleanup.run_all()
    assert admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema]).fetchone() is None
    assert kit.get_query_rows("SHOW search_path", rows="tuples") == [('"$user", public',)]
    with pytest.raises(KitError, match="Refusing"):
        kit.create_test_schema(name="public")


# -- schema ------------------------------------------------------------------------------------
def test_schema_assertions(testdb):
    kit = testdb
    kit.table_should_exist("agents")
    with pytest.raises(AssertionError, match=r"Table 'nope' does not exist .*tables: agent_commands, agents"):
        kit.table_should_exist("nope")
    kit.column_should_have_type("sessions", "platform", "character varying(50)", nullable=False,
                                default="'kubernetes'::character varying")
    kit.column_should_have_type("sessions", "tags", "text[]")
    kit.column_should_have_type("agents", "capacity", "JSONB", nullable=False)
    with pytest.raises(AssertionError, match=r"type is 'character varying\(255\)', expected 'text'"):
        kit.column_should_have_type("sessions", "agent_id", "text")
    with pytest.raises(AssertionError, match="has no column 'nope'"):
        kit.column_should_have_type("sessions", "nope")
    fk = kit.constraint_should_exist("sessions", "fk", "agent_id", references="agents(agent_id)",
                                     on_delete="SET NULL")
    assert fk["name"] == "sessions_agent_id_fkey"
    kit.constraint_should_exist("agent_commands", "FOREIGN KEY", "agent_id", references="agents",
                                on_delete="CASCADE")
    kit.constraint_should_exist("users", "unique", "email")
    kit.constraint_should_exist("users", "pk", "id")
    kit.constraint_should_exist("user_quotas", "check", "max_sessions")
    with pytest.raises(AssertionError, match=r"no constraint FOREIGN KEY \(agent_id\) .*ON DELETE CASCADE"):
        kit.constraint_should_exist("sessions", "fk", "agent_id", on_delete="CASCADE")
    kit.index_should_exist("agent_commands", "agent_id,status")
    kit.index_should_exist("agents", name="agents_agent_id_key", unique=True)
    kit.index_should_exist("agent_commands", ["session_id"])
    with pytest.raises(AssertionError, match="has no index"):
        kit.index_should_exist("sessions", "memory")


def test_snapshot_and_diff(testdb):
    kit = testdb
    before = kit.get_schema_snapshot()
    assert set(before["tables"]) == {"users", "catalog_templates", "sessions", "agents", "agent_commands",
                                     "user_quotas"}
    assert before["tables"]["sessions"]["columns"]["agent_id"] == {"type": "character varying(255)",
                                                                   "nullable": True, "default": None}
    kit.schema_snapshots_should_be_equal(before, kit.get_schema_snapshot())
    kit.execute_sql("ALTER TABLE sessions ALTER COLUMN memory TYPE text")
    kit.execute_sql("ALTER TABLE agents ADD COLUMN extra int")
    with pytest.raises(AssertionError) as error:
        kit.schema_snapshots_should_be_equal(before, kit.get_schema_snapshot(), names="before,after")
    text = str(error.value)
    assert "2 differences" in text
    assert "tables.agents.columns.extra: only in after" in text
    assert "tables.sessions.columns.memory.type: 'character varying(50)' in before != 'text' in after" in text


def test_checksums_are_order_independent_and_diffs_readable(testdb):
    kit = testdb
    first = kit.get_table_checksums()
    assert first["sessions"]["rows"] == 4 and first["users"]["rows"] == 3
    assert "schema_migrations" not in first
    kit.execute_sql("CLUSTER sessions USING sessions_pkey")  # rewrites the table: physical order changes
    kit.table_checksums_should_be_equal(first, kit.get_table_checksums())
    kit.execute_sql("UPDATE users SET full_name = 'Bob B' WHERE username = 'bob'")
    kit.execute_sql("DELETE FROM catalog_templates WHERE name = 'vscode'")
    with pytest.raises(AssertionError) as error:
        kit.table_checksums_should_be_equal(first, kit.get_table_checksums(), names="before,after")
    text = str(error.value)
    assert "catalog_templates: 2 rows in before != 1 rows in after" in text
    assert "users: same row count (3) but the contents differ" in text
    only = kit.get_table_checksums("users", columns={"users": ["id", "username"]})
    assert list(only) == ["users"]
    assert only["users"]["checksum"] != first["users"]["checksum"]
    with pytest.raises(KitError, match="Table 'nope' does not exist"):
        kit.get_table_checksums("nope")


def test_destructive_keywords_refuse_targets_not_allow_listed(postgres):
    lib = DatabaseKit(test_targets="10.1.1.*")
    lib.connect_to_postgresql("127.0.0.1", postgres.port, "postgres", dbname="postgres")
    try:
        with pytest.raises(TargetRefused, match="refused to migrate down database"):
            lib.migrate_down(UPDOWN)
        with pytest.raises(TargetRefused, match="DATABASEKIT_TEST_TARGETS"):
            lib.force_schema_version(1)
    finally:
        lib.close_all_database_connections()


def test_a_frozen_server_cannot_hang_a_query(kit, postgres, admin):
    kit.connect_to_postgresql("127.0.0.1", postgres.port, "postgres", dbname="postgres", statement_timeout="0.5s",
                            alias="frozen")
    kit.ctx.watchdog.grace = 0.5
    pid = kit.get_query_rows("SELECT pg_backend_pid() AS pid")[0]["pid"]
    os.kill(pid, signal.SIGSTOP)  # the backend can no longer answer nor enforce its statement timeout
    try:
        start = time.monotonic()
        with pytest.raises(KitError) as error:
            kit.get_query_rows("SELECT 1")
        elapsed = time.monotonic() - start
    finally:
        os.kill(pid, signal.SIGCONT)
    assert elapsed < 4, f"the query hung for {elapsed:.1f} s"
    assert "got no answer from PostgreSQL" in str(error.value) and "seems frozen" in str(error.value)
    assert kit.get_query_rows("SELECT 2 AS two") == [{"two": 2}]  # reconnected
