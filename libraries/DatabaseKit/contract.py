"""The target's whole schema as a contract: a schema file (YAML) every migrated database must match.

The file holds what :func:`DatabaseKit.schema.snapshot` reads (every table with every column's type,
nullability and default, every index and constraint), written once from a database the target's own
migrations made. Anything the file names that a database lacks or has otherwise breaks the contract;
what a database has beyond the file is only reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kitcore import KitError

HEADER = ("# The whole schema the platform's migrations must leave (tables, columns with type, nullability\n"
          "# and default, indexes, constraints), as DatabaseKit reads it. Written by `Write Schema File`.\n")


def read_schema_file(path: str | Path) -> dict[str, Any]:
    """The schema a file states (``{"tables": {...}}``); a missing or malformed file fails naming it."""
    source = Path(path)
    if not source.is_file():
        raise KitError(f"The schema file '{source}' does not exist",
                       fix="give MIGRATIONS_SCHEMA the target's schema file, or write one with Write Schema File "
                           "from a database the target's migrations made")
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("tables"), dict) or not data["tables"]:
        raise KitError(f"The schema file '{source}' states no tables",
                       fix="write it with Write Schema File from a database the target's migrations made")
    return data


def save_schema_file(snap: dict[str, Any], path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump({"tables": snap["tables"]}, sort_keys=True, default_flow_style=False, width=120)
    target.write_text(HEADER + body, encoding="utf-8")
    return target


def _describe(kind: str, value: Any) -> str:
    if kind == "columns" and isinstance(value, dict):
        nullable = "NULL" if value.get("nullable") else "NOT NULL"
        default = f" DEFAULT {value['default']}" if value.get("default") is not None else ""
        return f"{value.get('type')} {nullable}{default}"
    if isinstance(value, dict) and "definition" in value:
        return str(value["definition"])
    return str(value)


def contract_breaches(expected: dict[str, Any], actual: dict[str, Any]) -> tuple[list[str], list[str]]:
    """What the database lacks or has otherwise than the contract (breaches), and what it has beyond it
    (extras), one line each in a tester's words."""
    breaches: list[str] = []
    extras: list[str] = []
    want, have = expected.get("tables", {}), actual.get("tables", {})
    for table in sorted(set(have) - set(want)):
        extras.append(f"table {table} is not in the contract")
    for table in sorted(want):
        if table not in have:
            breaches.append(f"table {table} is missing")
            continue
        for kind in ("columns", "constraints", "indexes"):
            singular = kind[:-1] if kind != "indexes" else "index"
            wanted, found = want[table].get(kind, {}), have[table].get(kind, {})
            for name in sorted(wanted):
                if name not in found:
                    breaches.append(f"{table}: {singular} {name} ({_describe(kind, wanted[name])}) is missing")
                elif found[name] != wanted[name]:
                    breaches.append(f"{table}: {singular} {name} is {_describe(kind, found[name])}, "
                                    f"the contract says {_describe(kind, wanted[name])}")
            extras += [f"{table}: {singular} {name} is not in the contract"
                       for name in sorted(set(found) - set(wanted))]
    return breaches, extras
