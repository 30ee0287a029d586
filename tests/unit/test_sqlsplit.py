"""SQL text splits into its statements where a ``;`` ends one, never inside quotes, dollar quotes or comments."""

from __future__ import annotations

import pytest

from DatabaseKit.sqlsplit import split_sql


def texts(source: str) -> list[str]:
    return [statement.text for statement in split_sql(source)]


@pytest.mark.parametrize(("source", "expected"), [
    ("SELECT 1; SELECT 2;", ["SELECT 1", "SELECT 2"]),
    ("SELECT 'a;b'; SELECT 2", ["SELECT 'a;b'", "SELECT 2"]),
    ("SELECT 'it''s; here'; SELECT 2", ["SELECT 'it''s; here'", "SELECT 2"]),
    ('SELECT "odd;name"""; SELECT 2', ['SELECT "odd;name"""', "SELECT 2"]),
    ("SELECT E'a\\';b'; SELECT 2", ["SELECT E'a\\';b'", "SELECT 2"]),
    ("SELECT type'a\\'; SELECT 2", ["SELECT type'a\\'", "SELECT 2"]),
    ("DO $f$ BEGIN; END $f$; SELECT 2", ["DO $f$ BEGIN; END $f$", "SELECT 2"]),
    ("-- a; comment\nSELECT 1; /* b; /* c; */ */ SELECT 2", ["SELECT 1", "SELECT 2"]),
    ("SELECT 'never closed; SELECT 2", ["SELECT 'never closed; SELECT 2"]),
    ("-- only a comment\n/* and another */", []),
])
def test_statements_end_only_at_a_semicolon_outside_quotes_and_comments(source: str, expected: list[str]) -> None:
    assert texts(source) == expected


def test_each_statement_knows_where_it_starts() -> None:
    first, second = split_sql("SELECT 'x';\n  SELECT \"y\";")
    assert (first.index, first.line, first.column, first.offset) == (1, 1, 1, 0)
    assert (second.index, second.line, second.column, second.offset) == (2, 2, 3, 14)
