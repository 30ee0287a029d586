"""Every row of every table, by primary key, and what happened to them between two readings.

A migration may add tables, columns and rows, and fill values that were empty (a backfill); it must
not lose a table, a column, a row or a value that was set. Values are compared as PostgreSQL prints
them (``::text``), so every type compares alike. Tables without a primary key are compared as bags of
rows. Values of columns that look secret (passwords, hashes, keys, tokens) are never printed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql as pgsql

from DatabaseKit.context import DbContext, DbHandle

SECRET_COLUMN = re.compile(r"pass|secret|hash|token|key|salt|credential", re.IGNORECASE)
EXAMPLES = 3
Row = tuple[str | None, ...]


@dataclass
class TableRows:
    columns: list[str]
    key: list[str]
    by_key: dict[Row, Row] = field(default_factory=dict)  # key values -> the row's values (tables with a key)
    bag: Counter[Row] = field(default_factory=Counter)  # the rows (tables without a key)

    @property
    def count(self) -> int:
        return len(self.by_key) if self.key else sum(self.bag.values())

    def filled(self, column: str) -> int:
        """How many rows have a value in ``column``."""
        index = self.columns.index(column)
        rows = list(self.by_key.values()) if self.key else list(self.bag.elements())
        return sum(1 for row in rows if row[index] is not None)


def primary_key(snapshot: dict[str, Any], table: str) -> list[str]:
    for constraint in snapshot["tables"][table]["constraints"].values():
        if constraint["kind"] == "PRIMARY KEY":
            return list(constraint["columns"])
    return []


def read_rows(ctx: DbContext, handle: DbHandle, snapshot: dict[str, Any],
              columns: dict[str, list[str]] | None = None) -> dict[str, TableRows]:
    """The rows of every table of ``snapshot`` (the schema read just before), over ``columns`` per
    table when given (tables missing from it are left out), else over all of the table's columns."""
    schema = snapshot["schema"]
    result: dict[str, TableRows] = {}
    for table, facts in snapshot["tables"].items():
        if columns is not None and table not in columns:
            continue
        chosen = [c for c in (columns[table] if columns is not None else facts["columns"]) if c in facts["columns"]]
        key = [c for c in primary_key(snapshot, table) if c in chosen]
        rows = TableRows(chosen, key)
        if chosen:
            statement = pgsql.SQL("SELECT {} FROM {}").format(
                pgsql.SQL(", ").join(pgsql.SQL("{}::text").format(pgsql.Identifier(c)) for c in chosen),
                pgsql.Identifier(schema, table))
            fetched = ctx.run(handle, statement, what=f"Read the rows of {table}").rows
        else:
            fetched = ctx.run(handle, pgsql.SQL("SELECT FROM {}").format(pgsql.Identifier(schema, table)),
                              what=f"Count the rows of {table}").rows
        positions = [chosen.index(c) for c in key]
        for row in fetched:
            values: Row = tuple(row)
            if key:
                rows.by_key[tuple(values[i] for i in positions)] = values
            else:
                rows.bag[values] += 1
        result[table] = rows
    return result


def columns_of(rows: dict[str, TableRows]) -> dict[str, list[str]]:
    return {table: list(t.columns) for table, t in rows.items()}


def compare_rows(before: dict[str, TableRows], after: dict[str, TableRows],
                 extra_rows_allowed: bool = True, empty_ones: bool = True) -> list[str]:
    """What ``after`` lost of ``before``: tables, columns, rows, values that were set (one line per
    table and kind). Rows only in ``after`` are allowed unless ``extra_rows_allowed=False`` (after a
    down: the rows the up added should be gone). Values filled where ``before`` had none are allowed.
    ``empty_ones=False`` leaves out tables and columns that are gone but held nothing (when a schema
    comparison names them already)."""
    lines: list[str] = []
    for table, old in before.items():
        new = after.get(table)
        if new is None:
            if old.count or empty_ones:
                lines.append(f"table {table} is gone with its {_rows(old.count)}")
            continue
        gone = [c for c in old.columns if c not in new.columns]
        for column in gone:
            if old.filled(column) or empty_ones:
                lines.append(f"column {table}.{column} is gone with its {_values(old.filled(column))}")
        kept = [c for c in old.columns if c in new.columns]
        lines += _compare_table(table, old, new, kept, extra_rows_allowed)
    return lines


def _compare_table(table: str, old: TableRows, new: TableRows, kept: list[str], extra_rows_allowed: bool) -> list[str]:
    old_at = [old.columns.index(c) for c in kept]
    new_at = [new.columns.index(c) for c in kept]
    if old.key and old.key == new.key[: len(old.key)] and all(c in kept for c in old.key):
        return _compare_keyed(table, old, new, kept, old_at, new_at, extra_rows_allowed)
    # no usable key: compare the rows as bags over the columns both readings have
    old_bag = Counter(tuple(r[i] for i in old_at) for r in (old.by_key.values() if old.key else old.bag.elements()))
    new_bag = Counter(tuple(r[i] for i in new_at) for r in (new.by_key.values() if new.key else new.bag.elements()))
    lines = []
    missing = old_bag - new_bag
    if missing:
        lines.append(f"{table}: {_rows(sum(missing.values()))} lost or changed (the table has no primary key)")
    added = new_bag - old_bag
    if added and not extra_rows_allowed:
        lines.append(f"{table}: {_rows(sum(added.values()))} {_were(sum(added.values()))} not there before")
    return lines


def _compare_keyed(table: str, old: TableRows, new: TableRows, kept: list[str], old_at: list[int],
                   new_at: list[int], extra_rows_allowed: bool) -> list[str]:
    new_rows = {key[: len(old.key)]: row for key, row in new.by_key.items()}
    lines = []
    lost = [key for key in old.by_key if key not in new_rows]
    if lost:
        lines.append(f"{table}: {_rows(len(lost))} lost ({_keys(old.key, lost)})")
    added = [key for key in new_rows if key not in old.by_key]
    if added and not extra_rows_allowed:
        lines.append(f"{table}: {_rows(len(added))} {_were(len(added))} not there before "
                     f"({_keys(old.key, added)})")
    changed: dict[str, list[str]] = {}
    for key, row in old.by_key.items():
        if key not in new_rows:
            continue
        other = new_rows[key]
        for column, i, j in zip(kept, old_at, new_at, strict=True):
            if row[i] is not None and other[j] != row[i]:
                changed.setdefault(column, []).append(
                    f"{_keys(old.key, [key])}: {_show(column, row[i])} -> {_show(column, other[j])}")
    for column, examples in changed.items():
        lines.append(f"{table}: {_values(len(examples))} of column {column} changed or emptied "
                     f"({'; '.join(examples[:EXAMPLES])}{' ...' if len(examples) > EXAMPLES else ''})")
    return lines


def _rows(count: int) -> str:
    return f"{count} row{'' if count == 1 else 's'}"


def _were(count: int) -> str:
    return "that was" if count == 1 else "that were"


def _values(count: int) -> str:
    return f"{count} value{'' if count == 1 else 's'}"


def _keys(columns: list[str], keys: list[Row]) -> str:
    shown = [", ".join(f"{c}={_show(c, v)}" for c, v in zip(columns, key, strict=True)) for key in keys[:EXAMPLES]]
    return "; ".join(shown) + (" ..." if len(keys) > EXAMPLES else "")


def _show(column: str, value: str | None) -> str:
    if value is None:
        return "NULL"
    if SECRET_COLUMN.search(column):
        return "(hidden)"
    return repr(value if len(value) <= 40 else value[:37] + "...")
