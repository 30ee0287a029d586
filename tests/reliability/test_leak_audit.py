"""The leak audit is not a no-op: what a run leaves behind, it reports; once removed, it is gone.

Each test plants one leftover of a kind the audit looks for -- a ``/tmp/kit-*`` directory, a
process carrying the kit's owner mark, a container / volume / network carrying the kit's label
-- checks that ``environments.local.leaks`` reports exactly it (by its own name or pid), removes
it, and checks that the report no longer has it. Other runs on the machine may leave their own
things meanwhile, so the checks look for the planted item, never for an empty report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from environments.local import leaks
from environments.local.procs import OWNER_MARK


def _cli() -> tuple[int, str]:
    result = subprocess.run([sys.executable, "-m", "environments.local.leaks"], capture_output=True, text=True,
                            timeout=60, check=False)
    return result.returncode, result.stdout


def test_a_kit_temp_dir_is_reported_then_gone() -> None:
    path = Path(tempfile.mkdtemp(prefix="kit-reliability-", dir="/tmp"))
    try:
        assert f"temp dir {path}" in leaks.leftover_temp_dirs()
        code, out = _cli()
        assert code == 1 and str(path) in out, out  # the command line says it and exits 1
    finally:
        shutil.rmtree(path, ignore_errors=True)
    assert f"temp dir {path}" not in leaks.leftover_temp_dirs()


def test_a_marked_process_is_reported_then_gone() -> None:
    proc = subprocess.Popen(["sleep", "60"], env={**os.environ, OWNER_MARK: "reliability-audit"},
                            start_new_session=True)
    try:
        assert any(item.startswith(f"process {proc.pid}:") for item in leaks.leftover_processes())
    finally:
        proc.kill()
        proc.wait(5)
    assert not any(item.startswith(f"process {proc.pid}:") for item in leaks.leftover_processes())


def test_a_redis_server_that_rewrote_its_command_line_is_still_found(tmp_path: Path) -> None:
    """redis-server overwrites its argv and environment with its title; the kit's title marker survives."""
    from environments.local.redis_server import RedisServer

    server = RedisServer(tmp_path).start()
    try:
        assert any(str(server.process.pid) in item for item in leaks.leftover_processes())
    finally:
        server.stop()
    assert not any(f"process {server.process.pid}:" in item for item in leaks.leftover_processes())


def test_an_unmarked_process_is_not_reported() -> None:
    """The audit names what the kit started, not every process on the machine."""
    env = {k: v for k, v in os.environ.items() if k != OWNER_MARK}
    proc = subprocess.Popen(["sleep", "60"], env=env, start_new_session=True)
    try:
        assert not any(item.startswith(f"process {proc.pid}:") for item in leaks.leftover_processes())
    finally:
        proc.kill()
        proc.wait(5)


@pytest.fixture(scope="module")
def client(engine: object) -> Iterator[object]:
    with contextlib.closing(engine.client(timeout=60)) as docker_client:  # type: ignore[attr-defined]
        yield docker_client


@pytest.mark.engine
def test_labelled_engine_objects_are_reported_then_gone(client: object) -> None:
    from environments.local.images import ensure_busybox_image

    tag = uuid.uuid4().hex[:8]
    labels = {"streamspace.kit/test": f"reliability-{tag}"}
    image = ensure_busybox_image(client)
    volume = client.volumes.create(name=f"kit-audit-vol-{tag}", labels=labels)
    network = client.networks.create(f"kit-audit-net-{tag}", labels=labels, internal=True)
    container = client.containers.create(image, ["sleep", "60"], name=f"kit-audit-ctr-{tag}", labels=labels)
    try:
        found = leaks.leftover_engine_objects()
        assert any(item.startswith(f"container kit-audit-ctr-{tag} ") for item in found), found
        assert f"volume kit-audit-vol-{tag}" in found, found
        assert f"network kit-audit-net-{tag}" in found, found
    finally:
        container.remove(force=True)
        volume.remove(force=True)
        network.remove()
    left = [item for item in leaks.leftover_engine_objects() if tag in item]
    assert left == []
