"""Per-table row counts and order-independent checksums (md5 of the sorted md5s of the rows' text)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from psycopg import sql as pgsql

from DatabaseKit.context import DbContext, DbHandle
from DatabaseKit.schema import COLUMNS, TABLES
from kitcore import KitError


def table_columns(ctx: DbContext, handle: DbHandle, schema: str) -> dict[str, list[str]]:
    columns: dict[str, list[str]] = {}
    for table, column, *_ in ctx.run(handle, COLUMNS, [schema], what="Read columns").rows:
        columns.setdefault(table, []).append(column)
    return columns


def checksums(ctx: DbContext, handle: DbHandle, schema: str = "public", tables: Sequence[str] = (),
              exclude: Iterable[str] = ("schema_migrations",),
              columns: dict[str, Sequence[str]] | None = None) -> dict[str, dict[str, Any]]:
    """``{table: {"rows": n, "checksum": md5}}``; ``columns`` restricts some tables to given columns."""
    skip = set(exclude)
    known = [name for (name,) in ctx.run(handle, TABLES, [schema], what="List tables").rows]
    wanted = list(tables) if tables else [t for t in known if t not in skip]
    all_columns = table_columns(ctx, handle, schema)
    result: dict[str, dict[str, Any]] = {}
    for table in wanted:
        if table not in known:
            raise KitError(f"Table '{table}' does not exist in schema '{schema}' at {handle.where}",
                           fix="check the table name or the schema")
        chosen = list((columns or {}).get(table) or all_columns.get(table, []))
        row = pgsql.SQL("ROW({})::text").format(pgsql.SQL(", ").join(pgsql.Identifier(c) for c in chosen)) \
            if chosen else pgsql.SQL("''")
        statement = pgsql.SQL(
            "SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) "
            "FROM (SELECT md5({row}) AS h FROM {table}) AS rows"
        ).format(row=row, table=pgsql.Identifier(schema, table))
        count, digest = ctx.run(handle, statement, None, what=f"Checksum of table {table}").rows[0]
        result[table] = {"rows": int(count), "checksum": digest}
    return result


def checksum_diff(first: dict[str, Any], second: dict[str, Any], names: tuple[str, str]) -> list[str]:
    lines: list[str] = []
    for table in sorted(set(first) | set(second)):
        if table not in second:
            lines.append(f"{table}: only in {names[0]} ({first[table]['rows']} rows)")
        elif table not in first:
            lines.append(f"{table}: only in {names[1]} ({second[table]['rows']} rows)")
        elif first[table]["rows"] != second[table]["rows"]:
            lines.append(f"{table}: {first[table]['rows']} rows in {names[0]} != {second[table]['rows']} "
                         f"rows in {names[1]}")
        elif first[table]["checksum"] != second[table]["checksum"]:
            lines.append(f"{table}: same row count ({first[table]['rows']}) but the contents differ "
                         f"(checksum {first[table]['checksum'][:8]}... != {second[table]['checksum'][:8]}...)")
    return lines
