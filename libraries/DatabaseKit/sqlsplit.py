"""Split SQL text into statements, knowing quotes, dollar quotes and comments, with their lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_NON_TRANSACTIONAL = re.compile(
    r"^(CREATE\s+(UNIQUE\s+)?INDEX\s+CONCURRENTLY|DROP\s+INDEX\s+CONCURRENTLY|REINDEX\b.*\bCONCURRENTLY"
    r"|VACUUM\b|CREATE\s+DATABASE|DROP\s+DATABASE|ALTER\s+SYSTEM|CREATE\s+TABLESPACE|DROP\s+TABLESPACE"
    r"|ALTER\s+DATABASE\b.*\bSET\s+TABLESPACE)",
    re.IGNORECASE | re.DOTALL,
)
_TRANSACTION_CONTROL = re.compile(
    r"^(BEGIN(\s+(TRANSACTION|WORK))?|START\s+TRANSACTION|COMMIT(\s+(TRANSACTION|WORK))?|END(\s+(TRANSACTION|WORK))?)"
    r"(\s+ISOLATION\s+LEVEL\s+.*)?$",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class Statement:
    """One statement: its text, where it starts in the source (1-based line/column) and its number."""

    text: str
    index: int
    line: int
    column: int
    offset: int

    @property
    def short(self) -> str:
        flat = " ".join(self.text.split())
        return flat if len(flat) <= 160 else flat[:157] + "..."

    @property
    def non_transactional(self) -> bool:
        """PostgreSQL refuses to run this statement inside a transaction block."""
        return bool(_NON_TRANSACTIONAL.match(self.text))

    @property
    def transaction_control(self) -> bool:
        """BEGIN/COMMIT written in the file (the runner manages transactions itself)."""
        return bool(_TRANSACTION_CONTROL.match(self.text.strip()))


def position_in_source(source: str, statement: Statement, position: int) -> tuple[int, int]:
    """Line and column in ``source`` of the 1-based character ``position`` inside ``statement``."""
    offset = statement.offset + max(position - 1, 0)
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1) + 1
    return line, column


def _escape_string(source: str, quote_at: int) -> bool:
    """The quote at ``quote_at`` opens an ``E'...'`` string: an ``E`` right before it that starts a word."""
    before = source[quote_at - 2] if quote_at >= 2 else " "
    return quote_at > 0 and source[quote_at - 1] in "eE" and not (before.isalnum() or before == "_")


def _after_quoted(source: str, start: int, escapes: bool = False) -> int:
    """Where the quoted text opening at ``start`` ends (just after its closing quote, or the end of ``source``):
    a ``'string'`` or a ``"name"``, the quote doubled inside it, and with ``escapes`` (an ``E'...'`` string)
    a backslash escaping the next character."""
    quote, n, i = source[start], len(source), start + 1
    while i < n:
        if escapes and source[i] == "\\":
            i += 2
        elif source[i] != quote:
            i += 1
        elif source.startswith(quote * 2, i):
            i += 2
        else:
            return i + 1
    return n


def split_sql(source: str) -> list[Statement]:
    """The statements of ``source``; empty ones and pure comments are left out."""
    statements: list[Statement] = []
    n = len(source)
    i = 0
    content_at = -1

    def emit(end: int) -> None:
        nonlocal content_at
        if content_at >= 0:
            text = source[content_at:end].rstrip()
            line = source.count("\n", 0, content_at) + 1
            column = content_at - (source.rfind("\n", 0, content_at) + 1) + 1
            statements.append(Statement(text, len(statements) + 1, line, column, content_at))
        content_at = -1

    while i < n:
        c = source[i]
        if c == "-" and source.startswith("--", i):
            j = source.find("\n", i)
            i = n if j < 0 else j + 1
            continue
        if c == "/" and source.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if source.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif source.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            continue
        if c.isspace():
            i += 1
            continue
        if content_at < 0:
            content_at = i
        if c in "'\"":
            i = _after_quoted(source, i, escapes=c == "'" and _escape_string(source, i))
            continue
        if c == "$" and not (i > 0 and (source[i - 1].isalnum() or source[i - 1] == "_")):
            match = _DOLLAR.match(source, i)
            if match:
                tag = match.group(0)
                j = source.find(tag, match.end())
                i = n if j < 0 else j + len(tag)
                continue
        if c == ";":
            emit(i)
        i += 1
    emit(n)
    return statements
