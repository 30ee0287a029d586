"""The leak audit is not a no-op: what a run leaves behind, it reports; once removed, it is gone.

Each test plants one leftover of a kind the audit looks for -- a ``kit-*`` temp directory (in /tmp
and in a run's own ``TMPDIR``), a process carrying the kit's owner mark, the lock file and socket of
an X display whose server is gone, a container / volume / network carrying the kit's label, a
network and a volume of a compose project of the kit's (``com.docker.compose.project=kit-*``, no
label of the kit's) and a container on that network, on Podman and on the private Docker engine,
and a private Docker engine left by a killed run (running, then crashed) -- checks that
``environments.local.leaks`` reports exactly it (by its own name or pid), removes it, and checks
that the report no longer has it. Other runs on the machine may leave their own things meanwhile,
so the checks look for the planted item, never for an empty report.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from environments.local import dockerd, leaks
from environments.local.procs import OWNER_MARK

pytestmark = pytest.mark.machine  # the audit is machine-wide, and so are the port rules it removes


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


def test_a_kit_temp_dir_under_a_runs_own_tmpdir_is_reported_then_gone(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A run given a TMPDIR of its own makes its temp dirs there: the audit looks there too."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    path = Path(tempfile.mkdtemp(prefix="kit-reliability-"))
    assert f"temp dir {path}" in leaks.leftover_temp_dirs()
    shutil.rmtree(path)
    assert f"temp dir {path}" not in leaks.leftover_temp_dirs()


@contextlib.contextmanager
def _dead_x_servers_display() -> Iterator[tuple[int, Path, Path]]:
    """The lock file and socket a killed X server leaves (display, lock, socket); removed at the end."""
    import socket

    from environments.local.vnc_server import free_display

    gone = subprocess.Popen(["true"])
    gone.wait(5)  # a pid whose process is gone
    display = free_display()
    lock, sock = Path(f"/tmp/.X{display}-lock"), Path(f"/tmp/.X11-unix/X{display}")
    try:
        lock.write_text(f"{gone.pid:>10}\n")
        sock.parent.mkdir(mode=0o1777, exist_ok=True)
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(sock))  # the socket file stays after the close, as a killed server's does
        yield display, lock, sock
    finally:
        lock.unlink(missing_ok=True)
        sock.unlink(missing_ok=True)


def test_a_dead_x_servers_display_is_reported_then_gone() -> None:
    """An X server killed without its stop leaves its display's lock file and socket: the next run
    must skip that display, and the audit names both."""
    from environments.local.vnc_server import free_display

    with _dead_x_servers_display() as (display, lock, sock):
        found = leaks.leftover_x_displays()
        assert f"X display lock {lock} (its server is gone)" in found, found
        assert f"X display socket {sock} (its server is gone)" in found, found
        assert free_display() != display, "a display with a stale lock must not be chosen"
    assert not [item for item in leaks.leftover_x_displays() if f"X{display}" in item]


def test_a_live_x_servers_display_is_not_reported(tmp_path: Path) -> None:
    """The lock of a display whose server runs is not a leftover."""
    from environments.local.vnc_server import VncServer

    server = VncServer(tmp_path).start()
    try:
        assert not [item for item in leaks.leftover_x_displays() if f"X{server.display}" in item]
    finally:
        server.stop()


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
def engine(each_engine: object) -> object:
    """The engine tests of this module run on Podman and on the private Docker engine."""
    return each_engine


@pytest.fixture(scope="module")
def client(engine: object) -> Iterator[object]:
    with contextlib.closing(engine.client(timeout=60)) as docker_client:  # type: ignore[attr-defined]
        yield docker_client


@pytest.mark.engine
def test_labelled_and_compose_engine_objects_are_reported_then_gone(engine: object, client: object) -> None:
    from environments.local.images import ensure_busybox_image

    tag = uuid.uuid4().hex[:8]
    labels = {"streamspace.kit/test": f"reliability-{tag}"}
    # what docker-compose puts on a project's network: no label of the kit's, the project's name
    compose = {"com.docker.compose.project": f"kit-audit-{tag}", "com.docker.compose.network": "hub",
               "com.docker.compose.version": "1.29.2"}
    image = ensure_busybox_image(client)
    volume = client.volumes.create(name=f"kit-audit-vol-{tag}", labels=labels)
    network = client.networks.create(f"kit-audit-net-{tag}", labels=labels, internal=True)
    compose_net = client.networks.create(f"kit-audit-{tag}_hub", labels=compose, internal=True)
    compose_vol = client.volumes.create(name=f"kit-audit-{tag}_data", labels=compose)
    container = client.containers.create(image, ["sleep", "60"], name=f"kit-audit-ctr-{tag}", labels=labels)
    attached = client.containers.create(image, ["sleep", "60"], name=f"kit-audit-att-{tag}",
                                        network=compose_net.name)  # a platform's, on the project's network
    try:
        found = leaks.leftover_engine_objects()
        mine = [item for item in found if tag in item]
        assert any(item.startswith(f"container kit-audit-ctr-{tag} ") for item in mine), found
        assert any(item.startswith(f"container kit-audit-att-{tag} ") and f"kit-audit-{tag}_hub" in item
                   for item in mine), found
        assert any(item.startswith(f"volume kit-audit-vol-{tag} ") for item in mine), found
        assert any(item.startswith(f"network kit-audit-net-{tag} ") for item in mine), found
        assert any(item.startswith(f"network kit-audit-{tag}_hub (compose project kit-audit-{tag}")
                   for item in mine), found
        assert any(item.startswith(f"volume kit-audit-{tag}_data (compose project kit-audit-{tag}")
                   for item in mine), found
        if engine.kind == "docker":  # type: ignore[attr-defined]
            assert all("Docker engine" in item for item in mine), mine
    finally:
        for removal in (lambda: container.remove(force=True), lambda: attached.remove(force=True),
                        lambda: volume.remove(force=True), lambda: compose_vol.remove(force=True), network.remove,
                        compose_net.remove):
            with contextlib.suppress(Exception):
                removal()
    left = [item for item in leaks.leftover_engine_objects() if tag in item]
    assert left == []


# -- a private Docker engine left by a killed run ------------------------------------------------
@pytest.mark.engine
@pytest.mark.skipif(dockerd.dockerd_binary() is None or os.geteuid() != 0,
                    reason="the private Docker engine needs root and dockerd (Debian's docker.io)")
def test_a_killed_runs_private_docker_engine_is_reported_then_gone(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A run killed together with its watcher (kitcore.reaper) while it held the private
    Docker engine leaves the engine running (its lease is stale); one killed with its engine leaves
    the engine's state, bridge, runtime folder and the containers in its data root. The audit names
    each; stopping the abandoned engine removes them."""
    home = tmp_path / "docker-home"
    monkeypatch.setenv(dockerd.HOME_VAR, str(home))  # the audit looks at this home as the default one
    script = (
        "import os, sys, docker\n"
        "import tests.reliability.no_reaper  # killed together with its watcher: nothing cleans up\n"
        "from environments.local.dockerd import PrivateDocker\n"
        "from environments.local.images import ensure_busybox_image\n"
        "engine = PrivateDocker().acquire()\n"
        "client = docker.DockerClient(base_url=engine.url, version='1.41')\n"
        "client.containers.create(ensure_busybox_image(client), ['true'], name=sys.argv[1])\n"
        "print(engine.pid, engine.runtime, flush=True)\n"
        "os._exit(9)  # killed: no stop, no release\n")
    name = f"kit-audit-left-{uuid.uuid4().hex[:6]}"
    killed = subprocess.run([sys.executable, "-c", script, name], capture_output=True, text=True, timeout=120,
                            check=False)
    pid_text, runtime = killed.stdout.split()
    pid, bridge = int(pid_text), dockerd.bridge_name(home)
    try:
        found = leaks.audit()
        assert any(item.startswith(f"process {pid}: ") and "dockerd" in item for item in found), found
        assert any(item.startswith(f"private Docker engine {pid} ") and "no run uses it" in item for item in found)
        assert f"temp dir {runtime}" in found
        assert any(item.startswith(f"container {name} ") for item in found), found
        code, out = _cli()
        assert code == 1 and f"stop the private Docker engine {pid} once no run uses it: python -m " in out, out

        os.killpg(pid, signal.SIGKILL)  # now the engine dies too (its containerd may outlive it)
        deadline = time.monotonic() + 10
        while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        found = leaks.audit()
        assert any(item.startswith("private Docker engine state ") and str(home) in item for item in found), found
        assert f"network interface {bridge} (a private Docker engine's bridge)" in found, found
        assert f"temp dir {runtime}" in found
        assert f"container {name} (in the data root of the stopped private Docker engine {home})" in found, found
    finally:
        removed = dockerd.PrivateDocker(home).stop_abandoned()
    assert f"container:{name}" in removed
    assert dockerd.mounts_under(home, Path(runtime)) == [], "the crashed engine's mounts are left"
    found = leaks.audit()
    assert not [item for item in found if str(home) in item or runtime in item or bridge in item
                or item.startswith(f"process {pid}:")], found


@contextlib.contextmanager
def _stale_port_rule() -> Iterator[str]:
    """A Netavark DNAT rule into the kit's subnet whose container is gone (what a killed Podman engine
    leaves in the kernel), in a chain of its own; yields the chain."""
    if not shutil.which("iptables"):
        pytest.skip("no iptables on this machine: no port-forwarding rule can be left")
    chain = f"NETAVARK-DN-KIT{uuid.uuid4().hex[:8].upper()}"
    spec = "-d 127.0.0.1/32 -p tcp -m tcp --dport 9 -j DNAT --to-destination 10.209.255.254:5900"
    subprocess.run(["iptables", "-w", "5", "-t", "nat", "-N", chain], check=True, timeout=30)
    try:
        subprocess.run(["iptables", "-w", "5", "-t", "nat", "-A", chain, *spec.split()], check=True, timeout=30)
        yield chain
    finally:
        subprocess.run(["iptables", "-w", "5", "-t", "nat", "-F", chain], check=False, timeout=30)
        subprocess.run(["iptables", "-w", "5", "-t", "nat", "-X", chain], check=False, timeout=30)


def _rules_in(chain: str) -> list[str]:
    from environments.local import netrules

    return [rule["ip"] for rule in netrules.dnat_rules() if rule["chain"] == chain]


def test_a_port_forwarding_rule_to_a_gone_container_is_reported_then_removed() -> None:
    from environments.local import netrules

    with _stale_port_rule() as chain:
        planted = [rule for rule in netrules.stale_rules() if rule["chain"] == chain]
        assert [rule["ip"] for rule in planted] == ["10.209.255.254"], netrules.stale_rules()
        assert any(chain in item for item in leaks.audit())
        assert netrules.remove(planted) == []
        assert not _rules_in(chain)


def test_the_watcher_of_a_killed_run_removes_stale_port_rules() -> None:
    """When a killed run's watcher has stopped its process groups, it also removes the rules their
    containers left: the next run's published port would be sent to a dead address."""
    from environments.local import reaper

    with _stale_port_rule() as chain:
        gone_group = {"kind": "group", "pgid": 2**22 - 1, "started": "0", "name": "a killed run's engine",
                      "module": reaper.MODULE}  # as the stack registers its process groups
        removed, failed = reaper.clean([gone_group])
        assert not _rules_in(chain), (removed, failed)
        assert any(chain in line for line in removed), removed


def test_the_watcher_of_a_killed_run_removes_stale_x_displays(tmp_path: Path) -> None:
    """An X server killed with its run's process group leaves its display's lock file and socket; once the
    watcher stopped the groups it removes them -- and never a display whose server lives."""
    from environments.local import reaper
    from environments.local.vnc_server import VncServer

    live = VncServer(tmp_path).start()
    try:
        with _dead_x_servers_display() as (_, lock, sock):
            gone_group = {"kind": "group", "pgid": 2**22 - 1, "started": "0", "name": "a killed run's VNC server",
                          "module": reaper.MODULE}
            removed, failed = reaper.clean([gone_group])
            assert not lock.exists() and not sock.exists(), (removed, failed)
            assert f"X display file {lock}" in removed, removed
        assert Path(f"/tmp/.X{live.display}-lock").exists(), "the watcher removed the lock of a live X server"
        assert Path(f"/tmp/.X11-unix/X{live.display}").exists(), "the watcher removed a live X server's socket"
    finally:
        live.stop()


@pytest.mark.engine
@pytest.mark.skipif(shutil.which("podman") is None, reason="Podman is not installed")
def test_starting_a_podman_engine_removes_stale_port_rules(tmp_path: Path) -> None:
    from environments.local.engine import Engine

    with _stale_port_rule() as chain:
        engine = Engine(workdir=tmp_path / "engine", choice="podman").start()
        try:
            assert not _rules_in(chain), "a Podman engine started with a stale port-forwarding rule in place"
        finally:
            engine.stop()


def test_rules_outside_the_kits_subnets_are_not_reported() -> None:
    from environments.local import netrules

    listing = ("-A NETAVARK-DN-1 -d 127.0.0.1/32 -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.88.0.5:80\n"
               "-A NETAVARK-DN-2 -d 127.0.0.1/32 -p tcp -m tcp --dport 81 -j DNAT --to-destination 10.209.3.4:5900\n")
    assert [rule["ip"] for rule in netrules.dnat_rules(listing)] == ["10.209.3.4"]


def _fake_dns_server(config: Path) -> subprocess.Popen[bytes]:
    """A process that looks like Podman's DNS server started by the kit (``aardvark-dns --config DIR``,
    with the kit's mark); a real one needs a network to serve."""
    from environments.local.procs import OWNER_MARK

    sleeper = f'exec -a aardvark-dns "{sys.executable}" -c "import time; time.sleep(60)" --config "{config}"'
    return subprocess.Popen(["bash", "-c", sleeper], env={**os.environ, OWNER_MARK: "test"})


@pytest.mark.skipif(shutil.which("podman") is None, reason="Podman is not installed")
def test_a_kit_dns_server_with_no_container_left_is_stopped_and_its_records_dropped(tmp_path: Path) -> None:
    from environments.local import netrules

    if netrules._podman_has_containers() is not False:
        pytest.skip("Podman has containers: a DNS server may still serve them")
    config = tmp_path / "aardvark-dns"
    config.mkdir()
    (config / "streamspace").write_text("10.209.7.1\nabc 10.209.7.136  streamspace-gone,abc\n")
    server = _fake_dns_server(config)
    try:
        assert wait_for_cmdline(server.pid, "aardvark-dns")
        assert [proc.pid for proc in netrules.stale_dns_servers()] == [server.pid]
        removed, errors = netrules.remove_stale_dns()
        assert errors == [] and any(str(server.pid) in line for line in removed), removed
        assert server.wait(5) is not None
        assert not (config / "streamspace").exists(), "the stale name records were kept"
    finally:
        server.kill()
        server.wait(5)


def test_a_dns_server_is_not_stale_while_podman_has_containers(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from environments.local import netrules

    config = tmp_path / "aardvark-dns"
    config.mkdir()
    server = _fake_dns_server(config)
    try:
        assert wait_for_cmdline(server.pid, "aardvark-dns")
        monkeypatch.setattr(netrules, "_podman_has_containers", lambda: True)
        assert netrules.stale_dns_servers() == []
        monkeypatch.setattr(netrules, "_podman_has_containers", lambda: None)
        assert netrules.stale_dns_servers() == [], "Podman could not be asked: nothing is judged stale"
    finally:
        server.kill()
        server.wait(5)


def wait_for_cmdline(pid: int, name: str, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):
            argv = psutil.Process(pid).cmdline()  # empty for a moment while the process execs
            if argv and Path(argv[0]).name == name:
                return True
        time.sleep(0.02)
    return False
