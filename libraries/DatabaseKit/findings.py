"""What a migration round trip found wrong, said briefly in a failure message and fully in the log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kitcore import KitError
from kitcore.logging import log_table

SHOWN = 2  # differences per defect in a failure message
SHOWN_DEFECTS = 1  # defects per migration in a failure message


def explain(error: KitError, file: str) -> str:
    """Where ``file`` failed and the server's error, without the fix (which speaks of migrating by hand)."""
    what = error.what.removeprefix(f"Migration {file} failed")
    return f"{what}: {error.cause}" if error.cause else what


PARTS = (("columns", "column"), ("indexes", "index"), ("constraints", "constraint"))


def schema_changes(now: dict[str, Any], then: dict[str, Any], then_name: str) -> list[str]:
    """How the schema ``now`` differs from ``then``: ``missing column sessions.tags``, ``extra index
    ...``, ``column sessions.tags default 'x' (before: None)``."""
    changes: list[str] = []
    tables_now, tables_then = now["tables"], then["tables"]
    changes += [f"missing table {t}" for t in sorted(set(tables_then) - set(tables_now))]
    changes += [f"extra table {t}" for t in sorted(set(tables_now) - set(tables_then))]
    for table in sorted(set(tables_now) & set(tables_then)):
        for part, noun in PARTS:
            items_now, items_then = tables_now[table][part], tables_then[table][part]
            changes += [f"missing {noun} {table}.{n}" for n in sorted(set(items_then) - set(items_now))]
            changes += [f"extra {noun} {table}.{n}" for n in sorted(set(items_now) - set(items_then))]
            for name in sorted(set(items_now) & set(items_then)):
                first, second = items_now[name], items_then[name]
                changes += [f"{noun} {table}.{name} {key} {first.get(key)!r} ({then_name}: {second.get(key)!r})"
                            for key in sorted(set(first) | set(second)) if first.get(key) != second.get(key)]
    return changes


@dataclass
class Defect:
    """What one phase found wrong: a title naming the file, and the differences (may be none)."""

    title: str
    items: list[str]
    rank: int = 0  # which to show first in a failure message: 0 a failing file, 1 lost data, 2 the schema

    def full(self) -> str:
        return f"{self.title}: {'; '.join(self.items)}" if self.items else self.title

    def short(self) -> str:
        """The title and the first differences: the failure message stays readable, the log has all."""
        if len(self.items) <= SHOWN:
            return self.full()
        return f"{self.title}: {'; '.join(self.items[:SHOWN])}; {len(self.items) - SHOWN} more"


def phase(title: str, items: list[str], rank: int) -> list[Defect]:
    """The defect one phase found (none when it found nothing)."""
    return [Defect(title, items, rank)] if items else []


def report(title: str, defects: dict[str, list[Defect]]) -> str:
    """The failure message (differences cut to the first few); every difference goes to the log."""
    log_table(title, ["migration", "defect"], [[label, d.full()] for label, found in defects.items() for d in found])
    lines = [title]
    for label, found in defects.items():
        shown = found if not label else sorted(found, key=lambda d: d.rank)[:SHOWN_DEFECTS]
        lines += [f"{label}:"] if label else []
        lines += [f"  - {d.short()}" for d in shown]
        if len(found) > len(shown):
            more = len(found) - len(shown)
            lines[-1] += f" (and {more} more defect{'' if more == 1 else 's'} in the log)"
    return "\n".join(lines)
