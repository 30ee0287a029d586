"""What every DatabaseKit keyword class shares: connections, cleanup, guard, error translation."""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import RowFactory
from robot.running.context import EXECUTION_CONTEXTS

from DatabaseKit.watchdog import Watchdog
from kitcore import CleanupListener, Connections, KitError, TargetGuard
from kitcore.credentials import mask


@dataclass
class DbHandle:
    """One open connection (autocommit), how to open it again, and its statement timeout."""

    conn: psycopg.Connection
    params: dict[str, Any]
    password: str | None
    statement_timeout_ms: int
    alias: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.params.get('host', 'localhost')}:{self.params.get('port', 5432)}/{self.params.get('dbname', '')}"

    @property
    def dbname(self) -> str:
        return str(self.params.get("dbname", ""))

    def mask(self, text: str) -> str:
        return mask(text, self.password)

    def reopen(self) -> None:
        """Open the connection again after it broke (e.g. the server restarted)."""
        self.conn = open_connection(self.params, self.password, self.statement_timeout_ms)


def open_connection(params: dict[str, Any], password: str | None, statement_timeout_ms: int) -> psycopg.Connection:
    conninfo = make_conninfo(**{k: v for k, v in params.items() if v is not None and k != "options"})
    options = f"{params.get('options') or ''} -c statement_timeout={int(statement_timeout_ms)}".strip()
    kwargs: dict[str, Any] = {"autocommit": True, "options": options}
    if password is not None:
        kwargs["password"] = password
    return psycopg.connect(conninfo, **kwargs)


def params_from(conninfo: str | None, **given: Any) -> dict[str, Any]:
    params: dict[str, Any] = conninfo_to_dict(conninfo) if conninfo else {}
    for key, value in given.items():
        if value is not None and value != "":
            params[key] = value
    params.pop("password", None)
    return params


def close_handle(handle: DbHandle) -> None:
    handle.conn.close()


class DbContext:
    def __init__(self, test_targets: str = "") -> None:
        self.connections: Connections[DbHandle] = Connections("database", "Connect To PostgreSQL", close_handle)
        self.cleanup = CleanupListener("DatabaseKit")
        self.guard = TargetGuard("DatabaseKit", "DATABASEKIT_TEST_TARGETS", test_targets.split(","))
        self.watchdog = Watchdog()

    def handle(self, alias: str | None = None) -> DbHandle:
        handle = self.connections.get(alias)
        if handle.conn.pgconn.status == _BAD:  # closed, or broken (Connection.closed, without its call)
            with self.call(handle, "Reconnect"):
                handle.reopen()
        return handle

    def call(self, handle: DbHandle, what: str, timeout: float | None = None) -> DbCall:
        """Run PostgreSQL calls (``with ctx.call(...)``), turning client errors into KitErrors that name
        cause and fix (a connection the watchdog broke: no answer within the statement timeout)."""
        return DbCall(self, handle, what, timeout)

    def run(self, handle: DbHandle, sql: Any, params: Sequence[Any] | dict[str, Any] | None = None,
            timeout: float | None = None, what: str | None = None, kind: str = "SQL",
            row_factory: RowFactory[Any] | None = None) -> Result:
        """Run one statement and read its rows (made by ``row_factory``, tuples by default), guarded by the
        watchdog; ``timeout`` (s) overrides the statement timeout for it. Errors name it ``what``, else
        ``<kind> '<the SQL, shortened>'``, and say cause and fix."""
        conn, watchdog, key = handle.conn, self.watchdog, _thread_id()
        budget = timeout if timeout is not None else handle.statement_timeout_ms / 1000
        if budget > 0:  # what watchdog.enter does, without its call (it runs around every statement)
            watchdog.calls[key] = (_monotonic() + budget + watchdog.grace, conn)
            if watchdog.thread is None:
                watchdog.start()
        try:
            if timeout is None:
                cursor = conn.cursor(row_factory=row_factory).execute(sql, params)  # type: ignore[call-overload]
                result = cursor.pgresult
                if result is None or result.status not in ROW_STATES:  # _result(cursor), one call less
                    return Result([], [], cursor.rowcount)
                return Result(None, cursor.fetchall(), cursor.rowcount, cursor)
            with conn.transaction():
                conn.execute("SELECT set_config('statement_timeout', %s, true)", [str(int(timeout * 1000))])
                return _result(conn.cursor(row_factory=row_factory).execute(sql, params))  # type: ignore[call-overload]
        except psycopg.Error as error:
            raise DbCall(self, handle, what, timeout, sql, kind)._explained(error) from None
        finally:
            watchdog.calls.pop(key, None)  # watchdog.leave()


class DbCall:
    """The context of :meth:`DbContext.call`: client errors translated into KitErrors that name cause and
    fix; :meth:`DbContext.run` explains its errors with it too."""

    __slots__ = ("ctx", "handle", "kind", "sql", "timeout", "what")

    def __init__(self, ctx: DbContext, handle: DbHandle, what: str | None, timeout: float | None, sql: Any = None,
                 kind: str = "SQL") -> None:
        self.ctx, self.handle, self.what, self.timeout = ctx, handle, what, timeout
        self.sql, self.kind = sql, kind

    @property
    def budget(self) -> float:
        """Seconds the statement may take: ``timeout``, else the connection's statement timeout."""
        return self.timeout if self.timeout is not None else self.handle.statement_timeout_ms / 1000

    def __enter__(self) -> None:
        return None

    def __exit__(self, _kind: type[BaseException] | None, error: BaseException | None, _trace: object) -> None:
        if isinstance(error, psycopg.Error):
            raise self._explained(error) from None

    def _explained(self, error: psycopg.Error) -> KitError:
        handle = self.handle
        what = self.what or f"{self.kind} '{short(self.sql)}'"
        if self.ctx.watchdog.broke(handle.conn):
            return KitError(
                f"{what} got no answer from PostgreSQL at {handle.where}",
                f"nothing came back {self.budget:g} s (statement timeout) + {self.ctx.watchdog.grace:g} s after the "
                f"call; the server seems frozen or unreachable, so the connection was closed",
                "check that the server runs and is reachable; the next keyword reconnects",
            )
        return translate(error, handle, what, self.timeout)


_BAD = pq.ConnStatus.BAD
_thread_id = threading.get_ident
_monotonic = time.monotonic
ROW_STATES = frozenset({pq.ExecStatus.TUPLES_OK, pq.ExecStatus.SINGLE_TUPLE, pq.ExecStatus.TUPLES_CHUNK})


class Result:
    """A statement's column names, rows (as its row factory made them) and the number of rows it touched.
    Given ``cursor`` and no ``columns``, the names are read from the cursor's result when first asked for."""

    __slots__ = ("_columns", "_cursor", "rowcount", "rows")

    def __init__(self, columns: list[str] | None, rows: list[Any], rowcount: int,
                 cursor: psycopg.Cursor[Any] | None = None) -> None:
        self._columns, self.rows, self.rowcount, self._cursor = columns, rows, rowcount, cursor

    @property
    def columns(self) -> list[str]:
        """The column names, in order (a name given twice is listed twice)."""
        if self._columns is None:
            cursor = self._cursor
            result = cursor.pgresult if cursor is not None else None
            if cursor is None or result is None:
                self._columns = []
            else:
                encoding = cursor.connection.info.encoding
                self._columns = [(result.fname(i) or b"").decode(encoding) for i in range(result.nfields)]
        return self._columns

    def __repr__(self) -> str:
        return f"Result(columns={self.columns!r}, rows={self.rows!r}, rowcount={self.rowcount!r})"


def _result(cursor: psycopg.Cursor[Any]) -> Result:
    """The rows of an executed cursor; none (and no columns) for a statement that returns no rows."""
    result = cursor.pgresult
    if result is None or result.status not in ROW_STATES:
        return Result([], [], cursor.rowcount)
    return Result(None, cursor.fetchall(), cursor.rowcount, cursor)


def short(sql: Any, limit: int = 120) -> str:
    """The SQL on one line, cut to ``limit`` characters."""
    return _short(sql if isinstance(sql, str) else str(getattr(sql, "_obj", sql)), limit)


@functools.lru_cache(maxsize=512)
def _short(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


_PYTHON_LOG = logging.getLogger("RobotFramework")  # where robot.api.logger writes outside a Robot Framework run


def info_is_logged() -> bool:
    """Whether an INFO message is kept: always while Robot Framework runs, else when Python logging (where
    ``robot.api.logger`` writes outside a run) takes INFO messages; a message nobody keeps is not built."""
    return EXECUTION_CONTEXTS.current is not None or _PYTHON_LOG.isEnabledFor(logging.INFO)


def translate(error: psycopg.Error, handle: DbHandle, what: str, timeout: float | None = None) -> KitError:
    """A KitError naming cause and fix; carries the server's error position (``.position``) and SQLSTATE."""
    kit_error = _translate(error, handle, what, timeout)
    diag = getattr(error, "diag", None)
    position = getattr(diag, "statement_position", None) if diag is not None else None
    kit_error.position = int(position) if position else None  # type: ignore[attr-defined]
    kit_error.sqlstate = getattr(error, "sqlstate", None)  # type: ignore[attr-defined]
    return kit_error


def _translate(error: psycopg.Error, handle: DbHandle, what: str, timeout: float | None) -> KitError:
    text = handle.mask(str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__)
    where = f"PostgreSQL at {handle.where}"
    lowered = text.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return KitError(f"{what} failed: {where} refused the credentials", text,
                        "check user= and password= (give the password as a Secret)")
    budget = timeout if timeout is not None else handle.statement_timeout_ms / 1000
    if isinstance(error, pg_errors.QueryCanceled) or "statement timeout" in lowered:
        return KitError(f"{what} timed out on {where}",
                        f"it ran longer than the statement timeout of {budget:g} s ({text})",
                        "raise statement_timeout= in 'Connect To PostgreSQL' or timeout= of this keyword, "
                        "or find what blocks the statement")
    if "connection refused" in lowered:
        return KitError(f"{what} failed: cannot reach {where}", f"connection refused: nothing listens there ({text})",
                        "start PostgreSQL there, or fix host=/port=/conninfo= in 'Connect To PostgreSQL'")
    if isinstance(error, pg_errors.UndefinedTable):
        return KitError(f"{what} failed on {where}", f"a table is missing: {text}",
                        "check the table name and the schema (search_path), or run the migrations first")
    if isinstance(error, pg_errors.InvalidCatalogName):
        return KitError(f"{what} failed on {where}", text, "create the database first, or fix dbname=")
    if isinstance(error, psycopg.OperationalError):
        return KitError(f"{what} failed: cannot talk to {where}", text,
                        "check that PostgreSQL is up and that host/port/user/dbname are right")
    return KitError(f"{what} failed on {where}", text)


def elapsed_since(start: float) -> float:
    return round(time.perf_counter() - start, 4)
