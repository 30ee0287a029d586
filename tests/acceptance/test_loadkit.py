"""LoadKit against real servers: figures for a known 20 ms server, errors, pacing, steps,
failure point, resource sampling of a real process and a real PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from LoadKit.sampling import ContainerGroup, PostgresConnections, ProcessGroup, ResourceSampler

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_environmentkit import SERVERS, run_suite  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def delay_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVERS), "http", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "the test server did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def test_robot_suite(delay_server, tmp_path):
    url, pid = delay_server
    rc, output = run_suite("loadkit.robot", tmp_path, BASE_URL=url, SERVER_PID=str(pid))
    assert rc == 0, f"{rc} Robot test(s) failed; see {tmp_path}/log.html"
    assert 'pass="8" fail="0"' in output
    assert "test-token" not in output
    assert not list(tmp_path.glob("*.png")), "pictures belong under plots/, not at the output folder's root"
    plots = sorted(p.name for p in (tmp_path / "plots").glob("*.png"))
    assert any("load-fixed-delay-latency" in p for p in plots), plots
    assert any(p.endswith("-steps.png") for p in plots), plots
    assert any("resources-" in p for p in plots), plots
    assert not [p for p in plots if p.removesuffix(".png").rsplit("-", 1)[-1].isdigit()], plots
    log = (tmp_path / "log.html").read_text()
    assert "data:image/png;base64," in log


def test_postgres_connections_are_counted(postgres_server):
    group = PostgresConnections("postgres", postgres_server.dsn)
    sampler = ResourceSampler("pg", [group], interval=0.05, max_duration=30).start()
    held = []
    try:
        time.sleep(0.3)
        held = [psycopg.connect(postgres_server.dsn, connect_timeout=5) for _ in range(4)]
        deadline = time.monotonic() + 5
        while not any(v >= group.count.points[0][1] + 4 for _, v in group.count.points):
            assert time.monotonic() < deadline, f"never saw 4 connections: {group.count.points[-3:]}"
            time.sleep(0.05)
    finally:
        for conn in held:
            conn.close()
        result = sampler.stop()
    figures = result["targets"]["postgres"]
    baseline = group.count.points[0][1]  # other tests may hold connections to the shared server
    assert figures["max_connections"] >= baseline + 4
    assert result["errors"] == []


def test_process_pattern_finds_processes_started_later(delay_server):
    _, pid = delay_server
    group = ProcessGroup("servers", pattern=r"test_environmentkit_servers\.py http")
    group.sample(0.0)
    assert pid in group._known


@pytest.mark.engine
def test_container_cpu_and_memory_are_sampled(engine):
    import uuid

    from environments.local.images import ensure_busybox_image

    client = engine.client()
    label = f"streamspace.kit/test=loadkit-{uuid.uuid4().hex[:8]}"
    container = client.containers.run(ensure_busybox_image(client), ["sh", "-c", "while :; do :; done"],
                                      detach=True, labels=dict([label.split("=", 1)]), nano_cpus=500_000_000)
    try:
        group = ContainerGroup("containers", [], engine.url, label)
        sampler = ResourceSampler("c", [group], interval=0.3, max_duration=30).start()
        deadline = time.monotonic() + 15
        while not any(v > 0 for _, v in group.cpu.points):
            assert time.monotonic() < deadline, f"no CPU seen: {group.cpu.points} {sampler.errors}"
            time.sleep(0.1)
        result = sampler.stop()
    finally:
        container.remove(force=True)
        client.close()
    figures = result["targets"]["containers"]
    # a busy loop capped at half a core: some CPU, never more than the cap (how much depends on the machine's load)
    assert 0 < figures["max_cpu_percent"] < 80
    assert figures["max_memory_mb"] > 0
