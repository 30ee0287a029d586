"""Overhead of RedisKit and DatabaseKit keywords over their raw clients.

Starts a throwaway Redis and PostgreSQL on free ports, then times N operations (default 1,000):
Redis SET+GET and a PostgreSQL single-row SELECT, with the raw client, with the keyword methods
called from Python, and with the keywords run by Robot Framework (a FOR loop in a generated suite).
Prints per-operation times and overhead ratios. Run:

    .venv/bin/python benchmarks/keyword_overhead.py [--ops 1000]
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
from pathlib import Path

import psycopg
import redis
import robot
from redis.backoff import NoBackoff
from redis.retry import Retry
from robot.api import ExecutionResult

from DatabaseKit import DatabaseKit
from environments.local.postgres_server import PostgresServer
from environments.local.redis_server import RedisServer
from RedisKit import RedisKit

ROUNDS = 7

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


def timed(ops: int, action: Callable[[], object]) -> float:
    """One run of ``ops`` calls, in microseconds per call."""
    start = time.perf_counter()
    for _ in range(ops):
        action()
    return (time.perf_counter() - start) / ops * 1e6


def compared(ops: int, raw: Callable[[], object], kit: Callable[[], object],
             rounds: int = ROUNDS) -> tuple[float, float]:
    """The best of ``rounds`` runs of each, the raw client and the keyword taking turns, so that what
    else the machine does in a moment weighs on both alike (microseconds per call)."""
    raw_us, kit_us = [], []
    for _ in range(rounds):
        raw_us.append(timed(ops, raw))
        kit_us.append(timed(ops, kit))
    return min(raw_us), min(kit_us)


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
    parser.add_argument("--ops", type=int, default=1000)
    args = parser.parse_args()
    ops = args.ops
    logging.disable(logging.CRITICAL)  # keywords log through Python logging outside Robot: keep it quiet
    work = Path(tempfile.mkdtemp(prefix="kit-bench-"))
    rs = RedisServer(work / "redis", name="bench-redis")
    pg = PostgresServer(work / "pg", name="bench-pg")
    try:
        rs.start()
        pg.start()
        raw_redis = redis.Redis(port=rs.port, decode_responses=True, socket_timeout=5, retry=Retry(NoBackoff(), 0))
        kit_redis = RedisKit()
        kit_redis.connect_to_redis_server("127.0.0.1", rs.port, timeout="5s")
        raw_pg = psycopg.connect(pg.dsn, autocommit=True)
        kit_db = DatabaseKit()
        kit_db.connect_to_postgresql("127.0.0.1", pg.port, "postgres", dbname="postgres")

        def raw_set_get() -> None:
            raw_redis.set("bench:raw", "value")
            raw_redis.get("bench:raw")

        def kit_set_get() -> None:
            kit_redis.set_value("bench:kit", "value")
            kit_redis.get_value_of_key("bench:kit")

        def raw_select() -> None:
            raw_pg.execute("SELECT 1 AS one").fetchall()

        rows: list[tuple[str, float, float]] = [
            ("Redis SET+GET", *compared(ops, raw_set_get, kit_set_get)),
            ("PostgreSQL SELECT 1 row (logged table)",
             *compared(ops, raw_select, lambda: kit_db.get_query_rows("SELECT 1 AS one"))),
            ("PostgreSQL SELECT 1 row (log=False)",
             *compared(ops, raw_select, lambda: kit_db.get_query_rows("SELECT 1 AS one", log=False))),
        ]
        kit_redis.close_all_redis_connections()
        kit_db.close_all_database_connections()
        raw_redis.close()
        raw_pg.close()
        in_robot = robot_times(ops, rs.port, pg.port, work)
    finally:
        rs.stop()
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)

    print(f"{ops} operations each (best of {ROUNDS} turns, raw and keyword alternating; microseconds per operation)")
    print(f"{'operation':<40}{'raw client':>12}{'keyword':>12}{'ratio':>8}")
    for name, raw_us, kit_us in rows:
        print(f"{name:<40}{raw_us:>12.1f}{kit_us:>12.1f}{kit_us / raw_us:>8.2f}")
    baseline = in_robot["Baseline Loop"]
    print(f"\nThrough Robot Framework (FOR loop in a suite; an empty-keyword loop costs {baseline:.1f} us/iteration)")
    redis_raw, pg_raw = rows[0][1], rows[2][1]
    print(f"{'Redis Set Value + Get Value Of Key':<40}{redis_raw:>12.1f}{in_robot['Redis Set And Get']:>12.1f}"
          f"{in_robot['Redis Set And Get'] / redis_raw:>8.2f}")
    print(f"{'PostgreSQL Get Query Rows (log=False)':<40}{pg_raw:>12.1f}{in_robot['Postgres Single Row Select']:>12.1f}"
          f"{in_robot['Postgres Single Row Select'] / pg_raw:>8.2f}")
    print(f"\nmedian keyword/raw ratio (Python calls): {statistics.median(r[2] / r[1] for r in rows):.2f}; "
          f"worst {max(r[2] / r[1] for r in rows):.2f} (the aim: every one at most 1.10)")


if __name__ == "__main__":
    main()
