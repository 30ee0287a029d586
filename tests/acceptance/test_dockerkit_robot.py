"""DockerKit from Robot Framework: the smoke suite passes and its cleanup listener leaves nothing behind,
on Podman's service and on a Docker engine (see ``each_engine`` in tests/conftest.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import robot
from robot.api import ExecutionResult

from environments.local import images

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def engine(each_engine):
    return each_engine


def test_robot_suite_passes_and_the_listener_cleans_up(engine, tmp_path):
    client = engine.client()
    busybox = images.ensure_busybox_image(client)
    outsider = client.containers.run(busybox, ["sleep", "60"], detach=True, labels={"owner": "not-a-test"})
    run = f"run={uuid.uuid4().hex[:8]}"
    try:
        rc = robot.run(
            str(Path(__file__).with_name("dockerkit_smoke.robot")), outputdir=str(tmp_path),
            variable=[f"ENGINE_URL:{engine.url}", f"BUSYBOX:{busybox}", f"OUTSIDER:{outsider.name}",
                      f"RUN:{run.split('=')[1]}"],
            console="none", stdout=None,
        )
        result = ExecutionResult(str(tmp_path / "output.xml"))
        failed = [f"{t.name}: {t.message}" for t in result.suite.all_tests if t.status != "PASS"]
        assert rc == 0, failed
        assert result.statistics.total.passed == 7
        outsider.reload()
        assert outsider.status == "running", "the refused kill must not have touched it"
        assert client.containers.list(all=True, filters={"label": run}) == [], "containers left behind"
        assert client.volumes.list(filters={"label": run}) == [], "volumes left behind"
        assert client.networks.list(filters={"label": run}) == [], "networks left behind"
    finally:
        outsider.remove(force=True)
        client.close()
