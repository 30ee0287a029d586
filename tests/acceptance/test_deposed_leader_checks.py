"""Resource checks against broken inputs: the deposed-leader checks of suite 02 (resources/kubernetes_agents.resource)
pass on good Control Plane records and fail, naming the broken promise, on each broken one
(deposed_leader_checks.robot); the clean-refusal check of resources/ha.resource likewise (refusal_checks.robot)."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import psycopg
import robot
from robot.api import ExecutionResult

SUITE = Path(__file__).resolve().parent / "deposed_leader_checks.robot"
REFUSALS = Path(__file__).resolve().parent / "refusal_checks.robot"
TABLES = """
CREATE TABLE sessions (id TEXT PRIMARY KEY, state TEXT NOT NULL);
CREATE TABLE agent_commands (id BIGSERIAL PRIMARY KEY, command_id TEXT NOT NULL UNIQUE, session_id TEXT,
    action TEXT NOT NULL, status TEXT NOT NULL, error_message TEXT, sent_at TIMESTAMPTZ);
"""


def test_the_deposed_leader_checks_catch_each_broken_record(postgres_server, tmp_path):
    name = f"kit_deposed_{secrets.token_hex(3)}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        dsn = postgres_server.dsn.replace("dbname=postgres", f"dbname={name}")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(TABLES)
        console = io.StringIO()
        rc = robot.run(str(SUITE), outputdir=str(tmp_path), variable=[f"DSN:{dsn}", "SESSION_COMMAND_BUDGET:1s"],
                       stdout=console, stderr=console, report="NONE", log="log.html")
        stats = ExecutionResult(str(tmp_path / "output.xml")).statistics.total
        assert (rc, stats.failed, stats.passed) == (0, 0, 8), console.getvalue()
    finally:
        with psycopg.connect(postgres_server.dsn, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_the_clean_refusal_check_catches_a_refusal_that_does_not_say_why(tmp_path):
    console = io.StringIO()
    rc = robot.run(str(REFUSALS), outputdir=str(tmp_path), stdout=console, stderr=console, report="NONE")
    stats = ExecutionResult(str(tmp_path / "output.xml")).statistics.total
    assert (rc, stats.failed, stats.passed) == (0, 0, 3), console.getvalue()
