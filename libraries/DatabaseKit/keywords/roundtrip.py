"""Migrations over whatever a database already holds (a base schema, rows): apply them, and take each
one, then all of them, up, down and up again, checking schema and rows at every turn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from DatabaseKit.context import DbContext, DbHandle
from DatabaseKit.findings import Defect, explain, phase, report, schema_changes
from DatabaseKit.keywords.migrations import Migrator, log_steps
from DatabaseKit.keywords.scenarios import _file_text, _snapshot
from DatabaseKit.keywords.schema import current_schema
from DatabaseKit.migrations import Migration, run_step
from DatabaseKit.rows import TableRows, columns_of, compare_rows, read_rows
from DatabaseKit.sqlsplit import split_sql
from kitcore import KitError

MAX_LINES = 60


class Reading:
    """The schema and the rows of a database at one moment."""

    def __init__(self, ctx: DbContext, handle: DbHandle, schema: str,
                 columns: dict[str, list[str]] | None = None) -> None:
        self.snapshot = _snapshot(ctx, handle, schema)
        self.rows: dict[str, TableRows] = read_rows(ctx, handle, self.snapshot, columns)

    @property
    def row_count(self) -> int:
        return sum(t.count for t in self.rows.values())


@dataclass
class Run:
    """A database about to be migrated: its connection, schema, migrations, version and what is pending."""

    handle: DbHandle
    schema: str
    migrator: Migrator
    start: int
    pending: list[Migration]


class RoundTripKeywords:
    def __init__(self, ctx: DbContext) -> None:
        self.ctx = ctx

    # -- helpers ------------------------------------------------------------------------------------
    def _start(self, folder: str, layout: str | None, alias: str | None, action: str) -> Run:
        handle = self.ctx.handle(alias)
        migrator = Migrator(self.ctx, handle, folder, layout=layout)
        version, dirty = migrator.state()
        if dirty:
            raise KitError(f"Cannot {action}: the database at {handle.where} is dirty at version {version}",
                           fix="start from a fresh test database")
        pending = [m for m in migrator.migrations if m.version > version]
        if not pending:
            raise KitError(f"Cannot {action}: the database at {handle.where} is at version {version} already, "
                           f"the last one in {folder}", fix="start from a database below the last version")
        migrator.versions.ensure()
        return Run(handle, current_schema(handle, None), migrator, version, pending)

    def _read(self, handle: DbHandle, schema: str, like: Reading | None = None) -> Reading:
        return Reading(self.ctx, handle, schema, columns_of(like.rows) if like is not None else None)

    @staticmethod
    def _need_rows(reading: Reading, handle: DbHandle, version: int) -> None:
        if not reading.row_count:
            raise KitError(f"No rows to keep in the database at {handle.where} (version {version})",
                           "every table is empty, so nothing could be lost",
                           "write rows first ('Write Seed Data')")

    # -- keywords -------------------------------------------------------------------------------------
    @keyword("Write Seed Data", tags=["migrations", "data"])
    def write_seed_data(self, seed: str, alias: str | None = None) -> dict[str, int]:
        """Run ``seed`` (the path of an SQL file, or SQL text) in one transaction; returns the row count
        of every table afterwards. Use it to put rows in a database before migrating it.

        Example:
        | Write Seed Data | ${CURDIR}/seed_v1.sql |
        | Write Seed Data | INSERT INTO users (id, username) VALUES ('u1', 'alice') |
        """
        handle = self.ctx.handle(alias)
        text = _file_text(seed) or seed
        statements = [s for s in split_sql(text) if not s.transaction_control]
        if not statements:
            raise KitError("Write Seed Data got no SQL", fix="give an SQL file's path or SQL statements")
        with self.ctx.call(handle, "Write Seed Data"), handle.conn.transaction():
            for statement in statements:
                handle.conn.execute(statement.text)
        counts = {t: r.count for t, r in self._read(handle, current_schema(handle, None)).rows.items() if r.count}
        logger.info(f"Seed data written ({len(statements)} statements); rows now: "
                    + (", ".join(f"{t} {n}" for t, n in sorted(counts.items())) or "none"))
        return counts

    @keyword("Migrations Should Apply In Order", tags=["migrations", "scenario"])
    def migrations_should_apply_in_order(self, folder: str, layout: str | None = None,
                                         alias: str | None = None) -> dict[str, Any]:
        """Apply every migration of ``folder`` above the database's version, in order, over whatever
        the database holds (an empty database, or a base schema such as a copy of a platform's);
        check that the version ends at the last one, clean. A migration that fails fails the keyword
        with its file, statement, line and the server's error. Returns ``from_version``, ``version``,
        ``seconds`` (timed around the migrations themselves), its ``resolution`` (the rounding to 0.1 ms)
        and the timed ``steps``.

        Example:
        | ${applied} = | Migrations Should Apply In Order | ${MIGRATIONS} | layout=rollback |
        """
        run = self._start(folder, layout, alias, "apply the migrations")
        migrator, start = run.migrator, run.start
        steps, seconds, version = migrator.up_to_latest("applying the migrations")
        logger.info(f"{len(steps)} migrations applied over version {start} in {seconds:.3f} s")
        return {"from_version": start, "version": version, "seconds": seconds, "resolution": 0.0001,
                "steps": log_steps("Migrations applied", steps)}

    @keyword("Migrating Up Should Keep Every Row", tags=["migrations", "scenario"])
    def migrating_up_should_keep_every_row(self, folder: str, layout: str | None = None,
                                           alias: str | None = None) -> dict[str, Any]:
        """Migrate up to the last version from where the database is, with rows in it, and check
        that no table, column or row was lost and no value that was set changed. New tables, new
        columns, new rows and values filled where there were none (a backfill) are allowed. Tables are
        compared row by row through their primary key. Returns the versions and the steps.

        Example:
        | Write Seed Data | ${SEED} |
        | Migrating Up Should Keep Every Row | ${MIGRATIONS} |
        """
        run = self._start(folder, layout, alias, "migrate up")
        handle, schema, migrator, start = run.handle, run.schema, run.migrator, run.start
        before = self._read(handle, schema)
        self._need_rows(before, handle, start)
        steps = migrator.up()
        lost = compare_rows(before.rows, self._read(handle, schema, before).rows)
        if lost:
            raise AssertionError(f"Migrating up from version {start} to {migrator.latest} lost or changed data "
                                 f"({len(lost)} problems):\n" + "\n".join(lost[:MAX_LINES]))
        logger.info(f"Every row kept: {before.row_count} rows in {len(before.rows)} tables")
        return {"from_version": start, "to_version": migrator.latest, "steps": log_steps("Migrate up", steps)}

    @keyword("Every Migration Should Go Down And Up Again", tags=["migrations", "scenario"])
    def every_migration_should_go_down_and_up_again(self, folder: str, layout: str | None = None,
                                                    alias: str | None = None) -> dict[str, Any]:
        """Take the migrations above the database's version one at a time: up, down, up again.

        Before each up the schema and the rows are read. After the down the schema must equal that
        reading and every row and value must be back (rows the up added must be gone); after the up
        again the schema must equal the one after the first up and the rows read before must still be
        there. Every defect of every migration is collected: the keyword fails naming each migration
        that has some with its worst one (a failing file, then lost data, then a different schema) and
        the file that causes it, and logs a table of them all. A migration whose up fails is
        reported and left out (its up rolls back), and the next one runs from there; one whose down
        fails is reported and kept applied. The database must be a test target.

        Example:
        | Every Migration Should Go Down And Up Again | ${MIGRATIONS} | layout=rollback |
        """
        run = self._start(folder, layout, alias, "take the migrations up and down")
        self.ctx.guard.check("migrate down", "database", run.handle.where)
        current, pending = run.start, run.pending
        defects: dict[str, list[Defect]] = {}
        checked: list[list[Any]] = []
        for migration in pending:
            found, current = self._round_trip(run, migration, current)
            checked.append([migration.label, "ok" if not found else f"{len(found)} defects"])
            if found:
                defects[migration.label] = found
        logger.info("\n".join(f"{label}: {state}" for label, state in checked))
        if defects:
            raise AssertionError(report(f"{len(defects)} of {len(pending)} migrations do not go up, down and up "
                                         f"again cleanly (the log has every difference):", defects))
        return {"from_version": run.start, "to_version": current, "migrations": [label for label, _ in checked]}

    def _round_trip(self, run: Run, migration: Migration, current: int) -> tuple[list[Defect], int]:
        """Up, down, up again for one migration from version ``current``; its defects and the new version."""
        handle, schema, versions = run.handle, run.schema, run.migrator.versions
        up_file = migration.up.name if migration.up else migration.label
        before = self._read(handle, schema)
        try:
            run_step(self.ctx, handle, versions, migration, "up", current, migration.version)
        except KitError as error:
            return [Defect(f"{up_file} fails{explain(error, up_file)} (left out: the next migration runs from "
                           f"version {current})", [])], current
        after = self._read(handle, schema, before)
        found = phase(f"{up_file} loses data", compare_rows(before.rows, after.rows), 1)
        if migration.down is None:
            return [*found, Defect(f"{up_file} has no way back (no {migration.expected_down()})", [])], \
                migration.version
        down_file = migration.down.name
        try:
            run_step(self.ctx, handle, versions, migration, "down", migration.version, current)
        except KitError as error:
            return [*found, Defect(f"{down_file} fails{explain(error, down_file)} ({up_file} stays applied)", [])], \
                migration.version
        down = self._read(handle, schema, before)
        found += phase(f"{down_file} does not give back the schema of before the up",
                        schema_changes(down.snapshot, before.snapshot, "before"), 2)
        found += phase(f"{down_file} loses data",
                        compare_rows(before.rows, down.rows, extra_rows_allowed=False, empty_ones=False), 1)
        try:
            run_step(self.ctx, handle, versions, migration, "up", current, migration.version)
        except KitError as error:
            return [*found, Defect(f"{up_file} fails when run again after {down_file}{explain(error, up_file)} "
                                   f"(left out: the next migration runs from version {current})", [])], current
        again = self._read(handle, schema, before)
        found += phase(f"{up_file} run again makes another schema than its first run",
                        schema_changes(again.snapshot, after.snapshot, "first run"), 2)
        found += phase(f"{up_file} run again loses or changes data",
                        compare_rows(before.rows, again.rows, empty_ones=False), 1)
        return found, migration.version

    @keyword("All Migrations Should Go Down And Up Again", tags=["migrations", "scenario"])
    def all_migrations_should_go_down_and_up_again(self, folder: str, layout: str | None = None,
                                                   alias: str | None = None) -> dict[str, Any]:
        """Migrate up to the last version from where the database is, down again to where it was, and
        up again, with rows in it.

        After the down the schema must equal the one before the first up and every row and value
        must be back (rows the migrations added must be gone); after the second up the schema must
        equal the one after the first up, and the rows read at the start must still be there. A
        migration that fails fails the keyword at once with its file and the server's error; the
        schema and row differences are listed all together. The database must be a test target.

        Example:
        | Write Seed Data | ${SEED} |
        | All Migrations Should Go Down And Up Again | ${MIGRATIONS} |
        """
        run = self._start(folder, layout, alias, "take the migrations up and down")
        handle, schema, migrator, start = run.handle, run.schema, run.migrator, run.start
        self.ctx.guard.check("migrate down", "database", handle.where)
        before = self._read(handle, schema)
        self._need_rows(before, handle, start)
        up = migrator.up()
        after = self._read(handle, schema, before)
        problems = phase("going up data is lost", compare_rows(before.rows, after.rows), 1)
        down = migrator.down(to=start)
        back = self._read(handle, schema, before)
        problems += phase(f"after going down to {start} the schema is not the one before",
                           schema_changes(back.snapshot, before.snapshot, "before"), 2)
        problems += phase(f"after going down to {start} data is lost",
                           compare_rows(before.rows, back.rows, extra_rows_allowed=False, empty_ones=False), 1)
        again = migrator.up()
        last = self._read(handle, schema, before)
        problems += phase("after going up again the schema is not the one after the first up",
                           schema_changes(last.snapshot, after.snapshot, "first up"), 2)
        problems += phase("after going up again data is lost or changed",
                           compare_rows(before.rows, last.rows, empty_ones=False), 1)
        if problems:
            raise AssertionError(report(f"Going up to {migrator.latest}, down to {start} and up again did not keep "
                                         f"the database (the log has every difference):", {"": problems}))
        logger.info(f"Up, down and up again between {start} and {migrator.latest}: schema and "
                    f"{before.row_count} rows kept")
        return {"from_version": start, "to_version": migrator.latest, "up": log_steps("Up", up),
                "down": log_steps("Down", down), "again": log_steps("Up again", again)}
