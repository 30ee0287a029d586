"""The whole-schema check of suite 09 against a real PostgreSQL: the reference platform's migrations leave
exactly the schema file's schema, and a migration that drops a column, an index, a default or a NOT NULL,
or changes a type, breaks it by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from DatabaseKit import DatabaseKit
from DatabaseKit.contract import contract_breaches, read_schema_file
from kitcore import KitError

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "environments" / "local" / "platform" / "migrations"
SCHEMA = ROOT / "variables" / "schemas" / "reference.yaml"


@pytest.fixture
def kit(scratch_database_kit):
    return scratch_database_kit


def with_extra_migration(tmp_path: Path, up: str, down: str) -> Path:
    folder = Path(shutil.copytree(MIGRATIONS, tmp_path / "migrations"))
    version = len(list(folder.glob("*.up.sql"))) + 1
    (folder / f"{version:03d}_tidy_up.up.sql").write_text(up + "\n")
    (folder / f"{version:03d}_tidy_up.down.sql").write_text(down + "\n")
    return folder


def test_the_reference_migrations_leave_exactly_the_contracts_schema(kit: DatabaseKit) -> None:
    kit.migrate_up(str(MIGRATIONS))
    kit.schema_should_match_the_contract(str(SCHEMA))
    tables = read_schema_file(SCHEMA)["tables"]
    assert {"users", "sessions", "agents", "agent_commands", "catalog_templates", "user_quotas"} <= set(tables)
    assert sum(len(t["columns"]) for t in tables.values()) > 50, "the file holds the whole schema, not a handful"


@pytest.mark.parametrize(("up", "down", "named"), [
    ("ALTER TABLE sessions DROP COLUMN status_message;", "ALTER TABLE sessions ADD COLUMN status_message text;",
     "sessions: column status_message (text NULL) is missing"),
    ("DROP INDEX agent_commands_session_idx;",
     "CREATE INDEX agent_commands_session_idx ON agent_commands (session_id);",
     "agent_commands: index agent_commands_session_idx"),
    ("ALTER TABLE agent_commands ALTER COLUMN attempts DROP DEFAULT;",
     "ALTER TABLE agent_commands ALTER COLUMN attempts SET DEFAULT 0;",
     "agent_commands: column attempts is integer NOT NULL, the contract says integer NOT NULL DEFAULT 0"),
    ("ALTER TABLE agent_commands ALTER COLUMN action DROP NOT NULL;",
     "ALTER TABLE agent_commands ALTER COLUMN action SET NOT NULL;",
     "agent_commands: column action is text NULL, the contract says text NOT NULL"),
    ("ALTER TABLE sessions ALTER COLUMN memory TYPE varchar(16);",
     "ALTER TABLE sessions ALTER COLUMN memory TYPE text;",
     "sessions: column memory is character varying(16)"),
])
def test_a_migration_that_breaks_the_schema_fails_naming_what_it_broke(kit: DatabaseKit, tmp_path: Path, up: str,
                                                                      down: str, named: str) -> None:
    kit.migrate_up(str(with_extra_migration(tmp_path, up, down)))
    with pytest.raises(AssertionError) as failure:
        kit.schema_should_match_the_contract(str(SCHEMA))
    assert "breaks the contract's schema" in str(failure.value) and named in str(failure.value), str(failure.value)


def test_what_a_database_has_beyond_the_contract_is_only_reported(kit: DatabaseKit, tmp_path: Path) -> None:
    kit.migrate_up(str(with_extra_migration(tmp_path, "ALTER TABLE sessions ADD COLUMN note text;",
                                            "ALTER TABLE sessions DROP COLUMN note;")))
    kit.schema_should_match_the_contract(str(SCHEMA))
    breaches, extras = contract_breaches(read_schema_file(SCHEMA), kit.get_schema_snapshot())
    assert breaches == [] and extras == ["sessions: column note is not in the contract"]


def test_a_schema_file_that_is_missing_or_empty_is_named(tmp_path: Path) -> None:
    with pytest.raises(KitError, match="does not exist"):
        read_schema_file(tmp_path / "nowhere.yaml")
    (tmp_path / "empty.yaml").write_text("tables: {}\n")
    with pytest.raises(KitError, match="states no tables"):
        read_schema_file(tmp_path / "empty.yaml")


def test_a_written_schema_file_reads_back_as_the_contract(kit: DatabaseKit, tmp_path: Path) -> None:
    kit.migrate_up(str(MIGRATIONS))
    written = kit.write_schema_file(str(tmp_path / "schema.yaml"))
    assert read_schema_file(written)["tables"] == read_schema_file(SCHEMA)["tables"]
