"""Schema snapshots and assertions, and per-table data checksums."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from DatabaseKit.checksums import checksum_diff, checksums
from DatabaseKit.context import DbContext, DbHandle
from DatabaseKit.contract import contract_breaches, read_schema_file, save_schema_file
from DatabaseKit.schema import diff, snapshot, without_schema_key
from kitcore import KitError

KIND_NAMES = {"pk": "PRIMARY KEY", "primary": "PRIMARY KEY", "primary key": "PRIMARY KEY",
              "fk": "FOREIGN KEY", "foreign": "FOREIGN KEY", "foreign key": "FOREIGN KEY",
              "unique": "UNIQUE", "check": "CHECK"}


def as_list(value: str | list[str] | None) -> list[str] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def labels_of(names: str) -> tuple[str, str]:
    parts = [n.strip() for n in names.split(",")]
    return (parts[0] or "first", parts[1] if len(parts) > 1 and parts[1] else "second")


def should_not_differ(lines: list[str], heading: str, counted: str, shown: int | None = None) -> None:
    """Fail when two readings differ: ``heading`` with how many ``counted`` differ, then one line per difference
    (the first ``shown`` of them, and how many more)."""
    if not lines:
        return
    more = f"\n... {len(lines) - shown} more" if shown is not None and len(lines) > shown else ""
    raise AssertionError(f"{heading} ({len(lines)} {counted}):\n" + "\n".join(lines[:shown]) + more)


def current_schema(handle: DbHandle, schema: str | None) -> str:
    return schema or str(handle.extra.get("schema", "public"))


class SchemaKeywords:
    def __init__(self, ctx: DbContext) -> None:
        self.ctx = ctx

    def snapshot_of(self, handle: DbHandle, schema: str, exclude: list[str] | None = None) -> dict[str, Any]:
        return snapshot(lambda q, p: self.ctx.run(handle, q, p, what="Read the schema").rows, schema,
                        exclude if exclude is not None else ["schema_migrations"])

    def _table(self, handle: DbHandle, table: str, schema: str | None) -> dict[str, Any]:
        name = current_schema(handle, schema)
        snap = self.snapshot_of(handle, name, [])
        if table not in snap["tables"]:
            known = ", ".join(sorted(snap["tables"])) or "none"
            raise AssertionError(f"Table '{table}' does not exist in schema '{name}' at {handle.where} "
                                 f"(tables: {known})")
        return snap["tables"][table]

    @keyword("Get Schema Snapshot", tags=["schema", "getter"])
    def get_schema_snapshot(self, schema: str | None = None, exclude: list[str] | None = None,
                            alias: str | None = None) -> dict[str, Any]:
        """The tables of ``schema`` with columns (type, nullable, default), indexes and constraints
        (PRIMARY KEY, FOREIGN KEY with its ON DELETE rule, UNIQUE, CHECK) as plain dictionaries.

        The version table ``schema_migrations`` is left out unless ``exclude`` says otherwise.
        ``schema`` defaults to the test schema in use, else ``public``.

        Example:
        | ${before} = | Get Schema Snapshot |
        """
        handle = self.ctx.handle(alias)
        snap = self.snapshot_of(handle, current_schema(handle, schema), exclude)
        logger.info(f"Schema '{snap['schema']}': {len(snap['tables'])} tables ({', '.join(sorted(snap['tables']))})")
        return snap

    @keyword("Schema Snapshots Should Be Equal", tags=["schema", "assertion"])
    def schema_snapshots_should_be_equal(self, first: dict[str, Any], second: dict[str, Any],
                                         names: str = "first,second") -> None:
        """Fail with one line per difference (``tables.sessions.columns.agent_id: only in first``).

        Example:
        | Schema Snapshots Should Be Equal | ${before} | ${after} | names=before,after |
        """
        lines = diff(without_schema_key(first), without_schema_key(second), names=labels_of(names))
        should_not_differ(lines, "Schema snapshots differ", "differences", shown=40)

    @keyword("Schema Should Match The Contract", tags=["schema", "assertion"])
    def schema_should_match_the_contract(self, schema_file: str, schema: str | None = None,
                                         alias: str | None = None) -> None:
        """The database's whole schema is the one ``schema_file`` states: every table, every column with
        its type, nullability and default, every index and every constraint. Fails with one line per
        thing that is missing or different; what the database has beyond the file is only logged.

        Example:
        | Schema Should Match The Contract | variables/schemas/reference.yaml | alias=scratch |
        """
        handle = self.ctx.handle(alias)
        expected = read_schema_file(schema_file)
        actual = self.snapshot_of(handle, current_schema(handle, schema))
        breaches, extras = contract_breaches(expected, actual)
        for extra in extras:
            logger.info(f"Beyond the contract: {extra}")
        if breaches:
            shown = "\n".join(breaches[:40]) + (f"\n... {len(breaches) - 40} more" if len(breaches) > 40 else "")
            raise AssertionError(f"The migrated schema breaks the contract's schema ({schema_file}) in "
                                 f"{len(breaches)} place(s):\n{shown}")
        logger.info(f"The schema matches the contract: {len(expected['tables'])} tables, "
                    f"{sum(len(t.get('columns', {})) for t in expected['tables'].values())} columns")

    @keyword("Get Schema File", tags=["schema", "getter"])
    def get_schema_file(self, file: str = "", from_variable: str = "", root: str = ".") -> str:
        """The schema file to hold a database to, as an absolute path: ``file`` (a relative path is taken
        from ``root``), else the one the environment variable ``from_variable`` names; empty when
        neither names one. A named file that does not exist fails, naming where it came from.

        Example:
        | ${file} = | Get Schema File | ${MIGRATIONS_SCHEMA} | from_variable=${MIGRATIONS_SCHEMA_VARIABLE} |
        """
        source = "the file given"
        if not file and from_variable:
            file = os.environ.get(from_variable, "").strip()
            source = f"the environment variable {from_variable}"
        if not file:
            return ""
        path = Path(file).expanduser()
        if not path.is_absolute():
            path = Path(root) / path
        if not path.is_file():
            raise KitError(f"The schema file {path.resolve()} does not exist", f"it comes from {source}",
                           "point it at a file written with Write Schema File")
        return str(path.resolve())

    @keyword("Write Schema File", tags=["schema"])
    def write_schema_file(self, path: str, schema: str | None = None, alias: str | None = None) -> str:
        """Write the database's whole schema to ``path`` (YAML), to serve as the contract's schema for
        `Schema Should Match The Contract`; returns the path. Use it on a database the target's own
        migrations made.

        Example:
        | Write Schema File | variables/schemas/my-platform.yaml | alias=scratch |
        """
        handle = self.ctx.handle(alias)
        written = save_schema_file(self.snapshot_of(handle, current_schema(handle, schema)), path)
        logger.info(f"Schema written to {written}")
        return str(written)

    @keyword("Table Should Exist", tags=["schema", "assertion"])
    def table_should_exist(self, table: str, schema: str | None = None, alias: str | None = None) -> None:
        """Fail unless ``table`` exists.

        Example:
        | Table Should Exist | agent_commands |
        """
        self._table(self.ctx.handle(alias), table, schema)

    @keyword("Table Should Not Exist", tags=["schema", "assertion"])
    def table_should_not_exist(self, table: str, schema: str | None = None, alias: str | None = None) -> None:
        """Fail if ``table`` exists.

        Example:
        | Table Should Not Exist | agents |
        """
        handle = self.ctx.handle(alias)
        name = current_schema(handle, schema)
        if table in self.snapshot_of(handle, name, [])["tables"]:
            raise AssertionError(f"Table '{table}' exists in schema '{name}' at {handle.where} but should not")

    @keyword("Column Should Have Type", tags=["schema", "assertion"])
    def column_should_have_type(self, table: str, column: str, type: str | None = None,
                                nullable: bool | None = None, default: str | None = None,
                                schema: str | None = None, alias: str | None = None) -> dict[str, Any]:
        """Fail unless ``table.column`` exists with the given ``type`` (as PostgreSQL names it, e.g.
        ``character varying(50)``, ``jsonb``, ``text[]``), ``nullable`` and ``default``; returns its facts.

        Example:
        | Column Should Have Type | sessions | platform | character varying(50) | nullable=False |
        """
        facts = self._table(self.ctx.handle(alias), table, schema)["columns"]
        if column not in facts:
            raise AssertionError(f"Table '{table}' has no column '{column}' (columns: {', '.join(facts)})")
        found = facts[column]
        problems = []
        if type is not None and found["type"].lower() != type.lower():
            problems.append(f"type is {found['type']!r}, expected {type!r}")
        if nullable is not None and found["nullable"] != nullable:
            problems.append(f"nullable is {found['nullable']}, expected {nullable}")
        if default is not None and (found["default"] or "") != default:
            problems.append(f"default is {found['default']!r}, expected {default!r}")
        if problems:
            raise AssertionError(f"Column {table}.{column}: " + "; ".join(problems))
        return found

    @keyword("Constraint Should Exist", tags=["schema", "assertion"])
    def constraint_should_exist(self, table: str, kind: str, columns: str | list[str] | None = None,
                                references: str | None = None, on_delete: str | None = None,
                                name: str | None = None, schema: str | None = None,
                                alias: str | None = None) -> dict[str, Any]:
        """Fail unless ``table`` has a constraint of ``kind`` (``PRIMARY KEY``/``pk``, ``FOREIGN
        KEY``/``fk``, ``UNIQUE``, ``CHECK``) on ``columns`` (comma separated); for a foreign key,
        ``references`` (``table`` or ``table(column)``) and ``on_delete`` (``CASCADE``, ``SET NULL``...).
        Returns the matching constraint.

        Example:
        | Constraint Should Exist | sessions | fk | agent_id | references=agents(agent_id) | on_delete=SET NULL |
        """
        wanted_kind = KIND_NAMES.get(kind.strip().lower(), kind.strip().upper())
        wanted_columns = as_list(columns)
        ref_table, ref_columns = None, None
        if references:
            ref_table, _, rest = references.partition("(")
            ref_table = ref_table.strip()
            ref_columns = as_list(rest.rstrip(")")) if rest else None
        constraints = self._table(self.ctx.handle(alias), table, schema)["constraints"]
        for cname, facts in constraints.items():
            if facts["kind"] != wanted_kind or (name and cname != name):
                continue
            if wanted_columns is not None and facts["columns"] != wanted_columns:
                continue
            if ref_table and facts.get("references", {}).get("table") != ref_table:
                continue
            if ref_columns and facts.get("references", {}).get("columns") != ref_columns:
                continue
            if on_delete and facts.get("on_delete", "").upper() != on_delete.upper():
                continue
            return {"name": cname, **facts}
        seen = "; ".join(f"{n}: {f['definition']}" for n, f in constraints.items()) or "no constraints"
        wanted = " ".join(filter(None, [wanted_kind, f"({', '.join(wanted_columns)})" if wanted_columns else "",
                                        f"REFERENCES {references}" if references else "",
                                        f"ON DELETE {on_delete}" if on_delete else "",
                                        f"named {name}" if name else ""]))
        raise AssertionError(f"Table '{table}' has no constraint {wanted}; it has: {seen}")

    @keyword("Index Should Exist", tags=["schema", "assertion"])
    def index_should_exist(self, table: str, columns: str | list[str] | None = None, name: str | None = None,
                           unique: bool | None = None, schema: str | None = None,
                           alias: str | None = None) -> dict[str, Any]:
        """Fail unless ``table`` has an index on ``columns`` (in order) and/or named ``name``;
        ``unique`` checks uniqueness too. Returns the index.

        Example:
        | Index Should Exist | agent_commands | agent_id,status |
        """
        if columns is None and name is None:
            raise KitError("Index Should Exist needs columns= or name=", fix="say which index to look for")
        wanted_columns = as_list(columns)
        indexes = self._table(self.ctx.handle(alias), table, schema)["indexes"]
        for iname, facts in indexes.items():
            if name and iname != name:
                continue
            if wanted_columns is not None and facts["columns"] != wanted_columns:
                continue
            if unique is not None and facts["unique"] != unique:
                continue
            return {"name": iname, **facts}
        seen = "; ".join(f["definition"] for f in indexes.values()) or "no indexes"
        raise AssertionError(f"Table '{table}' has no index {name or ''} on {wanted_columns}"
                             f"{' (unique)' if unique else ''}; it has: {seen}")

    # -- data checksums -----------------------------------------------------------------------
    @keyword("Get Table Checksums", tags=["data", "getter"])
    def get_table_checksums(self, *tables: str, schema: str | None = None, exclude: list[str] | None = None,
                            columns: dict[str, list[str]] | None = None,
                            alias: str | None = None) -> dict[str, dict[str, Any]]:
        """Per table (all of the schema unless named): ``{"rows": n, "checksum": md5}``. The checksum
        does not depend on row order (md5 of the sorted md5s of each row's text). ``columns``
        restricts tables to some columns (``{table: [col, ...]}``), e.g. those that existed before
        a migration added new ones.

        Example:
        | ${before} = | Get Table Checksums |
        | ${users} = | Get Table Checksums | users | sessions |
        """
        handle = self.ctx.handle(alias)
        return checksums(self.ctx, handle, current_schema(handle, schema), tables,
                         exclude if exclude is not None else ["schema_migrations"], columns)

    @keyword("Table Checksums Should Be Equal", tags=["data", "assertion"])
    def table_checksums_should_be_equal(self, first: dict[str, Any], second: dict[str, Any],
                                        names: str = "first,second") -> None:
        """Fail with one line per table whose rows differ (count or contents), or that only one side has.

        Example:
        | Table Checksums Should Be Equal | ${before} | ${after} | names=before,after |
        """
        should_not_differ(checksum_diff(first, second, labels_of(names)), "Table data differs", "tables")
