"""DatabaseKit migrations against a real PostgreSQL: both layouts, round trips, broken sets, scenarios."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from DatabaseKit import DatabaseKit
from kitcore import AssertionOperator, KitError

EQ = AssertionOperator("==")
DATA = Path(__file__).resolve().parent.parent / "data" / "migrations"
UPDOWN = str(DATA / "streamspace_updown")
SEED = str(DATA / "seed_v1.sql")


@pytest.fixture(params=["up-down", "rollback"])
def streamspace_set(request, rollback_migrations) -> str:
    """The StreamSpace migrations in either layout (the rollback one is written from the up/down set)."""
    return UPDOWN if request.param == "up-down" else str(rollback_migrations)


@pytest.fixture
def kit(scratch_database_kit):
    return scratch_database_kit


def copy_set(src: str, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest


# -- reading -----------------------------------------------------------------------------------
def test_both_layouts_read_alike(rollback_migrations):
    kit = DatabaseKit()
    updown, rollback = kit.read_migrations(UPDOWN), kit.read_migrations(str(rollback_migrations))
    assert [(m["version"], m["name"]) for m in updown] == [(1, "initial_schema"), (2, "agents"),
                                                          (3, "session_agent_columns"), (4, "user_quotas"),
                                                          (5, "agent_commands_session_index")]
    assert [(m["version"], m["name"]) for m in rollback] == [(m["version"], m["name"]) for m in updown]
    assert {m["layout"] for m in updown} == {"up-down"} and {m["layout"] for m in rollback} == {"rollback"}
    assert rollback[2]["down"].endswith("003_session_agent_columns_rollback.sql")


def test_malformed_name_fails_at_read_time():
    with pytest.raises(KitError) as error:
        DatabaseKit().read_migrations(str(DATA / "malformed_name"))
    text = str(error.value)
    assert "'add-agents.sql'" in text and "malformed name" in text and "NNN_<name>.up.sql" in text


def test_other_folder_mistakes_are_named(tmp_path):
    kit = DatabaseKit()
    with pytest.raises(KitError, match="does not exist"):
        kit.read_migrations(str(tmp_path / "nope"))
    with pytest.raises(KitError, match="No migration files"):
        kit.read_migrations(str(tmp_path))
    (tmp_path / "001_a.up.sql").write_text("SELECT 1;")
    (tmp_path / "001_b.up.sql").write_text("SELECT 1;")
    with pytest.raises(KitError, match=r"version 1 .* has two different files"):
        kit.read_migrations(str(tmp_path))
    (tmp_path / "001_b.up.sql").unlink()
    (tmp_path / "002_c.down.sql").write_text("SELECT 1;")
    with pytest.raises(KitError, match=r"002_c .*has a down file but no up file"):
        kit.read_migrations(str(tmp_path))


# -- up, down, version table ---------------------------------------------------------------------
def test_up_down_up_gives_identical_schema_and_data(kit, streamspace_set):
    folder = streamspace_set
    steps = kit.migrate_up(folder, version=1)
    assert [s["version"] for s in steps] == [1]
    v1_fresh = kit.get_schema_snapshot()
    kit.execute_sql_file(SEED)
    steps = kit.migrate_up(folder)
    assert [s["version"] for s in steps] == [2, 3, 4, 5]
    assert all(s["seconds"] >= 0 for s in steps)
    assert [s["transactional"] for s in steps] == [True, True, True, False]  # 005: CREATE INDEX CONCURRENTLY
    kit.get_schema_version(EQ, 5, dirty=False)
    latest, data = kit.get_schema_snapshot(), kit.get_table_checksums()
    assert data["agents"]["rows"] == 1 and data["user_quotas"]["rows"] == 3  # backfills ran
    assert kit.get_query_rows("SELECT DISTINCT agent_id, platform FROM sessions", rows="tuples") == [("k8s-legacy",
                                                                                             "kubernetes")]
    down = kit.migrate_down(folder, steps=4)
    assert [(s["version"], s["to_version"]) for s in down] == [(5, 4), (4, 3), (3, 2), (2, 1)]
    kit.get_schema_version(EQ, 1, dirty=False)
    kit.schema_snapshots_should_be_equal(kit.get_schema_snapshot(), v1_fresh, names="rolled back,fresh v1")
    kit.table_should_not_exist("agents")
    v1_data = kit.get_table_checksums()
    assert v1_data["sessions"]["rows"] == 4
    kit.migrate_up(folder)
    kit.schema_snapshots_should_be_equal(kit.get_schema_snapshot(), latest, names="again,first")
    kit.table_checksums_should_be_equal(kit.get_table_checksums(), data, names="again,first")


def test_version_table_is_golang_migrate_compatible(kit):
    kit.get_schema_version(EQ, 0, dirty=False)
    kit.migrate_up(UPDOWN, version=2)
    columns = kit.get_query_rows("SELECT column_name, data_type, is_nullable FROM information_schema.columns "
                        "WHERE table_name = 'schema_migrations' ORDER BY ordinal_position", rows="tuples")
    assert columns == [("version", "bigint", "NO"), ("dirty", "boolean", "NO")]
    kit.constraint_should_exist("schema_migrations", "pk", "version")
    assert kit.get_query_rows("SELECT version, dirty FROM schema_migrations", rows="tuples") == [(2, False)]
    assert kit.get_schema_version() == {"version": 2, "dirty": False}
    with pytest.raises(AssertionError, match="should be"):
        kit.get_schema_version(EQ, 3)
    with pytest.raises(AssertionError, match="is clean, expected dirty"):
        kit.get_schema_version(dirty=True)
    kit.migrate_down(UPDOWN, version=0)
    assert kit.get_query_rows("SELECT count(*) FROM schema_migrations", rows="tuples") == [(0,)]
    kit.force_schema_version(4, dirty=True)
    assert kit.get_query_rows("SELECT version, dirty FROM schema_migrations", rows="tuples") == [(4, True)]


def test_wrong_targets_are_refused_before_anything_runs(kit):
    kit.migrate_up(UPDOWN, version=2)
    with pytest.raises(KitError, match="Version 9 is not in"):
        kit.migrate_up(UPDOWN, version=9)
    with pytest.raises(KitError, match=r"already.*Migrate Down"):
        kit.migrate_up(UPDOWN, version=1)
    with pytest.raises(KitError, match="only 2 are applied"):
        kit.migrate_down(UPDOWN, steps=3)
    with pytest.raises(KitError, match="Migrate Up"):
        kit.migrate_down(UPDOWN, version=4)
    kit.get_schema_version(EQ, 2, dirty=False)


# -- broken sets -----------------------------------------------------------------------------------
def test_syntax_error_halfway_rolls_the_step_back(kit):
    folder = str(DATA / "broken_syntax")
    with pytest.raises(KitError) as error:
        kit.migrate_up(folder)
    text = str(error.value)
    assert "Migration 002_agents.up.sql failed at statement 3 of 4 (line 13, column 5)" in text
    assert 'syntax error at or near "agent_id"' in text and "[42601]" in text
    assert "CREATE TABLE agent_commands" in text
    assert "rolled back, so the database stays at version 1 (not dirty)" in text
    kit.get_schema_version(EQ, 1, dirty=False)
    kit.table_should_not_exist("agents")  # statements 1 and 2 were rolled back too
    kit.table_should_exist("users")


def test_missing_down_file_is_reported_when_needed_and_nothing_changes(kit):
    folder = str(DATA / "missing_down")
    assert kit.read_migrations(folder)[1]["down"] is None
    kit.migrate_up(folder)
    with pytest.raises(KitError) as error:
        kit.migrate_down(folder, version=0)
    text = str(error.value)
    assert "migration 002_agents has no down file" in text
    assert "expected '002_agents.down.sql'" in text and "nothing was changed" in text
    kit.get_schema_version(EQ, 2, dirty=False)
    kit.table_should_exist("agents")


def test_failing_non_transactional_step_marks_dirty(kit):
    folder = str(DATA / "nontx_failing")
    with pytest.raises(KitError) as error:
        kit.migrate_up(folder)
    text = str(error.value)
    assert "002_concurrent_indexes.up.sql failed at statement 2 of 2" in text
    assert 'column "agent_id" does not exist' in text
    assert "statements 1-1 stay applied" in text and "marked dirty at version 2" in text
    assert "Force Schema Version  1" in text
    kit.get_schema_version(EQ, 2, dirty=True)
    kit.index_should_exist("users", name="idx_users_active")  # applied, and could not be rolled back
    with pytest.raises(KitError, match="is dirty at version 2"):
        kit.migrate_up(folder)
    with pytest.raises(KitError, match="is dirty at version 2"):
        kit.migrate_down(folder)
    kit.execute_sql("DROP INDEX idx_users_active")  # the repair by hand
    kit.force_schema_version(1)
    kit.get_schema_version(EQ, 1, dirty=False)


def test_non_transactional_step_failing_first_stays_clean(kit, tmp_path):
    folder = copy_set(str(DATA / "nontx_failing"), tmp_path / "set")
    (folder / "002_concurrent_indexes.up.sql").write_text(
        "CREATE INDEX CONCURRENTLY idx_x ON sessions (agent_id);\nCREATE INDEX CONCURRENTLY idx_y ON users (active);\n")
    with pytest.raises(KitError, match=r"nothing was applied .* stays at version 1 \(not dirty\)"):
        kit.migrate_up(str(folder))
    kit.get_schema_version(EQ, 1, dirty=False)


# -- scenarios ---------------------------------------------------------------------------------------
def test_scenarios_pass_on_the_streamspace_sets(kit, streamspace_set):
    folder = streamspace_set
    install = kit.fresh_install_should_succeed(folder)
    assert install["version"] == 5 and len(install["steps"]) == 5 and install["seconds"] > 0
    kit.create_test_database()  # a second, empty database for the upgrade with data
    upgrade = kit.incremental_migration_should_preserve_data(folder, 1, seed=SEED)
    assert upgrade["new_tables"] == ["agent_commands", "agents", "user_quotas"]
    assert upgrade["new_columns"] == {"sessions": ["platform", "agent_id", "platform_metadata"]}
    assert upgrade["before"]["sessions"]["rows"] == 4
    rollback = kit.rollback_should_restore_schema_and_data(folder, steps=4, full_data=True)
    assert (rollback["from_version"], rollback["to_version"]) == (5, 1)
    assert [s["version"] for s in rollback["down"]] == [5, 4, 3, 2]
    kit.rollback_should_restore_schema_and_data(folder, steps=2)


def test_incremental_migration_takes_seed_sql_as_text(kit):
    kit.create_test_database()
    seed_sql = Path(SEED).read_text()
    assert len(seed_sql) > 255  # longer than a file name may be: must not be mistaken for a path
    upgrade = kit.incremental_migration_should_preserve_data(UPDOWN, 1, seed=seed_sql)
    assert upgrade["before"]["sessions"]["rows"] == 4


def test_fresh_install_refuses_a_used_schema(kit):
    kit.migrate_up(UPDOWN, version=1)
    with pytest.raises(KitError, match=r"needs an empty schema .* users"):
        kit.fresh_install_should_succeed(UPDOWN)


def test_incremental_migration_catches_lost_and_changed_data(kit, tmp_path):
    folder = copy_set(UPDOWN, tmp_path / "lossy")
    (folder / "004_user_quotas.up.sql").write_text(
        "ALTER TABLE users DROP COLUMN full_name;\nUPDATE sessions SET state = 'failed' WHERE state = 'running';\n")
    with pytest.raises(AssertionError) as error:
        kit.incremental_migration_should_preserve_data(str(folder), 1, seed=SEED)
    text = str(error.value)
    assert "table users lost columns full_name" in text
    assert "sessions: same row count (4) but the contents differ" in text
    kit.create_test_database()
    with pytest.raises(KitError, match="No data at version 1"):
        kit.incremental_migration_should_preserve_data(UPDOWN, 1)


def test_rollback_scenario_catches_an_incomplete_down_migration(kit, tmp_path):
    folder = copy_set(UPDOWN, tmp_path / "leaky")
    down = folder / "003_session_agent_columns.down.sql"
    down.write_text(down.read_text().replace("ALTER TABLE sessions DROP COLUMN platform_metadata;\n", ""))
    kit.migrate_up(str(folder), version=1)
    kit.execute_sql_file(SEED)
    kit.migrate_up(str(folder))
    with pytest.raises(AssertionError) as error:
        kit.rollback_should_restore_schema_and_data(str(folder), steps=3)
    text = str(error.value)
    assert "after rollback to 2: tables.sessions.columns.platform_metadata: only in rolled back" in text
