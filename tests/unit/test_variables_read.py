"""Every variable the kit declares in variables/ is read somewhere, and documented where it is declared:
a threshold nobody reads makes a tester believe it is checked."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DECLARED_IN = ("variables/defaults.yaml", "variables/thresholds.yaml")
READERS = ("suites", "resources", "libraries", "environments", "variables/budgets.py", "kit")


def _declared() -> dict[str, str]:
    names = {}
    for relative in DECLARED_IN:
        for name in yaml.safe_load((ROOT / relative).read_text()) or {}:
            names[name] = relative
    return names


def _reader_text() -> str:
    texts = []
    for relative in READERS:
        path = ROOT / relative
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.suffix in (".robot", ".resource", ".py")]
        texts += [f.read_text(errors="replace") for f in files]
    return "\n".join(texts)


def test_every_declared_variable_is_read_somewhere() -> None:
    text = _reader_text()
    unread = [f"{name} ({where})" for name, where in _declared().items() if not re.search(rf"\b{name}\b", text)]
    assert not unread, f"declared in variables/ and read nowhere: {', '.join(unread)}"


def _group_comment(lines: list[str], number: int) -> bool:
    """A comment right above the declaration, or above the run of declarations it belongs to."""
    for above in reversed(lines[:number]):
        if above.lstrip().startswith("#"):
            return True
        if not above.strip() or not re.match(r"^([A-Z][A-Z0-9_]*:|\s)", above):
            return False
    return False


def test_every_declared_variable_is_documented_where_it_is_declared() -> None:
    undocumented = []
    for relative in DECLARED_IN:
        lines = (ROOT / relative).read_text().splitlines()
        for number, line in enumerate(lines):
            match = re.match(r"^([A-Z][A-Z0-9_]*):", line)
            if not match:
                continue
            if not (_group_comment(lines, number) or "#" in line.split(":", 1)[1]):
                undocumented.append(f"{match.group(1)} ({relative}:{number + 1})")
    assert not undocumented, f"declared without a comment above or beside it: {', '.join(undocumented)}"
