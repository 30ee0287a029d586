"""A plain-dict snapshot of a schema (tables, columns, indexes, constraints) and readable diffs."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
KINDS = {"p": "PRIMARY KEY", "f": "FOREIGN KEY", "u": "UNIQUE", "c": "CHECK"}

TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY 1
"""
COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE n.nspname = %s AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""
INDEXES = """
SELECT t.relname, i.relname, pg_get_indexdef(i.oid), ix.indisunique, ix.indisprimary,
       ARRAY(SELECT coalesce(a.attname, '(expression)') FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
             LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.ord)
FROM pg_index ix
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = %s ORDER BY 1, 2
"""
CONSTRAINTS = """
SELECT t.relname, con.conname, con.contype, pg_get_constraintdef(con.oid),
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord),
       rt.relname,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord),
       con.confdeltype
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_class rt ON rt.oid = con.confrelid
WHERE n.nspname = %s AND con.contype IN ('p', 'f', 'u', 'c') ORDER BY 1, 2
"""

Runner = Callable[[str, list[Any]], list[tuple[Any, ...]]]


def snapshot(run: Runner, schema: str = "public", exclude: Iterable[str] = ("schema_migrations",)) -> dict[str, Any]:
    """Tables of ``schema`` with their columns, indexes and constraints, as plain dictionaries."""
    skip = set(exclude)
    tables: dict[str, Any] = {
        name: {"columns": {}, "indexes": {}, "constraints": {}}
        for (name,) in run(TABLES, [schema]) if name not in skip
    }
    for table, column, type_, notnull, default in run(COLUMNS, [schema]):
        if table in tables:
            tables[table]["columns"][column] = {"type": type_, "nullable": not notnull, "default": default}
    prefix = f" ON {schema}."
    for table, name, definition, unique, primary, columns in run(INDEXES, [schema]):
        if table in tables:
            tables[table]["indexes"][name] = {"columns": list(columns), "unique": bool(unique),
                                              "primary": bool(primary),
                                              "definition": definition.replace(prefix, " ON ")}
    for table, name, kind, definition, columns, ref_table, ref_columns, deltype in run(CONSTRAINTS, [schema]):
        if table not in tables:
            continue
        entry: dict[str, Any] = {"kind": KINDS[kind], "columns": list(columns), "definition": definition}
        if kind == "f":
            entry["references"] = {"table": ref_table, "columns": list(ref_columns)}
            entry["on_delete"] = ON_DELETE.get(deltype, deltype)
        tables[table]["constraints"][name] = entry
    return {"schema": schema, "tables": tables}


def diff(first: Any, second: Any, path: str = "", names: tuple[str, str] = ("first", "second")) -> list[str]:
    """Readable differences between two nested dicts: one line per difference, with its path."""
    lines: list[str] = []
    if isinstance(first, dict) and isinstance(second, dict):
        for key in sorted(set(first) | set(second), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in second:
                lines.append(f"{where}: only in {names[0]}")
            elif key not in first:
                lines.append(f"{where}: only in {names[1]}")
            else:
                lines += diff(first[key], second[key], where, names)
    elif first != second:
        lines.append(f"{path}: {first!r} in {names[0]} != {second!r} in {names[1]}")
    return lines


def without_schema_key(snap: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in snap.items() if k != "schema"}
