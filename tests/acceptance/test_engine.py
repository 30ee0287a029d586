"""The container engine backend and the kit's locally built images, against the real engine."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import docker
import psutil
import pytest

from environments.local import dockerd, images, procs
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
    if engine.owned and engine.kind == "podman":
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
    if not engine.owned or engine.kind != "podman":
        pytest.skip("a Docker engine is in use: the kit starts no podman service")
    started = time.monotonic()
    second = Engine(tmp_path / "second", docker_host=None, docker_socket=tmp_path / "no-docker.sock",
                    choice="auto").start()
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
    borrowed = Engine(tmp_path / "borrow", docker_host=engine.url, run_label=run, choice="auto").start()
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
    borrowed = Engine(tmp_path / "borrow", docker_host=engine.url, choice="auto").start()
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
               docker_socket=tmp_path / "docker.sock", choice="auto").start()
    assert time.monotonic() - started < 5
    text = str(caught.value)
    assert "No container engine" in text and "podman" in text and "./kit setup" in text
    assert "DOCKER_HOST=unix:///nonexistent/docker.sock does not answer" in text


# -- the engine choice ---------------------------------------------------------------------------------
def test_unknown_engine_choice_names_the_valid_ones(tmp_path, monkeypatch):
    with pytest.raises(BackendError, match="choose one of auto, docker, podman"):
        Engine(tmp_path, choice="dokcer")
    monkeypatch.setenv("KIT_ENGINE", "lxc")
    with pytest.raises(BackendError, match="KIT_ENGINE is 'lxc'"):
        Engine(tmp_path)
    monkeypatch.setenv("KIT_ENGINE", " Docker ")
    assert Engine(tmp_path).choice == "docker"
    monkeypatch.delenv("KIT_ENGINE")
    assert Engine(tmp_path).choice == "auto"


def test_podman_choice_ignores_an_engine_that_answers(engine, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(Engine, "_start_podman", lambda self, timeout, why: started.append(why) or self)
    Engine(tmp_path, docker_host=engine.url, choice="podman").start()
    assert started == ["the podman engine was chosen"]


def test_docker_choice_does_not_take_podmans_service_for_docker(engine, tmp_path, monkeypatch):
    if engine.kind != "podman":
        pytest.skip("the session's engine is a Docker engine")
    private = []
    monkeypatch.setattr(Engine, "_start_private_docker", lambda self, timeout, tried: private.append(tried) or self)
    Engine(tmp_path, docker_host=engine.url, docker_socket=tmp_path / "none.sock", choice="docker").start()
    assert private == [f"DOCKER_HOST={engine.url} is Podman's service, not Docker; {tmp_path / 'none.sock'} is absent"]
    assert Engine(tmp_path, docker_host=engine.url, choice="auto").start().url == engine.url


def test_engine_choice_reaches_the_stack_supervisor(monkeypatch, capsys):
    from EnvironmentKit.drivers import LocalDriver
    from environments.local.__main__ import parse_args

    assert parse_args(["--engine", "docker"]).engine == "docker"
    monkeypatch.setenv("KIT_ENGINE", "podman")
    assert parse_args([]).engine == "podman"
    with pytest.raises(SystemExit):
        parse_args(["--engine", "lxc"])
    assert "invalid choice: 'lxc'" in capsys.readouterr().err
    argv = LocalDriver(engine="docker").argv(Path("ready.json"))
    assert argv[argv.index("--engine") + 1] == "docker"
    assert "--engine" not in LocalDriver().argv(Path("ready.json"))


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


def test_what_a_stopped_podman_service_left_is_removed_through_its_storage(engine, client, label, monkeypatch):
    """The watcher's clean-up after a killed run asks Podman's storage for what the run's label marks: a
    create that the service finished after the watcher's listing is found there (seen once in CI)."""
    from environments.local import leaks, netrules
    from environments.local import reaper as local_reaper

    if engine.kind != "podman":
        pytest.skip("Podman's storage: this session's engine is Docker (KIT_ENGINE)")
    busybox = images.ensure_busybox_image(client)
    env = {**os.environ, **engine.env()}
    created = subprocess.run(["podman", "create", "--label", label, busybox, "sleep", "60"], env=env, check=True,
                             capture_output=True, text=True, timeout=60).stdout.strip()
    volume = f"kit-late-{uuid.uuid4().hex[:6]}"
    subprocess.run(["podman", "volume", "create", "--label", label, volume], env=env, check=True,
                   capture_output=True, timeout=60)
    other = client.volumes.create(f"kit-other-{uuid.uuid4().hex[:6]}", labels={"streamspace.kit/run": "other"})
    monkeypatch.setattr(netrules, "remove_stale", lambda: ([], []))  # the machine's, not this test's
    monkeypatch.setattr(leaks, "remove_stale_x_displays", lambda: [])
    try:
        gone, errors = local_reaper.after_clean([{"kind": "labelled", "url": engine.url, "label": label,
                                                  "podman": True, "module": local_reaper.MODULE}])
        assert errors == []
        assert f"container:{created}" in gone and f"volume:{volume}" in gone, gone
        assert client.containers.list(all=True, filters={"label": label}) == []
        assert client.volumes.list(filters={"label": label}) == []
        assert client.volumes.get(other.name), "a volume without the label must be left alone"
        assert local_reaper.after_clean([{"kind": "labelled", "url": engine.url, "label": label,
                                          "module": local_reaper.MODULE}]) == ([], []), "a Docker engine's: not asked"
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
    # detached, then a wait with a timeout: an attached run's log stream has no timeout (the SDK lifts it),
    # and Podman once never ended it for a container that had exited (the run hung for minutes)
    container = client.containers.run(tag, ["sh", "-c", "echo $((6*7)); dd if=/dev/zero of=/dev/null bs=1M count=1"],
                                      labels=_labels(label), detach=True)
    assert container.wait(timeout=60)["StatusCode"] == 0
    assert b"42" in container.logs()


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


def test_the_build_lock_is_the_machines_not_the_temp_folders(tmp_path, monkeypatch):
    """Runs with temp folders of their own share it, and it is not left in anyone's temp folder."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    tempfile.tempdir = None  # the module caches the folder
    try:
        assert images.lock_file() == procs.cache_root() / "images.lock"
        assert not images.lock_file().is_relative_to(tmp_path)
    finally:
        tempfile.tempdir = None


@contextlib.contextmanager
def _stop_after(delay: float):
    """A descriptor that becomes readable after ``delay`` seconds: a stop asked while a step runs."""
    read, write = os.pipe()
    timer = threading.Timer(delay, os.write, (write, b"x"))
    timer.start()
    try:
        yield read
    finally:
        timer.cancel()
        os.close(read)
        os.close(write)


@contextlib.contextmanager
def _lock_held(lock: Path, seconds: float):
    """Another process holding the build lock ``lock`` for ``seconds``."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from environments.local import images\n"
         f"with images.build_lock(path=Path({str(lock)!r})):\n    print('held', flush=True); time.sleep({seconds})"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.kill()
        holder.wait(5)


def test_a_stop_ends_a_wait_for_the_build_lock_and_a_build_step_at_once(tmp_path):
    lock = tmp_path / "images.lock"
    with _lock_held(lock, 30):
        started = time.monotonic()
        with _stop_after(0.3) as abort, pytest.raises(BackendError, match="a stop was asked while waiting"), \
                images.build_lock(path=lock, timeout=60, abort=abort):
            pass
        assert time.monotonic() - started < 2
    started = time.monotonic()
    pid_file = tmp_path / "step.pid"  # this step's own process (other tests' containers also run 'sleep 30')
    with _stop_after(0.3) as abort, \
            pytest.raises(BackendError, match="mmdebstrap was stopped: a stop was asked while it ran"):
        images._run_in_group(["sh", "-c", f"echo $$ > {pid_file}; exec sleep 30"], 60, tmp_path, "mmdebstrap", abort)
    assert time.monotonic() - started < 2
    assert not psutil.pid_exists(int(pid_file.read_text())), "the stopped step's process group must be gone"
    started = time.monotonic()
    with _stop_after(0.3) as abort, pytest.raises(BackendError, match="Building image x was stopped"):
        images._abortable(lambda: time.sleep(5), abort, "Building image x")
    assert time.monotonic() - started < 2
    with _stop_after(30) as abort:
        assert images._abortable(lambda: 42, abort, "a call") == 42


def test_concurrent_builds_wait_for_the_lock(tmp_path):
    """Another process holding the build lock makes a second builder wait (or time out)."""
    lock = tmp_path / "images.lock"
    with _lock_held(lock, 1.5):
        with pytest.raises(BackendError, match="still held"), images.build_lock(path=lock, timeout=0.3):
            pass
        started = time.monotonic()
        with images.build_lock(path=lock, timeout=10):
            waited = time.monotonic() - started
        assert 0.5 < waited < 5


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


# -- the kit's private Docker engine -----------------------------------------------------------------
needs_dockerd = pytest.mark.skipif(dockerd.dockerd_binary() is None or os.geteuid() != 0,
                                   reason="the private Docker engine needs root and dockerd (Debian's docker.io)")


def _private(workdir: Path, home: Path) -> Engine:
    return Engine(workdir, docker_host=None, docker_socket=workdir / "no-docker.sock", choice="docker",
                  docker_home=home)


def _machine_traces() -> dict[str, object]:
    """What a Docker engine could leave on the machine outside its own folders."""
    rules = subprocess.run(["iptables-save"], capture_output=True, text=True, check=False).stdout
    return {"docker.sock": Path("/var/run/docker.sock").exists(), "key.json": Path("/etc/docker/key.json").exists(),
            "run/docker": Path("/run/docker").exists(), "run/containerd": Path("/run/containerd").exists(),
            "docker rules": sorted(line for line in rules.splitlines() if "docker" in line.lower()
                                   or dockerd.BRIDGE_PREFIX in line)}


def test_no_dockerd_names_the_package_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(dockerd, "dockerd_binary", lambda: None)
    with pytest.raises(BackendError) as caught:
        _private(tmp_path, tmp_path / "home").start()
    text = str(caught.value)
    assert "dockerd, for the kit's private Docker engine, is not installed" in text and "docker.io" in text
    assert f"{tmp_path / 'no-docker.sock'} is absent" in text and "./kit setup" in text


@needs_dockerd
@pytest.mark.machine  # compares the machine's Docker traces (iptables rules...) before and after
def test_private_docker_engine_is_shared_and_the_last_run_stops_it_clean(tmp_path):
    home = tmp_path / "home"
    before = _machine_traces()
    first = _private(tmp_path / "a", home).start()
    print(f"private dockerd cold start: {first.private.start_seconds:.2f} s")
    second = _private(tmp_path / "b", home).start()
    state = first.private.read_state()
    runtime, bridge, pid = Path(state["runtime"]), state["bridge"], state["pid"]
    try:
        assert first.kind == second.kind == "docker" and first.owned
        assert second.url == first.url and first.private.started_here and not second.private.started_here
        assert runtime.name.startswith("kit-dockerd-") and dockerd.link_exists(bridge)
        assert first.private.data_root == home / "data"
        client = first.client()
        busybox = images.ensure_busybox_image(client)
        network = client.networks.create(f"kit-net-{uuid.uuid4().hex[:6]}")  # no label: the last stop removes it
        client.containers.run(busybox, ["sleep", "60"], detach=True, network=network.name,
                              ports={"80/tcp": ("127.0.0.1", None)})
        client.close()
        first.stop()
        first.stop()  # twice: still nothing of the engine another run uses is touched
        assert second.answers(), "one run's stop must not stop the engine another run uses"
        started = time.monotonic()
        second.stop()
        print(f"private dockerd stop (emptied, one container): {time.monotonic() - started:.2f} s")
    finally:
        first.stop()
        second.stop()
    assert not ping(first.url)
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert dockerd.processes_of(runtime) == [], "dockerd, containerd or a shim is left"
    assert not runtime.exists() and not (home / "state.json").exists()
    assert dockerd.mounts_under(runtime, home / "data") == []
    assert not dockerd.link_exists(bridge) and not dockerd.link_exists(f"br-{network.id[:12]}")
    assert _machine_traces() == before, "the engine changed the machine outside its folders"
    third = _private(tmp_path / "c", home).start()  # the data root is kept: the image is not built again
    try:
        with contextlib.closing(third.client()) as client:
            assert images.image_exists(client, busybox)
            assert client.containers.list(all=True) == [] and client.volumes.list() == []
    finally:
        third.stop()


@needs_dockerd
def test_a_killed_runs_engine_is_joined_and_stopped_by_the_next_run(tmp_path):
    home = tmp_path / "home"
    # killed together with its watcher (kitcore.reaper), which would otherwise stop the engine
    killed = subprocess.run(
        [sys.executable, "-c", "import os; from pathlib import Path; from environments.local import reaper; "
         "reaper.guard = lambda kind, **fields: 0; from environments.local.dockerd import "
         f"PrivateDocker\np = PrivateDocker(Path({str(home)!r})).acquire()\nprint(p.pid, flush=True); os._exit(9)"],
        capture_output=True, text=True, timeout=60, check=False)
    pid = int(killed.stdout.split()[0])
    assert psutil.pid_exists(pid), "the killed run's engine should still run"
    nxt = dockerd.PrivateDocker(home).acquire()
    assert nxt.pid == pid and not nxt.started_here, "the next run joins the engine that runs"
    assert [u for u in nxt.live_users() if not u.startswith(f"{os.getpid()}-")] == [], "the stale lease is gone"
    nxt.release()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert nxt.read_state() is None and not dockerd.link_exists(dockerd.bridge_name(home))
    assert dockerd.mounts_under(home) == []


@needs_dockerd
def test_dockerd_that_cannot_start_names_the_cause_with_its_log(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "data").write_text("not a folder")  # dockerd cannot make its data root
    others = set(Path("/tmp").glob("kit-dockerd-*"))  # engines of other runs (other test processes)
    started = time.monotonic()
    with pytest.raises(BackendError) as caught:
        _private(tmp_path, home).start()
    assert time.monotonic() - started < 20
    text = str(caught.value)
    assert "private Docker engine did not start" in text and "dockerd.log" in text and "Fix:" in text
    assert not (home / "state.json").exists() and not dockerd.link_exists(dockerd.bridge_name(home))
    assert not any(dockerd.processes_of(p) for p in set(Path("/tmp").glob("kit-dockerd-*")) - others)
