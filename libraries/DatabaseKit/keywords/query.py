"""Queries and statements: Get Query Rows, Execute SQL, Execute SQL File, row counts and result checks."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from psycopg import sql as pgsql
from psycopg.rows import RowFactory, dict_row
from robot.api import logger
from robot.api.deco import keyword

from DatabaseKit.context import DbContext, Result, info_is_logged, short
from DatabaseKit.sqlsplit import position_in_source, split_sql
from kitcore import Check, KitError, getter, to_seconds
from kitcore.logging import log_table

_SELECT = re.compile(r"^\s*(SELECT|WITH|VALUES|TABLE)\b", re.IGNORECASE)
ROW_SHAPES: dict[str, RowFactory[Any] | None] = {"dicts": dict_row, "tuples": None}  # None: the connection's tuples


@functools.lru_cache(maxsize=128)
def _seconds(timeout: str | float | None) -> float | None:
    """A keyword's ``timeout=`` in seconds (None: none given); read once per distinct text."""
    return None if timeout is None or timeout == "" else to_seconds(timeout)


@functools.lru_cache(maxsize=256)
def _count_statement(table_or_select: str) -> tuple[str, str]:
    """The statement that counts the rows of a table (its name quoted) or of a SELECT, and what it counts."""
    if _SELECT.match(table_or_select):
        select = pgsql.SQL("SELECT count(*) FROM ({}) AS q").format(pgsql.SQL(table_or_select))  # type: ignore[arg-type]
        return select.as_string(), f"Row count of {short(table_or_select)}"
    name = pgsql.Identifier(*table_or_select.strip().split("."))
    return pgsql.SQL("SELECT count(*) FROM {}").format(name).as_string(), f"Row count of table {table_or_select}"


@functools.lru_cache(maxsize=256)
def _result_of(statement: str) -> str:
    """How the assertion keywords name a query's result in messages."""
    return f"Result of '{short(statement)}'"


def _log_rows(statement: str, result: Result) -> None:
    rows = result.rows
    if rows and isinstance(rows[0], dict):
        log_table(short(statement, 200), list(rows[0]), [list(row.values()) for row in rows])
    else:
        log_table(short(statement, 200), result.columns, rows)


class QueryKeywords:
    def __init__(self, ctx: DbContext) -> None:
        self.ctx = ctx

    @keyword("Get Query Rows", tags=["query"])
    def get_query_rows(self, statement: str, parameters: list[Any] | dict[str, Any] | None = None, rows: str = "dicts",
              timeout: str | float | None = None, log: bool = True, alias: str | None = None) -> list[Any]:
        """Run a SELECT and return its rows: a list of dictionaries (``rows=dicts``, the default) or
        of tuples (``rows=tuples``). The rows are logged as a compact table.

        ``parameters`` fill ``%s`` (list) or ``%(name)s`` (dictionary) placeholders; never paste
        values into the SQL text. ``timeout`` overrides the statement timeout for this query.

        Example:
        | ${sessions} = | Get Query Rows | SELECT name, state FROM sessions WHERE user_id = %s | parameters=${{[7]}} |
        | Should Be Equal | ${sessions}[0][state] | running |
        """
        try:
            row_factory = ROW_SHAPES[rows]
        except KeyError:
            raise KitError(f"Unknown rows='{rows}'", fix="use rows=dicts or rows=tuples") from None
        result = self.ctx.run(self.ctx.handle(alias), statement, parameters, _seconds(timeout), None, "Query",
                              row_factory)
        if log and info_is_logged():
            _log_rows(statement, result)
        return result.rows

    @keyword("Execute SQL", tags=["query"])
    def execute_sql(self, statement: str, parameters: list[Any] | dict[str, Any] | None = None,
                    timeout: str | float | None = None, alias: str | None = None) -> int:
        """Run one statement (committed at once); returns the number of rows it touched.

        Example:
        | Execute SQL | UPDATE sessions SET state = %s WHERE name = %s | parameters=${{['failed', 'alice-x']}} |
        """
        handle = self.ctx.handle(alias)
        result = self.ctx.run(handle, statement, parameters, _seconds(timeout))
        if info_is_logged():
            logger.info(f"{short(statement)}: {result.rowcount} rows")
        return result.rowcount

    @keyword("Execute SQL File", tags=["query"])
    def execute_sql_file(self, path: str, in_transaction: bool = True, timeout: str | float | None = None,
                           alias: str | None = None) -> int:
        """Run every statement of the SQL file ``path``; returns how many ran.

        With ``in_transaction=True`` (the default) the script runs in one transaction: a failing
        statement rolls it all back. The error names the statement, its number and its line.

        Example:
        | Execute SQL File | ${CURDIR}/data/seed.sql |
        """
        handle = self.ctx.handle(alias)
        file = Path(path)
        if not file.is_file():
            raise KitError(f"SQL script '{path}' does not exist", fix="check the path (relative to the working folder)")
        source = file.read_text(encoding="utf-8")
        statements = [s for s in split_sql(source) if not s.transaction_control]
        budget = _seconds(timeout)

        def run_all() -> None:
            for statement in statements:
                try:
                    self.ctx.run(handle, statement.text, None, budget, what=f"Statement {statement.index}")
                except KitError as error:
                    raise script_error(file, source, statement, len(statements), error) from None

        if in_transaction:
            with self.ctx.call(handle, f"SQL script {file.name}"), handle.conn.transaction():
                run_all()
        else:
            run_all()
        logger.info(f"Ran {len(statements)} statements from {file.name}")
        return len(statements)

    @keyword("Get Row Count", tags=["query", "getter"])
    @getter
    def get_row_count(self, table_or_select: str, *, check: Check, parameters: list[Any] | None = None,
                      alias: str | None = None) -> int:
        """The number of rows of a table (name, ``schema.table`` allowed) or of a SELECT; can assert.

        Example:
        | Get Row Count | agent_commands | == | 0 |
        | Get Row Count | SELECT 1 FROM sessions WHERE state = 'running' | >= | 3 | timeout=10s |
        """
        handle = self.ctx.handle(alias)
        statement, what = _count_statement(table_or_select)
        if check.operator is None:  # nothing to assert: read once, as check() would
            return int(self.ctx.run(handle, statement, parameters, None, what).rows[0][0])

        def count() -> int:
            return int(self.ctx.run(handle, statement, parameters, what=what).rows[0][0])

        return check(count, what)

    @keyword("Query Value Should Be", tags=["query", "assertion"])
    @getter(operator_required=True)
    def query_value_should_be(self, statement: str, *, check: Check, row: int = 0, column: int | str = 0,
                              parameters: list[Any] | None = None, alias: str | None = None) -> Any:
        """Assert one value of a query's result (``row``, ``column`` by number or name), retrying
        until ``timeout``; returns the value.

        Example:
        | Query Value Should Be | SELECT state FROM sessions WHERE name = %s | == | running |
        | ... | timeout=10s | parameters=${{['alice-1']}} |
        | Query Value Should Be | SELECT name, state FROM sessions | == | running | row=1 | column=state |
        """
        handle = self.ctx.handle(alias)

        def value() -> Any:
            result = self.ctx.run(handle, statement, parameters, None, None, "Query")
            rows = result.rows
            if row >= len(rows):
                raise KitError(f"The query returned {len(rows)} rows, so there is no row {row}",
                               fix="check the query or wait for the data with timeout=")
            index = column
            if isinstance(column, str) and not column.isdigit():
                columns = result.columns
                if column not in columns:
                    raise KitError(f"The query has no column '{column}'", f"columns: {', '.join(columns)}")
                index = columns.index(column)
            return rows[row][int(index)]

        return check(value, _result_of(statement))

    @keyword("Query Result Should Be", tags=["query", "assertion"])
    @getter(operator_required=True)
    def query_result_should_be(self, statement: str, *, check: Check, parameters: list[Any] | None = None,
                               alias: str | None = None) -> Any:
        """Assert a query's whole result: a single value when it is one row of one column, else
        the list of rows as lists; retries until ``timeout``.

        Example:
        | Query Result Should Be | SELECT count(*) FROM agents WHERE status = 'online' | == | 2 |
        | Query Result Should Be | SELECT name FROM sessions ORDER BY name | == | ${{[['a'], ['b']]}} |
        """
        handle = self.ctx.handle(alias)

        def result() -> Any:
            rows = self.ctx.run(handle, statement, parameters, None, None, "Query").rows
            if len(rows) == 1 and len(rows[0]) == 1:
                return rows[0][0]
            return [list(r) for r in rows]

        return check(result, _result_of(statement))

    @keyword("Database Should Answer", tags=["query", "assertion"])
    def database_should_answer(self, alias: str | None = None) -> None:
        """The database answers a query (``SELECT 1`` gives 1).

        Example:
        | Connect To PostgreSQL | conninfo=${dsn} | alias=smoke |
        | Database Should Answer |
        """
        handle = self.ctx.handle(alias)
        value = self.ctx.run(handle, "SELECT 1", None, what="Query 'SELECT 1'").rows[0][0]
        if value != 1:
            raise AssertionError(f"PostgreSQL at {handle.where} answered 'SELECT 1' with {value!r}, not 1")
        if info_is_logged():
            logger.info(f"PostgreSQL at {handle.where} answers")


def script_error(file: Path, source: str, statement: Any, total: int, error: KitError) -> KitError:
    line, column = statement.line, statement.column
    position = _position(error)
    if position:
        line, column = position_in_source(source, statement, position)
    return KitError(
        f"{file.name} failed at statement {statement.index} of {total} (line {line}, column {column})",
        f"{error.cause or error}; statement: {statement.short}",
        error.fix or "correct that statement",
    )


def _position(error: KitError) -> int | None:
    return getattr(error, "position", None)
