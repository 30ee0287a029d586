"""Schema migrations: read a folder, migrate up and down, read and force the version."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from DatabaseKit.context import DbContext, DbHandle
from DatabaseKit.migrations import Migration, StepResult, VersionTable, read_migrations, run_step
from kitcore import Check, KitError, getter
from kitcore.logging import log_table


class Migrator:
    """Migration runs on one connection; used by the migration and the scenario keywords."""

    def __init__(self, ctx: DbContext, handle: DbHandle, folder: str, table: str = "schema_migrations",
                 layout: str | None = None) -> None:
        self.ctx, self.handle = ctx, handle
        self.migrations = read_migrations(folder, layout)
        self.by_version = {m.version: m for m in self.migrations}
        self.versions = VersionTable(ctx, handle, table)
        self.folder = folder

    @property
    def latest(self) -> int:
        return self.migrations[-1].version

    def state(self) -> tuple[int, bool]:
        return self.versions.read()

    def _check_start(self, action: str) -> int:
        version, dirty = self.state()
        if dirty:
            raise KitError(f"Cannot {action}: the database at {self.handle.where} is dirty at version {version}",
                           "an earlier step that runs outside a transaction failed halfway",
                           "repair the schema by hand, then 'Force Schema Version' to the version it matches")
        if version and version not in self.by_version:
            raise KitError(f"Cannot {action}: the database is at version {version}, which {self.folder} does "
                           f"not have", f"versions there: {', '.join(str(v) for v in self.by_version)}",
                           "use the migration folder that made this database")
        return version

    def _target(self, version: int) -> None:
        if version and version not in self.by_version:
            raise KitError(f"Version {version} is not in {self.folder}",
                           f"versions there: {', '.join(str(v) for v in self.by_version)}",
                           "give one of those versions (or 0 for none)")

    def up(self, to: int | None = None) -> list[StepResult]:
        current = self._check_start("migrate up")
        target = self.latest if to is None else int(to)
        self._target(target)
        if target < current:
            raise KitError(f"Cannot migrate up to version {target}: the database is at {current} already",
                           fix="use 'Migrate Down' to go back")
        self.versions.ensure()
        results: list[StepResult] = []
        for migration in [m for m in self.migrations if current < m.version <= target]:
            results.append(run_step(self.ctx, self.handle, self.versions, migration, "up", current,
                                    migration.version))
            current = migration.version
        return results

    def up_to_latest(self, what: str) -> tuple[list[StepResult], float, int]:
        """Every pending migration, timed: ``(steps, seconds, version)``; fails unless the database is
        then clean at the latest version (``what`` names the run in that failure)."""
        began = time.perf_counter()
        steps = self.up()
        seconds = round(time.perf_counter() - began, 4)
        version, dirty = self.state()
        if version != self.latest or dirty:
            raise AssertionError(f"After {what} the version is {version}{' (dirty)' if dirty else ''}, "
                                 f"expected {self.latest}")
        return steps, seconds, version

    def down(self, steps: int | None = None, to: int | None = None) -> list[StepResult]:
        current = self._check_start("migrate down")
        applied = [m for m in reversed(self.migrations) if m.version <= current]
        if to is not None:
            self._target(int(to))
            if int(to) > current:
                raise KitError(f"Cannot migrate down to version {to}: the database is at {current}",
                               fix="use 'Migrate Up' to go forward")
            undo = [m for m in applied if m.version > int(to)]
        else:
            count = 1 if steps is None else int(steps)
            if count > len(applied):
                raise KitError(f"Cannot migrate down {count} steps: only {len(applied)} are applied",
                               fix=f"ask for at most {len(applied)} steps")
            undo = applied[:count]
        missing = [m for m in undo if m.down is None]
        if missing:
            first = missing[0]
            raise KitError(
                f"Cannot migrate down: migration {first.label} has no down file",
                f"expected '{first.expected_down()}' in {self.folder}; nothing was changed",
                "add the reverse migration, or stop the rollback above this version",
            )
        results: list[StepResult] = []
        for migration in undo:
            below = [m.version for m in self.migrations if m.version < migration.version]
            previous = below[-1] if below else 0
            results.append(run_step(self.ctx, self.handle, self.versions, migration, "down", current, previous))
            current = previous
        return results


def log_steps(title: str, results: list[StepResult]) -> list[dict[str, Any]]:
    rows = [r.as_dict() for r in results]
    log_table(title, ["version", "name", "direction", "seconds", "statements", "transactional"],
              [[r["version"], r["name"], r["direction"], f"{r['seconds']:.3f}", r["statements"], r["transactional"]]
               for r in rows])
    return rows


class MigrationKeywords:
    def __init__(self, ctx: DbContext) -> None:
        self.ctx = ctx

    def migrator(self, folder: str, alias: str | None, table: str = "schema_migrations",
                 layout: str | None = None) -> Migrator:
        return Migrator(self.ctx, self.ctx.handle(alias), folder, table, layout)

    @keyword("Get Migration Folder", tags=["migrations", "getter"])
    def get_migration_folder(self, folder: str = "", from_variable: str = "", root: str = ".") -> str:
        """The folder of the migrations to test, as an absolute path.

        ``folder`` is used when it is given (a relative path is taken from ``root``); when it is
        empty, the environment variable named ``from_variable`` gives the folder (e.g. one a user sets
        to the migrations folder of their checkout of the product). Fails, naming the variable, when
        neither gives a folder or the folder does not exist.

        Example:
        | ${folder} = | Get Migration Folder | ${MIGRATIONS_DIR} | from_variable=${MIGRATIONS_DIR_VARIABLE} |
        | ... | root=${CURDIR}/.. |
        """
        source = "the folder given"
        if not folder and from_variable:
            folder = os.environ.get(from_variable, "").strip()
            source = f"the environment variable {from_variable}"
            if not folder:
                raise KitError(f"The migrations to test come from the environment variable {from_variable}",
                               "it is not set",
                               f"set {from_variable} to the folder of the product's migrations in your checkout "
                               f"of its source, and run again")
        if not folder:
            raise KitError("No migration folder given", "neither a folder nor an environment variable naming one",
                           "give the folder, or the name of the environment variable that holds it")
        path = Path(folder).expanduser()
        if not path.is_absolute():
            path = Path(root) / path
        path = path.resolve()
        if not path.is_dir():
            raise KitError(f"The migration folder {path} does not exist", f"it comes from {source}",
                           "point it at the folder that holds the numbered migration files")
        logger.info(f"Migrations from {path} ({source})")
        return str(path)

    @keyword("Read Migrations", tags=["migrations"])
    def read_migrations(self, folder: str, layout: str | None = None) -> list[dict[str, Any]]:
        """The migrations in ``folder`` by version: ``version``, ``name``, ``layout``, ``up``, ``down``.

        Both layouts are read: ``NNN_<name>.up.sql`` / ``NNN_<name>.down.sql`` and
        ``NNN_<name>.sql`` / ``NNN_<name>_rollback.sql``; ``layout=updown`` or ``layout=rollback``
        declares which one the folder must use (a file of the other one fails). A file with a
        malformed name fails here; a missing down file fails only when a down step needs it.

        Example:
        | ${migrations} = | Read Migrations | ${CURDIR}/migrations |
        | ${migrations} = | Read Migrations | ${MIGRATIONS} | layout=rollback |
        """
        found: list[Migration] = read_migrations(folder, layout)
        log_table(f"Migrations in {folder}", ["version", "name", "layout", "up", "down"],
                  [[m.version, m.name, m.layout, m.up.name if m.up else "", m.down.name if m.down else "(none)"]
                   for m in found])
        return [m.as_dict() for m in found]

    @keyword("Migrate Up", tags=["migrations"])
    def migrate_up(self, folder: str, version: int | None = None, alias: str | None = None,
                   table: str = "schema_migrations", layout: str | None = None) -> list[dict[str, Any]]:
        """Apply the migrations of ``folder`` above the current version, up to ``version`` (default:
        the latest); returns each step with its duration in seconds (also logged).

        Each step runs in its own transaction together with the version update: a failing step is
        rolled back and the version stays at the last good step (not dirty); the error names the
        file, the statement and its line. A step with statements that cannot run in a transaction
        (``CREATE INDEX CONCURRENTLY``...) runs statement by statement: if it fails halfway the
        version table says dirty. ``layout=updown`` or ``layout=rollback`` declares how the files
        are named (see `Read Migrations`).

        Example:
        | ${steps} = | Migrate Up | ${CURDIR}/migrations |
        | Migrate Up | ${CURDIR}/migrations | version=2 |
        """
        results = self.migrator(folder, alias, table, layout).up(version)
        return log_steps("Migrate Up", results)

    @keyword("Migrate Down", tags=["migrations"])
    def migrate_down(self, folder: str, steps: int | None = None, version: int | None = None,
                     alias: str | None = None, table: str = "schema_migrations",
                     layout: str | None = None) -> list[dict[str, Any]]:
        """Undo ``steps`` migrations (default 1), or down to ``version`` (0: all); returns each step
        with its duration. Every down file needed is checked before anything runs.

        The database must be allow-listed as a test target (loopback servers are by default).
        ``layout=`` declares how the files are named (see `Read Migrations`).

        Example:
        | Migrate Down | ${CURDIR}/migrations | steps=2 |
        | Migrate Down | ${CURDIR}/migrations | version=0 |
        """
        migrator = self.migrator(folder, alias, table, layout)
        self.ctx.guard.check("migrate down", "database", migrator.handle.where)
        results = migrator.down(steps, version)
        return log_steps("Migrate Down", results)

    @keyword("Get Schema Version", tags=["migrations", "getter"])
    @getter
    def get_schema_version(self, *, check: Check, dirty: bool | None = None, alias: str | None = None,
                           table: str = "schema_migrations") -> dict[str, Any]:
        """The version table's state as ``{"version": n, "dirty": bool}`` (version 0: none applied).
        An operator asserts the version (see `Assertions`); ``dirty=`` asserts the dirty flag.

        Example:
        | Get Schema Version | == | 4 | dirty=False |
        | ${state} = | Get Schema Version |
        """
        handle = self.ctx.handle(alias)
        versions = VersionTable(self.ctx, handle, table)
        state: dict[str, Any] = {}

        def read() -> int:
            state["version"], state["dirty"] = versions.read()
            return state["version"]

        check(read, f"Schema version at {handle.where}")
        version, is_dirty = state["version"], state["dirty"]
        if dirty is not None and is_dirty != dirty:
            raise AssertionError(f"Schema version {version} at {handle.where} is "
                                 f"{'dirty' if is_dirty else 'clean'}, expected {'dirty' if dirty else 'clean'}")
        logger.info(f"Schema version at {handle.where}: {version}{' (dirty)' if is_dirty else ''}")
        return {"version": version, "dirty": is_dirty}

    @keyword("Force Schema Version", tags=["migrations"])
    def force_schema_version(self, version: int, dirty: bool = False, alias: str | None = None,
                             table: str = "schema_migrations") -> None:
        """Write ``version`` (and ``dirty``) into the version table without running anything, as
        ``migrate force`` does: use it after repairing a dirty database by hand.

        Example:
        | Force Schema Version | 3 |
        """
        handle = self.ctx.handle(alias)
        self.ctx.guard.check("force the schema version of", "database", handle.where)
        versions = VersionTable(self.ctx, handle, table)
        versions.ensure()
        versions.set(int(version), bool(dirty))
        logger.info(f"Forced schema version {version}{' (dirty)' if dirty else ''} at {handle.where}")
