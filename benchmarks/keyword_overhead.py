"""Overhead of RedisKit and DatabaseKit keywords over their raw clients.

Starts a throwaway Redis and PostgreSQL on free ports, then times every query path of the two
libraries (DatabaseKit: one row, several rows, dictionaries or tuples, with and without parameters,
a per-call timeout, a statement that returns no rows, a scalar, the assertion keywords; RedisKit:
SET+GET, a hash, a key's existence) against the code a user would write with the raw client to get
the same result (psycopg's ``dict_row`` where the keyword returns dictionaries, the same per-call
timeout, the same comparison and failure where the keyword asserts). Both sides use the very same
connection, so that the two are told apart by what runs in Python only, not by which server process
or socket answers. Calls alternate one by one (raw, keyword, keyword, raw, ...), so that what else the
machine does in a moment weighs on both alike; each path is timed in ``--rounds`` rounds of ``--ops``
calls, each call timed: a round's figure is its median call, and the median of the rounds is printed.
Last, the keywords run by Robot Framework (a FOR loop in a generated suite) show what a keyword costs
there. The aim is every keyword within 1.10 times its raw client; measure on a quiet machine. Run:

    .venv/bin/python benchmarks/keyword_overhead.py [--ops 1000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import io
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import redis
import robot
from psycopg.rows import dict_row
from robot.api import ExecutionResult

from DatabaseKit import DatabaseKit
from environments.local.postgres_server import PostgresServer
from environments.local.redis_server import RedisServer
from RedisKit import RedisKit

ROUNDS = 7
AIM = 1.10

SUITE = """*** Settings ***
Library    RedisKit
Library    DatabaseKit

*** Variables ***
${{OPS}}    {ops}

*** Test Cases ***
Redis Set And Get
    Connect To Redis Server    127.0.0.1    {redis_port}
    FOR    ${{i}}    IN RANGE    ${{OPS}}
        Set Value    bench:robot    value
        Get Value Of Key    bench:robot
    END

Postgres Single Row Select
    Connect To PostgreSQL    127.0.0.1    {pg_port}    postgres    dbname=postgres
    FOR    ${{i}}    IN RANGE    ${{OPS}}
        Get Query Rows    SELECT 1 AS one    log=False
    END

Baseline Loop
    FOR    ${{i}}    IN RANGE    ${{OPS}}
        No Operation
    END
"""

ONE_ROW = "SELECT id, name, state FROM bench WHERE id = 1"
ONE_ROW_BY_ID = "SELECT id, name, state FROM bench WHERE id = %s"
TEN_ROWS = "SELECT id, name, state FROM bench ORDER BY id"
UPDATE = "UPDATE bench SET state = %s WHERE id = %s"
UPDATE_LITERAL = "UPDATE bench SET state = 'running' WHERE id = 2"
RUNNING = "SELECT 1 FROM bench WHERE state = %s"
STATE_OF_ONE = "SELECT state FROM bench WHERE id = 1"


@dataclass
class Path_:
    """One query path: the raw client's code and the keyword that gives the same result."""

    name: str
    raw: Callable[[], object]
    kit: Callable[[], object]


@dataclass
class Figures:
    name: str
    raw_us: float
    kit_us: float
    ratio: float


def compared(path: Path_, ops: int, rounds: int) -> Figures:
    """Per-call times (microseconds) and the keyword/raw ratio: in each of ``rounds`` rounds, ``ops`` calls
    of each, the raw and the keyword call alternating one by one (in turn first), each call timed; a round
    gives the median call of each side (a call that the machine held up for something else does not
    count more than any other); the medians of the rounds are returned."""
    raw, kit, clock = path.raw, path.kit, time.perf_counter
    raw_us, kit_us, ratios = [], [], []
    for _ in range(rounds):
        raw_calls, kit_calls = [0.0] * ops, [0.0] * ops
        for i in range(ops):
            if i & 1:
                start = clock()
                raw()
                middle = clock()
                kit()
                end = clock()
                raw_calls[i], kit_calls[i] = middle - start, end - middle
            else:
                start = clock()
                kit()
                middle = clock()
                raw()
                end = clock()
                kit_calls[i], raw_calls[i] = middle - start, end - middle
        raw_median, kit_median = statistics.median(raw_calls), statistics.median(kit_calls)
        raw_us.append(raw_median * 1e6)
        kit_us.append(kit_median * 1e6)
        ratios.append(kit_median / raw_median)
    return Figures(path.name, statistics.median(raw_us), statistics.median(kit_us), statistics.median(ratios))


def should_be(value: Any, expected: Any, what: str) -> Any:
    """What a raw caller writes to assert a value the way the assertion keywords do."""
    if value != expected:
        raise AssertionError(f"{what} '{value}' (str) should be '{expected}' (str)")
    return value


def database_paths(kit: DatabaseKit) -> list[Path_]:
    kit.execute_sql("CREATE TABLE bench (id int PRIMARY KEY, name text, state text)")
    kit.execute_sql("INSERT INTO bench SELECT i, 'session-' || i, 'running' FROM generate_series(1, 10) AS i")
    conn: psycopg.Connection = kit.ctx.handle().conn  # the raw side uses the keyword's own connection

    def dicts(sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return conn.cursor(row_factory=dict_row).execute(sql, params).fetchall()

    def dicts_within(seconds: float) -> list[dict[str, Any]]:
        with conn.transaction():
            conn.execute("SELECT set_config('statement_timeout', %s, true)", [str(int(seconds * 1000))])
            return dicts(ONE_ROW)

    def result_of(sql: str) -> Any:
        rows = conn.execute(sql).fetchall()
        return rows[0][0] if len(rows) == 1 and len(rows[0]) == 1 else [list(r) for r in rows]

    return [
        Path_("one row, dicts", lambda: dicts(ONE_ROW), lambda: kit.get_query_rows(ONE_ROW, log=False)),
        Path_("one row, dicts, log=True", lambda: dicts(ONE_ROW), lambda: kit.get_query_rows(ONE_ROW)),
        Path_("one row, parameter", lambda: dicts(ONE_ROW_BY_ID, [1]),
              lambda: kit.get_query_rows(ONE_ROW_BY_ID, [1], log=False)),
        Path_("one row, timeout=5s", lambda: dicts_within(5.0),
              lambda: kit.get_query_rows(ONE_ROW, timeout="5s", log=False)),
        Path_("ten rows, dicts", lambda: dicts(TEN_ROWS), lambda: kit.get_query_rows(TEN_ROWS, log=False)),
        Path_("ten rows, tuples", lambda: conn.execute(TEN_ROWS).fetchall(),
              lambda: kit.get_query_rows(TEN_ROWS, rows="tuples", log=False)),
        Path_("Execute SQL, parameters", lambda: conn.execute(UPDATE, ["running", 1]).rowcount,
              lambda: kit.execute_sql(UPDATE, ["running", 1])),
        Path_("Execute SQL, no parameter", lambda: conn.execute(UPDATE_LITERAL).rowcount,
              lambda: kit.execute_sql(UPDATE_LITERAL)),
        Path_("Get Row Count of a table", lambda: conn.execute("SELECT count(*) FROM bench").fetchone()[0],
              lambda: kit.get_row_count("bench")),
        Path_("Get Row Count of a SELECT",
              lambda: conn.execute(f"SELECT count(*) FROM ({RUNNING}) AS q", ["running"]).fetchone()[0],
              lambda: kit.get_row_count(RUNNING, parameters=["running"])),
        Path_("Get Row Count ... == 10",
              lambda: should_be(conn.execute("SELECT count(*) FROM bench").fetchone()[0], 10, "Row count"),
              lambda: kit.get_row_count("bench", "==", 10)),
        Path_("Query Value Should Be, parameter",
              lambda: should_be(conn.execute(ONE_ROW_BY_ID, [1]).fetchone()[2], "running", "Result"),
              lambda: kit.query_value_should_be(ONE_ROW_BY_ID, "==", "running", parameters=[1], column=2)),
        Path_("Query Result Should Be", lambda: should_be(result_of(STATE_OF_ONE), "running", "Result"),
              lambda: kit.query_result_should_be(STATE_OF_ONE, "==", "running")),
        Path_("Database Should Answer", lambda: should_be(conn.execute("SELECT 1").fetchone()[0], 1, "Answer"),
              kit.database_should_answer),
    ]


def redis_paths(kit: RedisKit) -> list[Path_]:
    client: redis.Redis = kit.ctx.handle().client  # the raw side uses the keyword's own client
    kit.set_hash_fields("bench:hash", state="running", agent="k8s-local", pod="api-1")

    def set_get() -> None:
        client.set("bench:key", "value")
        if client.get("bench:key") is None:
            raise AssertionError("bench:key does not exist")

    def kit_set_get() -> None:
        kit.set_value("bench:key", "value")
        kit.get_value_of_key("bench:key")

    def exists() -> None:
        if not client.exists("bench:key"):
            raise AssertionError("bench:key does not exist")

    return [
        Path_("Redis SET+GET", set_get, kit_set_get),
        Path_("Redis Get Hash Field", lambda: client.hget("bench:hash", "state"),
              lambda: kit.get_hash_field("bench:hash", "state")),
        Path_("Redis Get Hash", lambda: client.hgetall("bench:hash"), lambda: kit.get_hash("bench:hash")),
        Path_("Redis Key Should Exist", exists, lambda: kit.key_should_exist("bench:key")),
    ]


def robot_times(ops: int, redis_port: int, pg_port: int, workdir: Path) -> dict[str, float]:
    suite = workdir / "overhead.robot"
    suite.write_text(SUITE.format(ops=ops, redis_port=redis_port, pg_port=pg_port))
    robot.run(str(suite), outputdir=str(workdir), loglevel="INFO", log="NONE", report="NONE", xunit=None,
              stdout=io.StringIO(), stderr=io.StringIO())
    result = ExecutionResult(str(workdir / "output.xml"))
    times: dict[str, float] = {}
    for test in result.suite.tests:
        loop = next(item for item in test.body if item.type == "FOR")
        times[test.name] = loop.elapsed_time.total_seconds() / ops * 1e6
        if test.status != "PASS":
            raise SystemExit(f"benchmark suite failed: {test.name}: {test.message}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=1000, help="calls per round and path (default 1000)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds per path (default {ROUNDS})")
    args = parser.parse_args()
    ops, rounds = args.ops, args.rounds
    logging.disable(logging.CRITICAL)  # outside Robot, keywords log through Python logging: keep it quiet
    work = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    rs = RedisServer(work / "redis", name="bench-redis")
    pg = PostgresServer(work / "pg", name="bench-pg")
    try:
        rs.start()
        pg.start()
        kit_redis = RedisKit()
        kit_redis.connect_to_redis_server("127.0.0.1", rs.port, timeout="5s")
        kit_db = DatabaseKit()
        kit_db.connect_to_postgresql("127.0.0.1", pg.port, "postgres", dbname="postgres")
        paths = database_paths(kit_db) + redis_paths(kit_redis)
        for path in paths:  # warm up: prepared statements, caches
            for _ in range(20):
                path.raw()
                path.kit()
        figures = [compared(path, ops, rounds) for path in paths]
        kit_redis.close_all_redis_connections()
        kit_db.close_all_database_connections()
        in_robot = robot_times(ops, rs.port, pg.port, work)
    finally:
        rs.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"{ops} calls per round, {rounds} rounds, raw and keyword alternating call by call; "
          f"median call, median of the rounds (microseconds per call)")
    print(f"{'path':<36}{'raw client':>12}{'keyword':>10}{'ratio':>8}")
    for f in figures:
        print(f"{f.name:<36}{f.raw_us:>12.1f}{f.kit_us:>10.1f}{f.ratio:>8.2f}{'' if f.ratio <= AIM else '  over'}")
    baseline = in_robot["Baseline Loop"]
    print(f"\nThrough Robot Framework (FOR loop in a suite; an empty-keyword loop costs {baseline:.1f} us/iteration)")
    by_name = {f.name: f for f in figures}
    for name, test, raw in (("Redis Set Value + Get Value Of Key", "Redis Set And Get", "Redis SET+GET"),
                            ("PostgreSQL Get Query Rows (log=False)", "Postgres Single Row Select",
                             "one row, dicts")):
        raw_us = by_name[raw].raw_us
        print(f"{name:<38}{raw_us:>10.1f}{in_robot[test]:>10.1f}{in_robot[test] / raw_us:>8.2f}")
    worst = max(figures, key=lambda f: f.ratio)
    over = [f.name for f in figures if f.ratio > AIM]
    print(f"\nmedian keyword/raw ratio (Python calls): {statistics.median(f.ratio for f in figures):.2f}; "
          f"worst {worst.ratio:.2f} ({worst.name}); the aim: every one at most {AIM:.2f}"
          + (f"; over it: {', '.join(over)}" if over else ""))


if __name__ == "__main__":
    main()
