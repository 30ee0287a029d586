"""Numbered migrations: read a folder (two layouts), keep a golang-migrate version table, run steps."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pgsql

from DatabaseKit.context import DbContext, DbHandle
from DatabaseKit.sqlsplit import Statement, position_in_source, split_sql
from kitcore import KitError

UP_DOWN = re.compile(r"^(?P<version>\d+)_(?P<name>.+)\.(?P<direction>up|down)\.sql$", re.IGNORECASE)
ROLLBACK = re.compile(r"^(?P<version>\d+)_(?P<name>.+?)(?P<rollback>_rollback)?\.sql$", re.IGNORECASE)
LAYOUT_HELP = ("name migration files NNN_<name>.up.sql / NNN_<name>.down.sql, or NNN_<name>.sql / "
               "NNN_<name>_rollback.sql (NNN = the version number)")
# the layouts by the names a user may give them; "" reads either
LAYOUTS = {"": "", "any": "", "updown": "up-down", "up-down": "up-down", "rollback": "rollback"}
LAYOUT_FILES = {"up-down": "NNN_<name>.up.sql / NNN_<name>.down.sql",
                "rollback": "NNN_<name>.sql / NNN_<name>_rollback.sql"}


def layout_name(layout: str | None) -> str:
    """The canonical name of ``layout`` (``up-down``, ``rollback``, or ``""`` for either)."""
    key = (layout or "").strip().lower()
    if key not in LAYOUTS:
        raise KitError(f"Unknown migration layout '{layout}'",
                       fix="give updown (NNN_<name>.up.sql / .down.sql), rollback (NNN_<name>.sql / "
                           "NNN_<name>_rollback.sql) or leave it empty to read either")
    return LAYOUTS[key]


@dataclass
class Migration:
    version: int
    name: str
    up: Path | None = None
    down: Path | None = None
    layout: str = ""

    @property
    def label(self) -> str:
        return f"{self.version:03d}_{self.name}"

    def expected_down(self) -> str:
        if self.layout == "rollback":
            return f"{self.label}_rollback.sql"
        return f"{self.label}.down.sql"

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "name": self.name, "layout": self.layout,
                "up": str(self.up) if self.up else None, "down": str(self.down) if self.down else None}


def read_migrations(folder: str | Path, layout: str | None = None) -> list[Migration]:
    """Every migration in ``folder``, by version. Malformed names and gaps in pairs fail here, and so
    does a file of the other layout when ``layout`` (``updown`` or ``rollback``) is declared."""
    declared = layout_name(layout)
    path = Path(folder)
    if not path.is_dir():
        raise KitError(f"Migration folder '{folder}' does not exist", fix="check the path")
    found: dict[int, Migration] = {}
    for file in sorted(path.iterdir()):
        if not file.is_file() or file.suffix.lower() != ".sql":
            continue
        match = UP_DOWN.match(file.name)
        kind = "up-down"
        if match:
            direction = match["direction"].lower()
        else:
            match = ROLLBACK.match(file.name)
            kind = "rollback"
            if not match:
                raise KitError(f"Migration file '{file.name}' in {path} has a malformed name",
                               "it does not start with a version number and an underscore", LAYOUT_HELP)
            direction = "down" if match["rollback"] else "up"
        if declared and kind != declared:
            raise KitError(f"Migration file '{file.name}' in {path} is in the {kind} layout",
                           f"the migrations are declared in the {declared} layout ({LAYOUT_FILES[declared]})",
                           f"rename the file, or declare the {kind} layout ({LAYOUT_FILES[kind]})")
        version, name = int(match["version"]), match["name"]
        migration = found.setdefault(version, Migration(version, name, layout=kind))
        if migration.name != name or migration.layout != kind:
            raise KitError(f"Migration version {version} in {path} has two different files",
                           f"'{migration.label}' ({migration.layout}) and '{file.name}'",
                           "give every version one name and one layout")
        if getattr(migration, direction) is not None:
            raise KitError(f"Migration version {version} has two {direction} files in {path}",
                           f"'{getattr(migration, direction).name}' and '{file.name}'", "keep one")
        setattr(migration, direction, file)
    for migration in found.values():
        if migration.up is None:
            raise KitError(f"Migration {migration.label} in {path} has a down file but no up file",
                           f"found only '{migration.down.name if migration.down else '?'}'",
                           "add the up file or remove the down file")
    if not found:
        raise KitError(f"No migration files in '{folder}'", fix=LAYOUT_HELP)
    return [found[v] for v in sorted(found)]


# -- version table (compatible with golang-migrate's postgres driver) ------------------------------
class VersionTable:
    def __init__(self, ctx: DbContext, handle: DbHandle, table: str = "schema_migrations") -> None:
        self.ctx, self.handle = ctx, handle
        self.ident = pgsql.Identifier(*table.split("."))
        self.table = table

    def ensure(self) -> None:
        self.ctx.run(self.handle, pgsql.SQL(
            "CREATE TABLE IF NOT EXISTS {} (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)"
        ).format(self.ident), what=f"Create version table {self.table}")

    def read(self) -> tuple[int, bool]:
        """(version, dirty); version 0 means no migration is applied."""
        exists = self.ctx.run(self.handle, "SELECT to_regclass(%s) IS NOT NULL", [self.table],
                              what="Find version table").rows[0][0]
        if not exists:
            return 0, False
        rows = self.ctx.run(self.handle, pgsql.SQL("SELECT version, dirty FROM {} LIMIT 1").format(self.ident),
                            what=f"Read {self.table}").rows
        return (int(rows[0][0]), bool(rows[0][1])) if rows else (0, False)

    def write(self, version: int, dirty: bool) -> None:
        """One row (or none for version 0 and clean), like golang-migrate's SetVersion."""
        conn = self.handle.conn
        conn.execute(pgsql.SQL("DELETE FROM {}").format(self.ident))
        if version > 0 or dirty:
            conn.execute(pgsql.SQL("INSERT INTO {} (version, dirty) VALUES (%s, %s)").format(self.ident),
                         [version, dirty])

    def set(self, version: int, dirty: bool) -> None:
        with self.ctx.call(self.handle, f"Set schema version {version}"), self.handle.conn.transaction():
            self.write(version, dirty)


# -- running one step -----------------------------------------------------------------------------
@dataclass
class StepResult:
    version: int
    name: str
    direction: str
    file: str
    seconds: float
    statements: int
    transactional: bool
    from_version: int
    to_version: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_step(ctx: DbContext, handle: DbHandle, versions: VersionTable, migration: Migration, direction: str,
             from_version: int, to_version: int) -> StepResult:
    file = migration.up if direction == "up" else migration.down
    assert file is not None  # checked by the caller
    source = file.read_text(encoding="utf-8")
    statements = [s for s in split_sql(source) if not s.transaction_control]
    outside = [s for s in statements if s.non_transactional]
    start = time.perf_counter()
    if not outside:
        _in_transaction(ctx, handle, versions, file, source, statements, from_version, to_version)
    else:
        _outside_transaction(ctx, handle, versions, file, source, statements, from_version, to_version, outside[0])
    return StepResult(migration.version, migration.name, direction, file.name,
                      round(time.perf_counter() - start, 4), len(statements), not outside, from_version, to_version)


def _in_transaction(ctx: DbContext, handle: DbHandle, versions: VersionTable, file: Path, source: str,
                    statements: list[Statement], from_version: int, to_version: int) -> None:
    failed: tuple[Statement, psycopg.Error] | None = None
    try:
        with handle.conn.transaction():
            for statement in statements:
                try:
                    with ctx.watchdog.watch(handle.conn, handle.statement_timeout_ms / 1000):
                        handle.conn.execute(statement.text)
                except psycopg.Error as error:
                    failed = (statement, error)
                    raise
            versions.write(to_version, False)
    except psycopg.Error as error:
        if failed is None:
            raise _step_error(ctx, handle, file, source, None, len(statements), error,
                              f"the step was rolled back: the database stays at version {from_version}") from None
        statement, cause = failed
        raise _step_error(
            ctx, handle, file, source, statement, len(statements), cause,
            f"the step was rolled back, so the database stays at version {from_version} (not dirty); "
            f"correct the SQL and migrate again",
        ) from None


def _outside_transaction(ctx: DbContext, handle: DbHandle, versions: VersionTable, file: Path, source: str,
                         statements: list[Statement], from_version: int, to_version: int,
                         reason: Statement) -> None:
    # like golang-migrate: mark the target version dirty first, clear the mark when every statement ran
    versions.set(to_version, True)
    for done, statement in enumerate(statements):
        try:
            with ctx.watchdog.watch(handle.conn, handle.statement_timeout_ms / 1000):
                handle.conn.execute(statement.text)
        except psycopg.Error as error:
            if done == 0:
                versions.set(from_version, False)
                fix = (f"nothing was applied (the first statement failed), so the database stays at version "
                       f"{from_version} (not dirty); correct the SQL and migrate again")
            else:
                fix = (f"this step runs outside a transaction (statement {reason.index}: "
                       f"'{reason.short[:60]}' cannot run inside one), so statements 1-{done} stay applied and "
                       f"the database is marked dirty at version {to_version}; repair it by hand, then "
                       f"'Force Schema Version  {from_version}' (or {to_version} if you completed the step)")
            raise _step_error(ctx, handle, file, source, statement, len(statements), error, fix) from None
    versions.set(to_version, False)


def _step_error(ctx: DbContext, handle: DbHandle, file: Path, source: str, statement: Statement | None,
                total: int, error: psycopg.Error, fix: str) -> KitError:
    detail = (error.diag.message_primary if error.diag and error.diag.message_primary else str(error)).strip()
    if statement is None:
        return KitError(f"Migration {file.name} failed", handle.mask(detail), fix)
    line, column = statement.line, statement.column
    position = error.diag.statement_position if error.diag else None
    if position:
        line, column = position_in_source(source, statement, int(position))
    code = f" [{error.sqlstate}]" if error.sqlstate else ""
    return KitError(
        f"Migration {file.name} failed at statement {statement.index} of {total} (line {line}, column {column})",
        f"{handle.mask(detail)}{code}; statement: {statement.short}",
        fix,
    )
