"""Migration scenarios in one keyword each: fresh install, upgrade with data, rollback round trip."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from psycopg import sql as pgsql
from robot.api import logger
from robot.api.deco import keyword

from DatabaseKit.checksums import checksum_diff, checksums
from DatabaseKit.context import DbContext, DbHandle, open_connection
from DatabaseKit.keywords.isolation import drop_database
from DatabaseKit.keywords.migrations import Migrator, log_steps
from DatabaseKit.keywords.schema import current_schema
from DatabaseKit.schema import diff, snapshot, without_schema_key
from DatabaseKit.sqlsplit import split_sql
from kitcore import KitError


def _snapshot(ctx: DbContext, handle: DbHandle, schema: str) -> dict[str, Any]:
    return snapshot(lambda q, p: ctx.run(handle, q, p, what="Read the schema").rows, schema)


def _columns(snap: dict[str, Any]) -> dict[str, list[str]]:
    return {table: list(facts["columns"]) for table, facts in snap["tables"].items()}


class ScenarioKeywords:
    def __init__(self, ctx: DbContext) -> None:
        self.ctx = ctx

    # -- helpers ------------------------------------------------------------------------------
    def _seed(self, handle: DbHandle, seed: str) -> None:
        text = _file_text(seed) or seed
        with self.ctx.call(handle, "Seed data"), handle.conn.transaction():
            for statement in split_sql(text):
                if not statement.transaction_control:
                    handle.conn.execute(statement.text)

    def reference_snapshot(self, handle: DbHandle, folder: str, version: int, schema: str) -> dict[str, Any]:
        """The schema a fresh database gets from ``folder`` at ``version`` (built in a throwaway database)."""
        name = f"kit_ref_{uuid.uuid4().hex[:10]}"
        self.ctx.run(handle, pgsql.SQL("CREATE DATABASE {}").format(pgsql.Identifier(name)),
                     what="Create a reference database")
        params = {**handle.params, "dbname": name}
        ref = DbHandle(None, params, handle.password, handle.statement_timeout_ms)  # type: ignore[arg-type]
        try:
            with self.ctx.call(ref, "Connect to the reference database"):
                ref.conn = open_connection(params, handle.password, handle.statement_timeout_ms)
            if schema != "public":
                self.ctx.run(ref, pgsql.SQL("CREATE SCHEMA {}").format(pgsql.Identifier(schema)))
                self.ctx.run(ref, "SELECT set_config('search_path', %s, false)", [f'"{schema}", public'])
            if version:
                Migrator(self.ctx, ref, folder).up(version)
            return _snapshot(self.ctx, ref, schema)
        finally:
            if ref.conn is not None:
                ref.conn.close()
            drop_database(self.ctx, handle, name)

    # -- keywords -----------------------------------------------------------------------------
    @keyword("Fresh Install Should Succeed", tags=["migrations", "scenario"])
    def fresh_install_should_succeed(self, folder: str, alias: str | None = None) -> dict[str, Any]:
        """Apply every migration of ``folder`` to an empty schema and check that the version table
        ends at the latest version, clean. Returns ``version``, ``seconds`` and the ``steps`` with
        their durations.

        Example:
        | ${install} = | Fresh Install Should Succeed | ${MIGRATIONS} |
        | Should Be True | ${install}[seconds] < 10 |
        """
        handle = self.ctx.handle(alias)
        schema = current_schema(handle, None)
        present = sorted(_snapshot(self.ctx, handle, schema)["tables"])
        migrator = Migrator(self.ctx, handle, folder)
        if present or migrator.state() != (0, False):
            raise KitError(f"Fresh Install Should Succeed needs an empty schema '{schema}' at {handle.where}",
                           f"it has tables {', '.join(present) or '(none)'} and version {migrator.state()[0]}",
                           "run it in 'Create Test Database' or 'Create Test Schema'")
        steps, total, version = migrator.up_to_latest("a fresh install")
        logger.info(f"Fresh install: {len(steps)} migrations in {total:.3f} s")
        return {"version": version, "seconds": total, "steps": log_steps("Fresh install", steps)}

    @keyword("Incremental Migration Should Preserve Data", tags=["migrations", "scenario"])
    def incremental_migration_should_preserve_data(self, folder: str, from_version: int, seed: str | None = None,
                                                   to_version: int | None = None,
                                                   alias: str | None = None) -> dict[str, Any]:
        """Upgrade from ``from_version`` with data present and check that no data was lost or changed.

        Brings the database to ``from_version`` (if it is below), runs ``seed`` (an SQL file or SQL
        text) if given, then records every existing table's row count and checksum over the columns
        it has *now*. After migrating up (to ``to_version`` or the latest) the same tables, over the
        same columns, must have the same rows: new columns and new tables are free, but a dropped
        table or column, a lost or an altered row fails. The tables must hold some rows (else there
        is nothing to prove). Returns the checksums, the new columns and tables, and the steps.

        Example:
        | Incremental Migration Should Preserve Data | ${MIGRATIONS} | 1 | seed=${CURDIR}/seed_v1.sql |
        """
        handle = self.ctx.handle(alias)
        schema = current_schema(handle, None)
        migrator = Migrator(self.ctx, handle, folder)
        version, _ = migrator.state()
        if version > int(from_version):
            raise KitError(f"The database is at version {version}, above from_version={from_version}",
                           fix="start from a fresh database ('Create Test Database')")
        if version < int(from_version):
            migrator.up(int(from_version))
        if seed:
            self._seed(handle, seed)
        before_snap = _snapshot(self.ctx, handle, schema)
        old_columns = _columns(before_snap)
        before = checksums(self.ctx, handle, schema, list(old_columns), columns=old_columns)
        if not any(t["rows"] for t in before.values()):
            raise KitError(f"No data at version {from_version} to preserve",
                           "every table is empty", "give seed= with rows for the tables of that version")
        steps = migrator.up(None if to_version is None else int(to_version))
        after_snap = _snapshot(self.ctx, handle, schema)
        problems: list[str] = []
        kept: dict[str, list[str]] = {}
        for table, cols in old_columns.items():
            if table not in after_snap["tables"]:
                problems.append(f"table {table} was dropped ({before[table]['rows']} rows lost)")
                continue
            now = after_snap["tables"][table]["columns"]
            gone = [c for c in cols if c not in now]
            if gone:
                problems.append(f"table {table} lost columns {', '.join(gone)}")
            kept[table] = [c for c in cols if c in now]
        after = checksums(self.ctx, handle, schema, list(kept), columns=kept)
        compare_before = {t: v for t, v in before.items() if t in kept and kept[t] == old_columns[t]}
        problems += checksum_diff(compare_before, {t: after[t] for t in compare_before}, ("before", "after"))
        new_columns = {t: [c for c in f["columns"] if c not in old_columns.get(t, [])]
                       for t, f in after_snap["tables"].items() if t in old_columns}
        new_tables = sorted(set(after_snap["tables"]) - set(old_columns))
        if problems:
            raise AssertionError("Migration from version {} lost or changed data:\n{}".format(
                from_version, "\n".join(problems)))
        logger.info(f"Data preserved in {len(before)} tables ({sum(t['rows'] for t in before.values())} rows); "
                    f"new tables: {', '.join(new_tables) or 'none'}")
        return {"from_version": int(from_version), "to_version": migrator.state()[0], "before": before,
                "after": after, "new_columns": {t: c for t, c in new_columns.items() if c},
                "new_tables": new_tables, "steps": log_steps("Incremental migration", steps)}

    @keyword("Rollback Should Restore Schema And Data", tags=["migrations", "scenario"])
    def rollback_should_restore_schema_and_data(self, folder: str, steps: int = 1, full_data: bool = False,
                                                reference: dict[str, Any] | None = None,
                                                alias: str | None = None) -> dict[str, Any]:
        """Roll back ``steps`` migrations and forward again, checking schema and data at each end.

        1. At the current version L: schema snapshot, and checksums of the tables that exist at the
           target version V over the columns they have at V.
        2. Down ``steps``: the schema must equal what a fresh database gets at V (``reference``, or
           built in a throwaway database), and those tables' rows must be unchanged.
        3. Up again to L: the schema must equal the snapshot of step 1 and the rows must be unchanged;
           with ``full_data=True`` every table's full checksum must equal the one taken at L (true
           when data of newer tables is rebuilt by the migrations alone, e.g. a backfill).

        Returns the versions, checksums and timed steps. The database must be a test target.

        Example:
        | Rollback Should Restore Schema And Data | ${MIGRATIONS} | steps=3 | full_data=True |
        """
        handle = self.ctx.handle(alias)
        self.ctx.guard.check("roll back", "database", handle.where)
        schema = current_schema(handle, None)
        migrator = Migrator(self.ctx, handle, folder)
        latest, dirty = migrator.state()
        if latest == 0 or dirty:
            raise KitError(f"Nothing to roll back at {handle.where}: version {latest}{' (dirty)' if dirty else ''}",
                           fix="migrate up first")
        applied = [m.version for m in migrator.migrations if m.version <= latest]
        if int(steps) < 1 or int(steps) > len(applied):
            raise KitError(f"Cannot roll back {steps} steps from version {latest}",
                           fix=f"ask for 1 to {len(applied)} steps")
        target = applied[-int(steps) - 1] if int(steps) < len(applied) else 0
        snap_latest = _snapshot(self.ctx, handle, schema)
        full_before = checksums(self.ctx, handle, schema)
        expected = reference or self.reference_snapshot(handle, folder, target, schema)
        cols = {t: c for t, c in _columns(expected).items() if t in snap_latest["tables"]}
        cols = {t: [c for c in cs if c in snap_latest["tables"][t]["columns"]] for t, cs in cols.items()}
        data_before = checksums(self.ctx, handle, schema, list(cols), columns=cols)

        problems: list[str] = []
        down = migrator.down(int(steps))
        snap_down = _snapshot(self.ctx, handle, schema)
        problems += [f"after rollback to {target}: {line}" for line in
                     diff(without_schema_key(snap_down), without_schema_key(expected),
                          names=("rolled back", f"fresh at {target}"))]
        data_down = checksums(self.ctx, handle, schema, list(cols), columns=cols)
        problems += [f"after rollback to {target}: {line}" for line in
                     checksum_diff(data_before, data_down, ("before", "rolled back"))]
        if problems:
            raise AssertionError(f"Rollback of {steps} steps ({latest} -> {target}) did not restore the database "
                                 f"at version {target} ({len(problems)} differences; it stays at {target}):\n"
                                 + "\n".join(problems[:40]))
        up = migrator.up(latest)
        snap_up = _snapshot(self.ctx, handle, schema)
        problems += [f"after migrating up again to {latest}: {line}" for line in
                     diff(without_schema_key(snap_up), without_schema_key(snap_latest),
                          names=("migrated again", "before"))]
        data_up = checksums(self.ctx, handle, schema, list(cols), columns=cols)
        problems += [f"after migrating up again to {latest}: {line}" for line in
                     checksum_diff(data_before, data_up, ("before", "migrated again"))]
        full_after = checksums(self.ctx, handle, schema)
        if full_data:
            problems += [f"after migrating up again to {latest} (all columns): {line}" for line in
                         checksum_diff(full_before, full_after, ("before", "migrated again"))]
        if problems:
            raise AssertionError(f"Rollback of {steps} steps ({latest} -> {target} -> {latest}) did not restore "
                                 f"the database ({len(problems)} differences):\n" + "\n".join(problems[:40]))
        return {"from_version": latest, "to_version": target, "checksums": data_before,
                "full_checksums": full_after, "down": log_steps("Rollback", down),
                "up": log_steps("Migrate up again", up)}


def _file_text(value: str) -> str | None:
    """The text of the file ``value`` names, or ``None`` when ``value`` is not a file path (e.g. SQL)."""
    if "\n" in value or ";" in value:
        return None
    try:
        path = Path(value)
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except (OSError, ValueError):
        return None
