"""DatabaseKit over a base schema, as a product keeps them whose program creates its schema at start:
a copy of the platform's database (pg_dump/pg_restore), migrations in the rollback layout applied over
it, each one and all of them up, down and up again, with rows; failures named by file and server error."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from conftest import write_rollback_layout

from DatabaseKit import DatabaseKit
from DatabaseKit.copying import Endpoint, copy_database
from DatabaseKit.rows import TableRows, compare_rows
from kitcore import AssertionOperator, KitError

EQ = AssertionOperator("==")

# what a product's program creates at start, idempotently, with the rows it writes itself
BASE = """
CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, org TEXT,
                                  password_hash TEXT);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user_id TEXT REFERENCES users (id) ON DELETE CASCADE,
                                     state TEXT, tags TEXT[]);
CREATE INDEX IF NOT EXISTS sessions_state_idx ON sessions (state);
CREATE TABLE IF NOT EXISTS audit (at TIMESTAMPTZ NOT NULL DEFAULT now(), what TEXT);
CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $$ BEGIN NEW.state = lower(NEW.state); RETURN NEW; END $$
    LANGUAGE plpgsql;
CREATE OR REPLACE TRIGGER sessions_touch BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION touch();
INSERT INTO users (id, username, password_hash) VALUES ('admin', 'admin', 'secret-hash') ON CONFLICT DO NOTHING;
"""
SEED = """
INSERT INTO users (id, username, org) VALUES ('u-alice', 'alice', 'acme'), ('u-bob', 'bob', NULL);
INSERT INTO sessions (id, user_id, state, tags) VALUES
  ('s1', 'u-alice', 'RUNNING', '{a,b}'), ('s2', 'u-bob', 'hibernated', '{}'), ('s3', 'admin', 'running', NULL);
INSERT INTO audit (what) VALUES ('login alice'), ('login bob');
"""
# changes over the base, each with its way back; 002 fills a base column where it was empty (a backfill)
GOOD = {
    "001_add_agents": (
        "CREATE TABLE agents (agent_id TEXT PRIMARY KEY, platform TEXT NOT NULL);\n"
        "ALTER TABLE sessions ADD COLUMN agent_id TEXT REFERENCES agents (agent_id) ON DELETE SET NULL;\n"
        "INSERT INTO agents VALUES ('legacy', 'kubernetes');\n"
        "UPDATE sessions SET agent_id = 'legacy';\n",
        "ALTER TABLE sessions DROP COLUMN agent_id;\nDROP TABLE agents;\n"),
    "002_session_end": (
        "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS ended_at TIMESTAMPTZ DEFAULT now();\n"
        "UPDATE users SET org = 'default' WHERE org IS NULL;\n"
        "CREATE INDEX IF NOT EXISTS sessions_ended_at_idx ON sessions (ended_at);\n",
        "DROP INDEX IF EXISTS sessions_ended_at_idx;\nALTER TABLE sessions DROP COLUMN IF EXISTS ended_at;\n"),
}
# 002 adds a column the base already has, without IF NOT EXISTS; 003's rollback drops a base column
BROKEN = {
    "001_add_agents": GOOD["001_add_agents"],
    "002_add_tags": ("ALTER TABLE sessions\nADD COLUMN tags TEXT[];\n", "ALTER TABLE sessions DROP COLUMN tags;\n"),
    "003_state_index": (
        "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS state TEXT;\n"
        "CREATE INDEX IF NOT EXISTS sessions_state_idx ON sessions (state);\n",
        "DROP INDEX IF EXISTS sessions_state_idx;\nALTER TABLE sessions DROP COLUMN IF EXISTS state;\n"),
}


def write_set(folder: Path, migrations: dict[str, tuple[str, str]]) -> str:
    """Write ``migrations`` in the up/down layout, then in the rollback layout; returns the latter."""
    updown = folder / "updown"
    updown.mkdir(parents=True)
    for stem, (up, down) in migrations.items():
        (updown / f"{stem}.up.sql").write_text(up)
        (updown / f"{stem}.down.sql").write_text(down)
    return str(write_rollback_layout(updown, folder / "rollback"))


@pytest.fixture
def kit(postgres_server):
    """A platform database holding the base schema and its rows (``platform``), and the admin connection."""
    lib = DatabaseKit()
    lib.connect_to_postgresql(conninfo=postgres_server.dsn, alias="admin")
    name = lib.create_test_database(alias="platform")
    with psycopg.connect(f"{postgres_server.dsn} dbname={name}", autocommit=True) as conn:
        conn.execute(BASE)
    lib.platform_dsn = f"{postgres_server.dsn} dbname={name}"
    try:
        yield lib
    finally:
        lib.ctx.cleanup.run_all()
        lib.close_all_database_connections()


def scratch_copy(kit: DatabaseKit, seed: bool = True) -> str:
    kit.switch_database_connection("admin")
    name = kit.create_test_database(copy_of=kit.platform_dsn, alias="scratch")
    if seed:
        kit.write_seed_data(SEED)
    return name


# -- the copy --------------------------------------------------------------------------------------------------
def test_the_copy_has_the_platforms_schema_and_rows_and_the_platform_is_untouched(kit, tmp_path):
    scratch_copy(kit, seed=False)
    assert kit.get_query_rows("SELECT id, password_hash FROM users", rows="tuples") == [("admin", "secret-hash")]
    kit.index_should_exist("sessions", "state")
    kit.execute_sql("INSERT INTO sessions (id, user_id, state) VALUES ('t', 'admin', 'UP')")  # the trigger came too
    assert kit.get_query_rows("SELECT state FROM sessions", rows="tuples") == [("up",)]
    platform = kit.get_schema_snapshot(alias="platform")
    kit.migrations_should_apply_in_order(write_set(tmp_path, GOOD), layout="rollback")
    kit.schema_snapshots_should_be_equal(kit.get_schema_snapshot(alias="platform"), platform, names="now,before")
    kit.table_should_not_exist("schema_migrations", alias="platform")
    kit.get_row_count("sessions", EQ, 0, alias="platform")


def test_a_copy_that_cannot_be_read_names_the_program_and_the_servers_error(kit, postgres_server):
    kit.switch_database_connection("admin")
    with pytest.raises(KitError) as error:
        kit.create_test_database(copy_of=f"{postgres_server.dsn} dbname=no_such_db")
    text = str(error.value)
    assert "with pg_dump failed" in text and 'database "no_such_db" does not exist' in text


def test_the_copy_keeps_the_password_out_of_its_errors(postgres_server):
    source = Endpoint({"host": "127.0.0.1", "port": postgres_server.port, "user": "postgres",
                       "dbname": "no_such_db"}, "pw-Secret-1234")
    with pytest.raises(KitError) as error:
        copy_database(source, Endpoint({"host": "127.0.0.1", "port": postgres_server.port, "user": "postgres",
                                        "dbname": "postgres"}, None))
    assert "pw-Secret-1234" not in str(error.value)


# -- a good set over the base --------------------------------------------------------------------------------
def test_a_rollback_layout_set_over_a_base_schema_goes_up_down_and_up(kit, tmp_path):
    folder = write_set(tmp_path, GOOD)
    assert [m["layout"] for m in kit.read_migrations(folder, layout="rollback")] == ["rollback", "rollback"]
    scratch_copy(kit)
    kit.migrate_up(folder, version=0, layout="rollback")  # the base is version 0
    kept = kit.migrating_up_should_keep_every_row(folder, layout="rollback")
    assert (kept["from_version"], kept["to_version"]) == (0, 2)
    assert kit.get_query_rows("SELECT org FROM users WHERE id = 'u-bob'", rows="tuples") == [("default",)]  # backfilled

    scratch_copy(kit)
    each = kit.every_migration_should_go_down_and_up_again(folder, layout="rollback")
    assert each["migrations"] == ["001_add_agents", "002_session_end"] and each["to_version"] == 2
    kit.get_schema_version(EQ, 2, dirty=False)

    scratch_copy(kit)
    before = kit.get_schema_snapshot()
    whole = kit.all_migrations_should_go_down_and_up_again(folder, layout="rollback")
    assert [s["version"] for s in whole["down"]] == [2, 1] and [s["version"] for s in whole["again"]] == [1, 2]
    kit.migrate_down(folder, version=0, layout="rollback")
    kit.schema_snapshots_should_be_equal(kit.get_schema_snapshot(), before, names="down again,base")
    assert kit.get_query_rows("SELECT id, tags FROM sessions ORDER BY id", rows="tuples") == [
        ("s1", ["a", "b"]), ("s2", []), ("s3", None)]


def test_the_declared_layout_is_enforced(tmp_path):
    folder = write_set(tmp_path, GOOD)
    with pytest.raises(KitError) as error:
        DatabaseKit().read_migrations(folder, layout="updown")
    text = str(error.value)
    assert "'001_add_agents.sql'" in text and "is in the rollback layout" in text
    assert "declared in the up-down layout (NNN_<name>.up.sql / NNN_<name>.down.sql)" in text
    with pytest.raises(KitError, match="is in the up-down layout"):
        DatabaseKit().read_migrations(str(tmp_path / "updown"), layout="rollback")
    with pytest.raises(KitError, match="Unknown migration layout 'sideways'"):
        DatabaseKit().read_migrations(folder, layout="sideways")


# -- failures ----------------------------------------------------------------------------------------------
def test_a_migration_that_fails_is_named_with_its_file_and_the_servers_error(kit, tmp_path):
    folder = write_set(tmp_path, BROKEN)
    scratch_copy(kit, seed=False)
    with pytest.raises(KitError) as error:
        kit.migrations_should_apply_in_order(folder, layout="rollback")
    text = str(error.value)
    assert "Migration 002_add_tags.sql failed at statement 1 of 1 (line 1, column 1)" in text
    assert 'column "tags" of relation "sessions" already exists [42701]' in text
    kit.get_schema_version(EQ, 1, dirty=False)  # 002 was rolled back


def test_every_defect_of_every_migration_is_listed_under_its_file(kit, tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr("DatabaseKit.findings.log_table", lambda title, columns, rows: logged.extend(rows))
    folder = write_set(tmp_path, BROKEN)
    scratch_copy(kit)
    with pytest.raises(AssertionError) as error:
        kit.every_migration_should_go_down_and_up_again(folder, layout="rollback")
    text = str(error.value)
    assert text.startswith("2 of 3 migrations do not go up, down and up again cleanly (the log has every "
                           "difference):")
    assert "001_add_agents:" not in text
    assert ("002_add_tags.sql fails at statement 1 of 1 (line 1, column 1): column \"tags\" of relation "
            "\"sessions\" already exists [42701]") in text
    assert "(left out: the next migration runs from version 1)" in text
    # the message shows the worst defect of each migration (lost data first), the log every one
    assert ("003_state_index_rollback.sql loses data: column sessions.state is gone with its 3 values "
            "(and 2 more defects in the log)") in text
    defects = {line for label, line in logged if label == "003_state_index"}
    assert defects == {
        "003_state_index_rollback.sql does not give back the schema of before the up: missing column "
        "sessions.state; missing index sessions.sessions_state_idx",
        "003_state_index_rollback.sql loses data: column sessions.state is gone with its 3 values",
        "003_state_index.sql run again loses or changes data: sessions: 3 values of column state changed or "
        "emptied (id='s1': 'running' -> NULL; id='s2': 'hibernated' -> NULL; id='s3': 'running' -> NULL)"}
    kit.get_schema_version(EQ, 3, dirty=False)


def test_a_down_that_loses_data_fails_the_round_trip(kit, tmp_path):
    lossy = dict(GOOD)
    lossy["002_session_end"] = (GOOD["002_session_end"][0],
                                GOOD["002_session_end"][1] + "DELETE FROM audit WHERE what = 'login bob';\n"
                                "UPDATE users SET password_hash = 'reset' WHERE id = 'admin';\n")
    folder = write_set(tmp_path, lossy)
    scratch_copy(kit)
    with pytest.raises(AssertionError) as error:
        kit.all_migrations_should_go_down_and_up_again(folder, layout="rollback")
    text = str(error.value)
    assert "after going down to 0 data is lost: audit: 1 row lost or changed (the table has no primary key)" in text
    assert "users: 1 value of column password_hash changed or emptied (id='admin': (hidden) -> (hidden))" in text
    assert "secret-hash" not in text and "reset" not in text


def test_an_up_that_loses_rows_fails_and_a_down_that_leaves_rows_behind_too(kit, tmp_path, monkeypatch):
    logged = []
    monkeypatch.setattr("DatabaseKit.findings.log_table", lambda title, columns, rows: logged.extend(rows))
    lossy = {"001_purge": ("DELETE FROM sessions WHERE state = 'hibernated';\n"
                           "INSERT INTO users (id, username) VALUES ('u-new', 'new') ON CONFLICT DO NOTHING;\n",
                           "SELECT 1;\n")}
    folder = write_set(tmp_path, lossy)
    scratch_copy(kit)
    with pytest.raises(AssertionError, match=r"sessions: 1 row lost \(id='s2'\)"):
        kit.migrating_up_should_keep_every_row(folder, layout="rollback")
    scratch_copy(kit)
    with pytest.raises(AssertionError) as error:
        kit.every_migration_should_go_down_and_up_again(folder, layout="rollback")
    text = str(error.value)
    assert "001_purge.sql loses data: sessions: 1 row lost (id='s2') (and 2 more defects in the log)" in text
    assert ("001_purge", "001_purge_rollback.sql loses data: sessions: 1 row lost (id='s2'); users: 1 row that was "
            "not there before (id='u-new')") in [tuple(row) for row in logged]


def test_round_trips_need_rows_and_a_version_below_the_last(kit, tmp_path):
    folder = write_set(tmp_path, GOOD)
    scratch_copy(kit, seed=False)
    kit.execute_sql("DELETE FROM users")
    with pytest.raises(KitError, match="No rows to keep"):
        kit.all_migrations_should_go_down_and_up_again(folder, layout="rollback")
    kit.migrate_up(folder, layout="rollback")
    with pytest.raises(KitError, match="at version 2 already"):
        kit.every_migration_should_go_down_and_up_again(folder, layout="rollback")


# -- the folder ----------------------------------------------------------------------------------------------
def test_the_migration_folder_comes_from_the_environment_when_not_given(tmp_path, monkeypatch):
    kit = DatabaseKit()
    (tmp_path / "migrations").mkdir()
    assert kit.get_migration_folder("migrations", root=str(tmp_path)) == str(tmp_path / "migrations")
    monkeypatch.setenv("KIT_TEST_MIGRATIONS", str(tmp_path / "migrations"))
    assert kit.get_migration_folder("", from_variable="KIT_TEST_MIGRATIONS") == str(tmp_path / "migrations")
    monkeypatch.delenv("KIT_TEST_MIGRATIONS")
    with pytest.raises(KitError) as error:
        kit.get_migration_folder("", from_variable="KIT_TEST_MIGRATIONS")
    assert "environment variable KIT_TEST_MIGRATIONS: it is not set. Fix: set KIT_TEST_MIGRATIONS" in str(error.value)
    monkeypatch.setenv("KIT_TEST_MIGRATIONS", str(tmp_path / "nope"))
    with pytest.raises(KitError, match="does not exist: it comes from the environment variable KIT_TEST_MIGRATIONS"):
        kit.get_migration_folder("", from_variable="KIT_TEST_MIGRATIONS")
    with pytest.raises(KitError, match="No migration folder given"):
        kit.get_migration_folder("")


# -- row comparison ------------------------------------------------------------------------------------------
def test_filling_empty_values_is_allowed_changing_set_ones_is_not():
    before = {"t": TableRows(["id", "a", "b"], ["id"], {("1",): ("1", None, "x"), ("2",): ("2", "y", None)})}
    filled = {"t": TableRows(["id", "a", "b"], ["id"], {("1",): ("1", "new", "x"), ("2",): ("2", "y", "new")})}
    assert compare_rows(before, filled) == []
    emptied = {"t": TableRows(["id", "a", "b"], ["id"], {("1",): ("1", None, None), ("2",): ("2", "y", None)})}
    assert compare_rows(before, emptied) == ["t: 1 value of column b changed or emptied (id='1': 'x' -> NULL)"]
    narrower = {"t": TableRows(["id", "a"], ["id"], {("1",): ("1", None), ("2",): ("2", "y")})}
    assert compare_rows(before, narrower) == ["column t.b is gone with its 1 value"]
    assert compare_rows(before, {}) == ["table t is gone with its 2 rows"]
    empty = {"t": TableRows(["id", "a", "b"], ["id"])}
    assert compare_rows(empty, {}, empty_ones=False) == []


def test_a_failure_message_shows_the_first_differences_and_the_log_all_of_them():
    from DatabaseKit.findings import Defect

    defect = Defect("after 006_x_rollback.sql the schema is not the one before 006_x.sql",
                    [f"missing column t.c{i}" for i in range(5)])
    assert defect.short().endswith("missing column t.c1; 3 more")
    assert defect.full().endswith("missing column t.c3; missing column t.c4")
    assert Defect("002_x.sql fails", []).short() == "002_x.sql fails"
