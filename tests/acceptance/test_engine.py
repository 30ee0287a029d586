"""The container engine backend and the kit's locally built images, against the real engine."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import docker
import psutil
import pytest

from environments.local import images
from environments.local.engine import Engine, cleanup_by_label, containers_conf_text, ping
from environments.local.procs import BackendError

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def client(engine):
    cli = engine.client(timeout=60)
    yield cli
    cli.close()


@pytest.fixture
def label(client):
    """A label unique to the test; whatever carries it is removed afterwards."""
    value = f"streamspace.kit/run=test-{uuid.uuid4().hex[:8]}"
    yield value
    cleanup_by_label(client, value)


def _labels(label: str) -> dict[str, str]:
    key, _, value = label.partition("=")
    return {key: value}


def _tree(pid: int) -> list[psutil.Process]:
    try:
        return [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


# -- the engine ----------------------------------------------------------------------------------
def test_engine_answers_and_reports_its_kind(engine, client):
    assert engine.answers()
    assert engine.kind in ("docker", "podman")
    assert client.ping() is True
    if engine.owned:
        assert engine.url == f"unix://{engine.workdir / 'podman.sock'}"
        conf = (engine.workdir / "containers.conf").read_text()
        assert 'runtime = "runc"' in conf and "nofile=20000:20000" in conf
        assert engine.env() == {"CONTAINERS_CONF": str(engine.workdir / "containers.conf")}
        assert float(client.version()["ApiVersion"]) >= 1.40


def test_containers_conf_is_project_local_and_complete():
    text = containers_conf_text()
    assert "default_ulimits" in text and 'runtime = "runc"' in text and "exit_command_delay" in text
    if not Path("/run/systemd/system").is_dir():
        assert 'cgroup_manager = "cgroupfs"' in text


def test_a_second_private_service_coexists_and_stops_without_leaving_children(engine, tmp_path):
    if not engine.owned:
        pytest.skip("a Docker engine is in use: the kit starts no podman service")
    started = time.monotonic()
    second = Engine(tmp_path / "second", docker_host=None, docker_socket=tmp_path / "no-docker.sock").start()
    cold = time.monotonic() - started
    try:
        assert second.owned and second.kind == "podman"
        assert second.url != engine.url
        assert ping(second.url) and ping(engine.url)
        pid = second.process.pid
        assert _tree(pid)
    finally:
        second.stop()
    print(f"podman service cold start: {cold:.2f} s")
    assert cold < 10
    assert not ping(second.url)
    assert not _tree(pid), "the podman service left processes behind"
    assert not any(p.info["pid"] != pid and p.info["ppid"] == pid
                   for p in psutil.process_iter(["pid", "ppid"]))
    assert engine.answers(), "stopping one run's service must not touch another's"


def test_stop_removes_the_runs_objects_first(engine, tmp_path):
    run = f"streamspace.kit/run=stop-{uuid.uuid4().hex[:8]}"
    borrowed = Engine(tmp_path / "borrow", docker_host=engine.url, run_label=run).start()
    client = borrowed.client()
    try:
        busybox = images.ensure_busybox_image(client)
        container = client.containers.run(busybox, ["sleep", "60"], detach=True, labels=_labels(run))
        volume = client.volumes.create(f"kit-vol-{uuid.uuid4().hex[:6]}", labels=_labels(run))
        borrowed.stop()
        assert client.containers.list(all=True, filters={"id": container.id}) == []
        assert volume.name not in {v.name for v in client.volumes.list()}
        assert engine.answers()
    finally:
        cleanup_by_label(client, run)
        client.close()


def test_docker_host_that_answers_is_used_and_never_stopped(engine, tmp_path):
    borrowed = Engine(tmp_path / "borrow", docker_host=engine.url).start()
    assert borrowed.url == engine.url and not borrowed.owned
    assert borrowed.kind == engine.kind
    borrowed.stop()
    assert engine.answers()


def test_no_engine_fails_fast_with_cause_and_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no podman, no runc on the path
    monkeypatch.setattr("environments.local.engine.os.path.exists",
                        lambda p: False if str(p).endswith("runc") else os.path.lexists(p))
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        Engine(tmp_path, docker_host="unix:///nonexistent/docker.sock",
               docker_socket=tmp_path / "docker.sock").start()
    assert time.monotonic() - started < 5
    text = str(caught.value)
    assert "No container engine" in text and "podman" in text and "./kit setup" in text
    assert "DOCKER_HOST=unix:///nonexistent/docker.sock does not answer" in text


def test_client_before_start_names_the_fix(tmp_path):
    with pytest.raises(BackendError, match=r"Engine\.start"):
        Engine(tmp_path).client()


def test_cleanup_by_label_removes_containers_volumes_and_networks(client, label):
    busybox = images.ensure_busybox_image(client)
    network = client.networks.create(f"kit-net-{uuid.uuid4().hex[:6]}", internal=True, labels=_labels(label))
    volume = client.volumes.create(f"kit-vol-{uuid.uuid4().hex[:6]}", labels=_labels(label))
    container = client.containers.run(busybox, ["sleep", "60"], detach=True, labels=_labels(label),
                                      network=network.name, volumes={volume.name: {"bind": "/d", "mode": "rw"}})
    other = client.containers.run(busybox, ["sleep", "60"], detach=True, labels={"streamspace.kit/run": "other"})
    try:
        removed = cleanup_by_label(client, label)
        assert f"container:{container.name}" in removed
        assert f"volume:{volume.name}" in removed and f"network:{network.name}" in removed
        assert client.containers.list(all=True, filters={"label": label}) == []
        assert client.volumes.list(filters={"label": label}) == []
        assert client.networks.list(filters={"label": label}) == []
        other.reload()
        assert other.status == "running", "an object without the label must be left alone"
    finally:
        other.remove(force=True)


def test_exec_leaves_no_conmon_behind_for_long(engine, client, label):
    busybox = images.ensure_busybox_image(client)
    container = client.containers.run(busybox, ["sleep", "60"], detach=True, labels=_labels(label))
    assert container.exec_run(["true"]).exit_code == 0
    container.remove(force=True)

    def leftovers() -> list[int]:
        return [p.pid for p in psutil.process_iter(["name", "cmdline"])
                if p.info["name"] == "conmon" and container.id in " ".join(p.info["cmdline"] or [])]

    deadline = time.monotonic() + 15
    while leftovers() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert leftovers() == [], "exec sessions left conmon processes (exit_command_delay not applied?)"


# -- images ----------------------------------------------------------------------------------------
def test_busybox_image_is_built_once_and_reused(client, label):
    tag = images.ensure_busybox_image(client)
    started = time.monotonic()
    assert images.ensure_busybox_image(client) == tag
    assert time.monotonic() - started < 1.0
    image = client.images.get(tag)
    assert image.attrs["Size"] < 5_000_000
    output = client.containers.run(tag, ["sh", "-c", "echo $((6*7)); dd if=/dev/zero of=/dev/null bs=1M count=1"],
                                   labels=_labels(label), remove=False)
    assert b"42" in output


def test_image_tag_follows_the_inputs():
    assert images.input_hash("a", b"b") == images.input_hash("a", b"b")
    assert images.input_hash("a", b"b") != images.input_hash("a", b"c")
    assert images.input_hash("ab", "") != images.input_hash("a", "b")


def test_busybox_must_be_static(tmp_path):
    dynamic = tmp_path / "busybox"
    dynamic.write_bytes(Path("/bin/sh").resolve().read_bytes())
    with pytest.raises(BackendError, match="busybox-static"):
        images.busybox_binary(dynamic)
    with pytest.raises(BackendError, match="does not exist"):
        images.busybox_binary(tmp_path / "missing")


def test_concurrent_builds_wait_for_the_lock(tmp_path):
    """Another process holding the build lock makes a second builder wait (or time out)."""
    lock = tmp_path / "images.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from environments.local import images\n"
         f"with images.build_lock(path=Path({str(lock)!r})):\n    print('held', flush=True); time.sleep(1.5)"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BackendError, match="still held"), images.build_lock(path=lock, timeout=0.3):
            pass
        started = time.monotonic()
        with images.build_lock(path=lock, timeout=10):
            waited = time.monotonic() - started
        assert 0.5 < waited < 5
    finally:
        holder.kill()
        holder.wait(5)


def test_apt_mirror_is_read_from_the_sources(tmp_path):
    folder = tmp_path / "sources.list.d"
    folder.mkdir()
    (folder / "debian.sources").write_text(
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\nTypes: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n")
    assert images.apt_mirror((folder,)) == "http://mirror.example/debian"
    legacy = tmp_path / "sources.list"
    legacy.write_text("# deb http://old/ bookworm main\n"
                      "deb [arch=amd64] https://legacy.example/debian/ bookworm main\n")
    assert images.apt_mirror((legacy,)) == "https://legacy.example/debian"
    with pytest.raises(BackendError, match="no Debian mirror"):
        images.apt_mirror((tmp_path / "nothing",))
    assert images.apt_mirror().startswith(("http://", "https://", "file://"))


def _greeting(port: int, timeout: float = 30.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                data = sock.recv(12)
                if data:
                    return data
        except OSError:
            pass
        if time.monotonic() > deadline:
            return b""
        time.sleep(0.1)


@pytest.mark.slow
def test_session_image_serves_rfb_and_runs_the_display(client, label):
    started = time.monotonic()
    tag = images.ensure_session_image(client, progress=print)
    print(f"session image ready in {time.monotonic() - started:.1f} s: "
          f"{client.images.get(tag).attrs['Size'] / 1e6:.0f} MB")
    again = time.monotonic()
    assert images.ensure_session_image(client) == tag
    assert time.monotonic() - again < 1.0
    for env, security in (({}, b"\x01"), ({"VNC_PASSWORD": "s3cret", "VNC_GEOMETRY": "800x600"}, b"\x02")):
        container = client.containers.run(tag, detach=True, labels=_labels(label), environment=env,
                                          ports={"5900/tcp": ("127.0.0.1", None)})
        container.reload()
        port = int(container.ports["5900/tcp"][0]["HostPort"])
        assert _greeting(port) == b"RFB 003.008\n"
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            assert sock.recv(12) == b"RFB 003.008\n"
            sock.sendall(b"RFB 003.008\n")
            count = sock.recv(1)
            assert sock.recv(count[0]) == security
        deadline = time.monotonic() + 15
        while b"keyboard display ready" not in container.logs() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert b"keyboard display ready" in container.logs()
        assert b"s3cret" not in container.logs()
        stop_started = time.monotonic()
        container.stop(timeout=10)
        assert time.monotonic() - stop_started < 5, "SIGTERM must stop the session at once"
        container.reload()
        assert container.attrs["State"]["ExitCode"] == 0
        container.remove()


def test_unknown_image_is_never_pulled(client, label):
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get(f"streamspace-kit/not-built:{uuid.uuid4().hex[:6]}")
