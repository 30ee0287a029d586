"""RedisKit through Robot Framework: the suite passes, the password stays out of the logs, cleanup works."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import redis
import robot
from robot.api import ExecutionResult

from environments.local.redis_server import RedisServer

SUITE = Path(__file__).resolve().parent / "rediskit_smoke.robot"
PASSWORD = "rk-Secret-7f3a9c"


@pytest.fixture(scope="session")
def protected_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("rediskit-robot"), name="rediskit-robot-redis")
    try:
        server.start()
        admin = redis.Redis(server.host, port=server.port, socket_timeout=5)
        admin.config_set("requirepass", PASSWORD)
        admin.close()
        yield server
    finally:
        server.stop()


def test_robot_suite_passes_masks_the_password_and_cleans_up(protected_redis, tmp_path, monkeypatch):
    monkeypatch.setenv("REDISKIT_PASSWORD", PASSWORD)
    console = io.StringIO()
    rc = robot.run(str(SUITE), outputdir=str(tmp_path), loglevel="TRACE",
                   variable=[f"REDIS_PORT:{protected_redis.port}"], stdout=console, stderr=console,
                   report="NONE", xunit=None)
    result = ExecutionResult(str(tmp_path / "output.xml"))
    stats = result.statistics.total
    assert (rc, stats.failed) == (0, 0), console.getvalue()
    assert stats.passed == 5
    for name in ("output.xml", "log.html"):
        assert PASSWORD not in (tmp_path / name).read_text(encoding="utf-8"), f"the password leaked into {name}"
    check = redis.Redis(protected_redis.host, port=protected_redis.port, password=PASSWORD, socket_timeout=5,
                        decode_responses=True)
    try:
        assert check.exists("robot:tracked-key") == 0
        assert check.pubsub_numpat() == 0  # the subscription was closed
    finally:
        check.close()
