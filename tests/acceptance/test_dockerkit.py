"""DockerKit against the real container engines: every keyword once and its main failure, on Podman's
service and on a Docker engine (the kit's private one) -- ``--engines`` / ``KIT_TEST_ENGINES`` chooses."""

from __future__ import annotations

import socket
import time
import uuid
from pathlib import Path

import pytest

from DockerKit import DockerKit
from DockerKit.context import KIT_LABEL
from environments.local import images
from environments.local.engine import Engine, cleanup_by_label
from kitcore import AssertionOperator, KitError, TargetRefused, WaitTimeout

pytestmark = pytest.mark.engine

EQ = AssertionOperator["=="]
CONTAINS = AssertionOperator["contains"]


@pytest.fixture(scope="module")
def engine(each_engine):
    """This module runs once per engine (see ``each_engine`` in tests/conftest.py)."""
    return each_engine


@pytest.fixture(scope="module")
def busybox(engine):
    client = engine.client()
    try:
        yield images.ensure_busybox_image(client)
    finally:
        client.close()


@pytest.fixture
def kit(engine, busybox):
    lib = DockerKit(timeout="20s")
    lib.connect_to_container_engine(engine.url, alias="local")
    try:
        yield lib
    finally:
        lib.ctx.cleanup.run_all()
        leftover = engine.client()
        try:
            assert cleanup_by_label(leftover, f"{KIT_LABEL}={lib.ctx.instance}") == [], "the listener left objects"
        finally:
            leftover.close()
        lib.close_all_container_engine_connections()


def sleeper(kit: DockerKit, busybox: str, **options) -> str:
    return kit.run_container(busybox, "sleep 300", **options)


# -- connections --------------------------------------------------------------------------------
def test_connect_switch_version_and_ping(kit, engine):
    kind = kit.connect_to_container_engine(engine.url, alias="second", timeout="5s")
    assert kind == engine.kind
    assert kit.switch_container_engine_connection("local") == engine.url
    version = kit.get_engine_version()
    assert version
    assert kit.get_engine_version(AssertionOperator[">="], "1.40", field="ApiVersion")
    kit.engine_should_answer(timeout="2s", alias="second")
    with pytest.raises(KitError, match="No container engine connection named 'nope'"):
        kit.switch_container_engine_connection("nope")


def test_connect_uses_docker_host(kit, engine, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    assert kit.connect_to_container_engine(alias="from-env") == engine.kind
    assert kit.ctx.handle().url == engine.url


def test_unreachable_engine_fails_fast_with_the_fix(tmp_path):
    lib = DockerKit()
    started = time.monotonic()
    with pytest.raises(KitError) as caught:
        lib.connect_to_container_engine(f"unix://{tmp_path}/nothing.sock", timeout="2s")
    assert time.monotonic() - started < 5
    assert "unreachable" in str(caught.value) and "Fix:" in str(caught.value)


def test_keywords_without_connection_say_connect_first():
    with pytest.raises(KitError, match="Connect To Container Engine"):
        DockerKit().get_engine_version()


def test_engine_that_stops_answering_is_reported(engine, busybox, tmp_path):
    if not engine.owned:
        pytest.skip("a Docker engine found running is in use: the kit has no engine of its own to stop")
    # a spare engine of the same kind: podman's service, or a private dockerd of a home of its own
    spare = Engine(tmp_path / "spare", docker_host=None, docker_socket=tmp_path / "none.sock", choice=engine.kind,
                   docker_home=tmp_path / "spare-docker")
    spare.start()
    lib = DockerKit()
    try:
        lib.connect_to_container_engine(spare.url, timeout="3s")
        spare.stop()
        with pytest.raises(KitError, match="unreachable"):
            lib.get_engine_version()
        with pytest.raises(AssertionError, match="retried"):
            lib.engine_should_answer(timeout="0.5s")
    finally:
        spare.stop()
        lib.close_all_container_engine_connections()


# -- containers -----------------------------------------------------------------------------------
def test_run_container_labels_state_and_lifecycle(kit, busybox):
    name = kit.run_container(busybox, "sleep 300", labels="app=streamspace, role=test", env={"GREETING": "hi"})
    assert kit.get_container_state(name) == "running"
    kit.get_container_state(name, EQ, "running", timeout="5s")
    assert name in kit.get_containers(label="role=test")
    assert name in kit.get_containers(label=KIT_LABEL)
    kit.get_containers("role=test", CONTAINS, name)
    rc, output = kit.execute_in_container(name, "sh -c 'echo $GREETING; exit 3'")
    assert (rc, output.strip()) == (3, "hi")
    with pytest.raises(AssertionError, match="exited with 3, expected 0"):
        kit.execute_in_container(name, "sh -c 'exit 3'", expected_rc=0)
    kit.pause_container(name)
    assert kit.get_container_state(name) == "paused"
    kit.unpause_container(name)
    kit.wait_until_container_is(name, "running", timeout="5s")
    kit.stop_container(name, timeout="1s")
    assert kit.get_container_state(name) == "exited"
    with pytest.raises(KitError, match="it is exited, not running"):
        kit.execute_in_container(name, "true")
    kit.start_container(name)
    kit.wait_until_container_is(name, "running", timeout="5s")
    kit.restart_container(name, timeout="1s")
    assert kit.get_container_state(name) == "running"
    kit.kill_container(name)
    kit.wait_until_container_is(name, "exited", timeout="10s")
    assert kit.get_container_exit_code(name, EQ, 137, timeout="5s") == 137
    kit.remove_container(name)
    assert name not in kit.get_containers(label=KIT_LABEL)
    assert kit.ctx.cleanup.pending() == []


def test_run_container_without_detach_waits_for_the_end(kit, busybox):
    name = kit.run_container(busybox, ["sh", "-c", "echo done; exit 4"], detach=False, timeout="10s")
    assert kit.get_container_exit_code(name) == 4
    assert kit.get_container_logs(name, CONTAINS, "done", timeout="5s")


def test_missing_container_and_missing_image_are_named(kit):
    with pytest.raises(KitError, match="no container 'ghost'"):
        kit.get_container_state("ghost")
    with pytest.raises(KitError, match="no container 'ghost'"):
        kit.wait_until_container_is("ghost", "running", timeout="30s")
    with pytest.raises(KitError, match="never pulls"):
        kit.run_container("streamspace-kit/never-built:1")
    with pytest.raises(KitError, match="Bad port"):
        kit.run_container("anything", ports="web")


def test_wait_until_container_is_times_out_with_what_it_saw(kit, busybox):
    name = sleeper(kit, busybox)
    with pytest.raises(WaitTimeout, match="last seen: state running"):
        kit.wait_until_container_is(name, "exited", timeout="0.6s")
    with pytest.raises(AssertionError, match=r"it was still .running. after .* \(\d+ tries\)"):
        kit.get_container_state(name, EQ, "paused", timeout="0.5s")


def test_published_port_and_logs(kit, busybox):
    script = "echo listening; while true; do echo -e 'HTTP/1.0 200 OK\\r\\n\\r\\nhello' | nc -l -p 8080; done"
    name = kit.run_container(busybox, ["sh", "-c", script], ports="8080")
    port = kit.get_published_port(name, 8080)
    kit.get_container_logs(name, CONTAINS, "listening", timeout="5s")
    deadline = time.monotonic() + 10
    data = b""
    while b"hello" not in data and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = sock.recv(100)
        except OSError:
            time.sleep(0.1)
    assert b"hello" in data
    with pytest.raises(KitError, match="does not publish port 9999/tcp"):
        kit.get_published_port(name, "9999")
    assert "listening" in kit.get_container_logs(name, tail=5)


@pytest.mark.machine  # measures a container's CPU use against its quota: the cores must be free
def test_limits_are_declared_measured_and_enforced(kit, busybox):
    here = Path.cwd()  # where the kit (and so the engine it started) runs: nothing may be written there
    before = set(here.iterdir())
    name = sleeper(kit, busybox, cpu="0.5", memory="64Mi")
    limits = kit.get_container_limits(name)
    assert (limits["cpu"], limits["memory"]) == ("0.5", "64Mi")
    kit.get_container_limits(name, EQ, {"cpu": "0.5", "memory": "64Mi", "cpu_cores": 0.5,
                                        "memory_bytes": 64 * 1024**2})
    assert kit.container_memory_limit_should_be_enforced(name) == 137
    cores = kit.container_cpu_limit_should_be_enforced(name, tolerance=0.3, duration="2s")
    assert 0 < cores <= 0.65
    stats = kit.get_container_stats(name, interval="0.5s")
    assert stats["memory_limit"] == "64Mi"
    assert stats["cpu_percent"] < 20, "the burners must be stopped after the check"
    assert 0 < stats["memory_used_bytes"] < 64 * 1024**2
    assert set(here.iterdir()) - before == set(), "an OOM kill left a file in the kit's folder (conmon's 'oom')"


@pytest.mark.parametrize(("readings", "outcome"), [
    ([0.1, 0.12, 0.5], "passes on the third window"),
    ([0.1, 0.1, 0.1], "inconclusive after three windows"),
    ([0.9], "over the quota: fails at the first window"),
])
def test_a_cpu_check_the_machine_was_too_busy_for_measures_again(kit, busybox, monkeypatch, readings, outcome):
    """A use far under the quota without throttling proves nothing (other programs had the cores): measured
    again, three windows at most; a use over the quota fails at once. (The windows' readings are given here:
    a busy machine cannot be made to order; the burners and the container are real.)"""
    from DockerKit.keywords.limits import CPU_WINDOWS, LimitKeywords

    name = sleeper(kit, busybox, cpu="0.5", memory="64Mi")
    given = iter(readings)
    taken: list[float] = []

    def measured(self, handle, target, interval):
        taken.append(next(given))
        return taken[-1], {}

    monkeypatch.setattr(LimitKeywords, "_cpu_cores_used", measured)
    monkeypatch.setattr(LimitKeywords, "_throttled", lambda self, handle, target: 0)  # never held by the quota
    if outcome.startswith("passes"):
        assert kit.container_cpu_limit_should_be_enforced(name, tolerance=0.2, duration="0.1s") == 0.5
    elif outcome.startswith("inconclusive"):
        with pytest.raises(AssertionError, match=f"in each of {CPU_WINDOWS} windows of 0.1 s: the machine is too busy"):
            kit.container_cpu_limit_should_be_enforced(name, tolerance=0.2, duration="0.1s")
    else:
        with pytest.raises(AssertionError, match=r"is NOT enforced: 2 busy loops used 0\.90 cores"):
            kit.container_cpu_limit_should_be_enforced(name, tolerance=0.2, duration="0.1s")
    assert taken == readings, "the windows measured"


def test_unlimited_container_fails_the_enforcement_checks(kit, busybox):
    name = sleeper(kit, busybox)
    assert kit.get_container_limits(name)["memory"] == "none"
    with pytest.raises(KitError, match="no memory limit"):
        kit.container_memory_limit_should_be_enforced(name)
    with pytest.raises(KitError, match="no CPU limit"):
        kit.container_cpu_limit_should_be_enforced(name)
    big = sleeper(kit, busybox, memory="512Mi")
    with pytest.raises(AssertionError, match="NOT enforced"):
        kit.container_memory_limit_should_be_enforced(big, hog_size="8Mi")


def test_stats_of_a_stopped_container_are_refused(kit, busybox):
    name = sleeper(kit, busybox)
    kit.kill_container(name)
    kit.wait_until_container_is(name, "exited", timeout="10s")
    with pytest.raises(KitError, match="needs a running container"):
        kit.get_container_stats(name)


# -- the allow-list ------------------------------------------------------------------------------
def test_destructive_keywords_refuse_unlabelled_objects(kit, engine, busybox):
    client = engine.client()
    outsider = client.containers.run(busybox, ["sleep", "60"], detach=True, labels={"owner": "someone-else"})
    network = client.networks.create(f"outsider-{uuid.uuid4().hex[:6]}", internal=True)
    volume = client.volumes.create(f"outsider-{uuid.uuid4().hex[:6]}")
    try:
        for action in (kit.stop_container, kit.kill_container, kit.remove_container, kit.restart_container,
                       kit.pause_container):
            with pytest.raises(TargetRefused, match="KIT_TEST_LABELS"):
                action(outsider.name)
        with pytest.raises(TargetRefused, match="refused to disconnect container"):
            kit.disconnect_container_from_network(outsider.name, network.name)
        with pytest.raises(TargetRefused, match="refused to remove network"):
            kit.remove_network(network.name)
        with pytest.raises(TargetRefused, match="refused to remove volume"):
            kit.remove_volume(volume.name)
        outsider.reload()
        assert outsider.status == "running"
        allowing = DockerKit(test_labels="owner=someone-*")
        allowing.connect_to_container_engine(engine.url)
        allowing.kill_container(outsider.name)
        allowing.close_all_container_engine_connections()
    finally:
        outsider.remove(force=True)
        network.remove()
        volume.remove(force=True)
        client.close()


def test_allow_list_from_the_environment(monkeypatch):
    monkeypatch.setenv("KIT_TEST_LABELS", "team=qa")
    guard = DockerKit(test_labels="").ctx.guard
    assert guard.allows({"team": "qa"}) and not guard.allows({"team": "ops"})
    assert DockerKit().ctx.guard.allows({"streamspace.kit/run": "ab12"})
    assert DockerKit().ctx.guard.allows({"app": "streamspace"})
    assert not DockerKit().ctx.guard.allows({"app": "other"})


# -- networks ------------------------------------------------------------------------------------
def test_network_partition_and_heal(kit, busybox):
    net = kit.create_network()
    server = kit.run_container(busybox, "sleep 300", network=net)
    client = kit.run_container(busybox, "sleep 300", network=net)
    kit.execute_in_container(client, ["ping", "-c1", "-W2", server], expected_rc=0)  # by name: the engine's DNS
    # cut off, the client is pinged at the server's address: on Docker a name lookup of a cut-off
    # container waits out the resolver's timeouts (10 s) before it fails
    address = kit.ctx.handle().client.containers.get(server).attrs["NetworkSettings"]["Networks"][net]["IPAddress"]
    kit.disconnect_container_from_network(client, net)
    rc, _ = kit.execute_in_container(client, ["ping", "-c1", "-W1", address])
    assert rc != 0
    kit.connect_container_to_network(client, net)
    kit.execute_in_container(client, ["ping", "-c1", "-W2", server], expected_rc=0)
    listener = kit.ctx.cleanup
    listener.start_test(None, None)  # a test that cuts the network and ends without healing it
    kit.disconnect_container_from_network(client, net)
    assert kit.execute_in_container(client, ["ping", "-c1", "-W1", address])[0] != 0
    listener.end_test(None, None)  # its listener heals the partition; the containers (outer scope) stay
    kit.execute_in_container(client, ["ping", "-c1", "-W2", server], expected_rc=0)
    with pytest.raises(KitError, match="no network 'kit-net-missing'"):
        kit.remove_network("kit-net-missing")


def test_network_membership_and_existence(kit, busybox):
    net = kit.create_network()
    kit.network_should_exist(net)
    name = kit.run_container(busybox, "sleep 300", network=net)
    kit.container_should_be_on_network(name, net)
    kit.disconnect_container_from_network(name, net)
    with pytest.raises(AssertionError, match=f"is not on network '{net}'"):
        kit.container_should_be_on_network(name, net)
    kit.connect_container_to_network(name, net)
    with pytest.raises(AssertionError, match="No network 'kit-net-missing'"):
        kit.network_should_exist("kit-net-missing")


def test_internal_network_and_remove(kit, engine):
    net = kit.create_network(labels="app=streamspace")
    attrs = engine.client().networks.get(net).attrs
    assert attrs.get("Internal") is True
    assert attrs["Labels"]["app"] == "streamspace"
    kit.remove_network(net)
    with pytest.raises(KitError, match="no network"):
        kit.remove_network(net)


# -- volumes ----------------------------------------------------------------------------------------
def test_volume_files_persist_across_containers(kit, busybox):
    volume = kit.create_volume(labels="app=streamspace")
    kit.volume_should_exist(volume)
    assert volume in kit.get_volumes(label="app=streamspace")
    kit.get_volumes(KIT_LABEL, CONTAINS, volume)
    kit.write_file_to_volume(volume, "proof/marker.txt", "written before the restart\nline 2")
    name = kit.run_container(busybox, "sleep 300", volumes=f"{volume}:/data")
    rc, output = kit.execute_in_container(name, "cat /data/proof/marker.txt")
    assert rc == 0 and output == "written before the restart\nline 2"
    kit.remove_container(name)
    assert kit.read_file_from_volume(volume, "proof/marker.txt", EQ, "written before the restart\nline 2")
    with pytest.raises(KitError, match=r"Reading 'nope\.txt'"):
        kit.read_file_from_volume(volume, "nope.txt")
    kit.remove_volume(volume)
    kit.volume_should_not_exist(volume)
    with pytest.raises(AssertionError, match=r"it was still False after .* \(\d+ tries\)"):
        kit.volume_should_exist(volume, timeout="0.5s")
    with pytest.raises(KitError, match="does not exist"):
        kit.write_file_to_volume(volume, "x", "y")


# -- images ------------------------------------------------------------------------------------------
def test_build_image_locally_and_check_it(kit, busybox, tmp_path):
    (tmp_path / "Dockerfile").write_text(f"FROM {busybox}\nRUN echo built > /built.txt\nCMD cat /built.txt\n")
    tag = f"streamspace-kit/dockerkit-test:{uuid.uuid4().hex[:6]}"
    try:
        assert kit.build_image(str(tmp_path), tag) == tag
        kit.image_should_exist(tag)
        name = kit.run_container(tag, detach=False, timeout="10s")
        kit.get_container_logs(name, CONTAINS, "built")
    finally:
        kit.ctx.cleanup.run_all()
        kit.ctx.handle().client.images.remove(tag, force=True)
    with pytest.raises(AssertionError, match=r"it was still False after .* \(\d+ tries\)"):
        kit.image_should_exist(tag, timeout="0.4s")
    (tmp_path / "Dockerfile").write_text("FROM streamspace-kit/not-there:1\n")
    with pytest.raises(KitError, match="Building image"):
        kit.build_image(str(tmp_path), "streamspace-kit/broken:1")
    with pytest.raises(KitError, match="does not exist"):
        kit.build_image(str(tmp_path / "nowhere"), "x:1")


# -- events ------------------------------------------------------------------------------------------
def test_wait_until_container_event(kit, busybox):
    mark = f"events-{uuid.uuid4().hex[:6]}"
    name = sleeper(kit, busybox, labels=f"case={mark}")
    started = kit.wait_until_container_event("start", label=f"case={mark}", timeout="5s")
    assert started["container"] == name
    kit.kill_container(name)
    died = kit.wait_until_container_event("die", label=f"case={mark}", timeout="10s")
    assert died["container"] == name and died["exit_code"] == 137
    assert kit.wait_until_container_event("die", container=name, timeout="5s")["action"] == "die"
    began = time.monotonic()
    with pytest.raises(WaitTimeout, match="Container event 'pause'"):
        kit.wait_until_container_event("pause", label=f"case={mark}", timeout="1.5s")
    assert time.monotonic() - began < 8
    with pytest.raises(KitError, match="needs a filter"):
        kit.wait_until_container_event("die")


# -- argument parsing (no engine needed) ---------------------------------------------------------
def test_arguments_are_read_as_testers_write_them():
    from DockerKit.context import parse_command, parse_pairs, parse_ports, parse_volumes

    assert parse_pairs("app=streamspace, role=agent", "labels") == {"app": "streamspace", "role": "agent"}
    assert parse_pairs(["a=1", "flag"], "labels") == {"a": "1", "flag": ""}
    assert parse_pairs({"n": 1}, "env") == {"n": "1"}
    assert parse_command("sh -c 'echo a b'") == ["sh", "-c", "echo a b"]
    assert parse_ports("5900, 15901:5901, 53/udp") == {
        "5900/tcp": ("127.0.0.1", None), "5901/tcp": ("127.0.0.1", 15901), "53/udp": ("127.0.0.1", None)}
    assert parse_volumes("data:/data, logs:/var/log:ro") == {
        "data": {"bind": "/data", "mode": "rw"}, "logs": {"bind": "/var/log", "mode": "ro"}}
    with pytest.raises(KitError, match="Bad volume"):
        parse_volumes("data")
    with pytest.raises(KitError, match="Bad labels"):
        parse_pairs("=x", "labels")


def test_library_documentation_builds(tmp_path):
    from robot.libdoc import libdoc

    libdoc("DockerKit", str(tmp_path / "DockerKit.html"), quiet=True)
    text = (tmp_path / "DockerKit.html").read_text()
    for name in ("Run Container", "Container Memory Limit Should Be Enforced", "Wait Until Container Event"):
        assert name in text


# -- the helper image ---------------------------------------------------------------------------
def test_the_helper_image_is_built_from_memory_and_runs(engine) -> None:
    """DockerKit builds its volume helper image itself (no stack, no file on disk): FROM scratch and
    the machine's static busybox; a container of it runs busybox's applets."""
    from DockerKit import helper_image

    client = engine.client()
    tag = f"streamspace-kit/busybox:test-{uuid.uuid4().hex[:8]}"
    try:
        helper_image.build_busybox_image(client, helper_image.busybox_binary(), tag)
        # detached, then a wait with a timeout (an attached run's log stream has none)
        container = client.containers.run(tag, ["sh", "-c", "echo made by $(basename $(readlink /bin/cat))"],
                                          network_mode="none", detach=True)
        try:
            assert container.wait(timeout=60)["StatusCode"] == 0
            assert container.logs().decode().strip() == "made by busybox"
        finally:
            container.remove(force=True)
    finally:
        client.images.remove(tag, force=True)
        client.close()


def test_a_dynamic_busybox_is_refused_naming_the_package(tmp_path) -> None:
    from DockerKit import helper_image

    dynamic = tmp_path / "busybox"
    dynamic.write_bytes(Path("/bin/sh").resolve().read_bytes())
    with pytest.raises(KitError, match="busybox-static"):
        helper_image.busybox_binary(dynamic)
