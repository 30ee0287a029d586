"""DatabaseKit through Robot Framework: the suite passes, the password stays out of the logs, cleanup works."""

from __future__ import annotations

import io
from pathlib import Path

import psycopg
import pytest
import robot
from robot.api import ExecutionResult

from environments.local.postgres_server import PostgresServer

SUITE = Path(__file__).resolve().parent / "databasekit_smoke.robot"
PASSWORD = "dk-Secret-41be07"


@pytest.fixture(scope="session")
def protected_postgres(tmp_path_factory):
    server = PostgresServer(tmp_path_factory.mktemp("databasekit-robot"), name="databasekit-robot-pg")
    try:
        server.start()
        hba = Path(server.datadir) / "pg_hba.conf"
        hba.write_text("host all kit_robot 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        with psycopg.connect(server.dsn, autocommit=True) as conn:
            conn.execute(f"CREATE ROLE kit_robot LOGIN CREATEDB PASSWORD '{PASSWORD}'")
            conn.execute("SELECT pg_reload_conf()")
        yield server
    finally:
        server.stop()


def test_robot_suite_passes_masks_the_password_and_cleans_up(protected_postgres, rollback_migrations, tmp_path,
                                                             monkeypatch):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(f"host=127.0.0.1 port={protected_postgres.port} user=kit_robot dbname=postgres "
                        "password=wrong connect_timeout=5").close()
    monkeypatch.setenv("DATABASEKIT_PASSWORD", PASSWORD)
    console = io.StringIO()
    rc = robot.run(str(SUITE), outputdir=str(tmp_path), loglevel="TRACE",
                   variable=[f"PG_PORT:{protected_postgres.port}", f"MIGRATIONS:{rollback_migrations}"],
                   stdout=console, stderr=console,
                   report="NONE", xunit=None)
    result = ExecutionResult(str(tmp_path / "output.xml"))
    stats = result.statistics.total
    assert (rc, stats.failed) == (0, 0), console.getvalue()
    assert stats.passed == 4
    for name in ("output.xml", "log.html"):
        assert PASSWORD not in (tmp_path / name).read_text(encoding="utf-8"), f"the password leaked into {name}"
    with psycopg.connect(protected_postgres.dsn, autocommit=True) as conn:
        left = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'kit%'").fetchall()
    assert left == []
