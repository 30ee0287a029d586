"""The kit's private Docker engine: Debian's ``dockerd`` on a socket, data root and bridge of its own.

Used when the engine choice is ``docker`` (``KIT_ENGINE=docker``, ``./kit stack --engine docker``)
and no Docker engine answers on ``DOCKER_HOST`` or ``/var/run/docker.sock``. The system's Docker
(socket, ``/var/lib/docker``, ``/etc/docker/daemon.json``, ``docker0``) is never used or changed.

Where things live:

- **home** (``$KIT_DOCKER_HOME``, default ``~/.cache/streamspace-kit/docker``; kept between runs):
  the data root ``data/`` (so the kit's images are built once per machine, not once per run), the
  engine's own ``daemon.json`` and identity key, its last log ``dockerd.log``, ``state.json``
  while it runs, the lock ``engine.lock`` and one lease file per user in ``users/``.
- **runtime** (``/tmp/kit-dockerd-*``, one per engine start, removed at stop): the socket, the
  exec root (its own containerd's state and socket) and the pid file.
- **network**: one bridge of its own (``kit-d<hash of home>``, a free ``/24`` of 10.199.0.0/16) as
  the default bridge instead of ``docker0``; ``--iptables=false``, ``--ip-forward=false`` and
  ``--ip-masq=false``: the engine writes no iptables rule, no sysctl, and does not load
  ``br_netfilter``. Ports are published on 127.0.0.1 by ``docker-proxy``; containers on a user
  network reach each other by name (Docker's embedded DNS). Containers cannot reach outside the
  machine (the kit needs no registry).

One engine serves every run on the machine that asks for it (runs of the same home share it, as
its data root cannot be shared by two engines): a run takes a lease (a file locked while the run
lives, so a killed run's lease is seen to be stale); the run that drops the last lease removes
every container, volume and network of the engine (only images stay), stops it, deletes its
bridge and removes the runtime folder. A run killed with SIGKILL leaves the engine running: the
leak audit lists it, and the next run that uses the engine stops it when it is done (or
``python -m environments.local.dockerd stop``).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from environments.local import reaper
from environments.local.procs import BackendError, ManagedProcess, file_lock
from kitcore.containers import list_containers
from kitcore.processes import mounts_under

HOME_VAR = "KIT_DOCKER_HOME"
RUNTIME_PREFIX = "kit-dockerd-"
BRIDGE_PREFIX = "kit-d"
BRIDGE_RANGE = ipaddress.ip_network("10.199.0.0/16")  # outside Docker's own pools (172.17-31/16, 192.168/16)
# each engine's user networks come from a /16 of its own (Docker does not look at the host's routes)
POOL_CANDIDATES = tuple(ipaddress.ip_network(f"172.{n}.0.0/16") for n in range(17, 32)) + tuple(
    ipaddress.ip_network(f"10.{n}.0.0/16") for n in range(200, 255))
MACHINE_LOCK = Path(tempfile.gettempdir()) / "streamspace-kit-dockerd.lock"
CONTAINERD_NAMESPACE = "streamspace-kit"  # apart from a system Docker's "moby" if a system containerd is shared
SYSTEM_RUN_DIRS = (Path("/run/docker/plugins"), Path("/run/docker"), Path("/run/containerd/s"), Path("/run/containerd"))
LOCK_TIMEOUT = 120.0
ENGINE_BUSY_FIX = "wait for that run to finish starting or stopping the engine"
STOP_GRACE = 20.0
FIX_INSTALL = ("run './kit setup' (it installs Debian's docker.io), or apt-get install docker.io; "
               "or choose --engine podman")


def default_home() -> Path:
    """``$KIT_DOCKER_HOME``, else the user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``)."""
    if os.environ.get(HOME_VAR):
        return Path(os.environ[HOME_VAR]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "streamspace-kit" / "docker"


def bridge_name(home: Path) -> str:
    """The default bridge of the engine of ``home`` (interface names have at most 15 characters)."""
    return BRIDGE_PREFIX + hashlib.sha256(str(home.resolve()).encode()).hexdigest()[:8]


def dockerd_binary() -> str | None:
    return shutil.which("dockerd") or next((p for p in ("/usr/sbin/dockerd", "/usr/bin/dockerd") if os.path.exists(p)),
                                           None)


def _ip_binary() -> str:
    return shutil.which("ip") or next((p for p in ("/usr/sbin/ip", "/sbin/ip", "/bin/ip") if os.path.exists(p)), "ip")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([_ip_binary(), *args], capture_output=True, text=True, timeout=15, check=False)
    if check and result.returncode != 0:
        raise BackendError(f"'ip {' '.join(args)}' failed", (result.stderr or result.stdout).strip(),
                           "the private Docker engine needs root and iproute2 (./kit setup installs it)")
    return result


def link_exists(name: str) -> bool:
    return Path("/sys/class/net", name).exists()


def kit_bridges() -> list[str]:
    """Bridges of the kit's private Docker engines present on the machine."""
    root = Path("/sys/class/net")
    return sorted(p.name for p in root.iterdir() if p.name.startswith(BRIDGE_PREFIX)) if root.is_dir() else []


def _used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network on an interface or in a route of the main table."""
    used: list[ipaddress.IPv4Network] = []
    with contextlib.suppress(BackendError, ValueError, subprocess.SubprocessError):
        for link in json.loads(_ip("-j", "-4", "addr").stdout or "[]"):
            for addr in link.get("addr_info", []):
                used.append(ipaddress.ip_network(f"{addr['local']}/{addr['prefixlen']}", strict=False))
        for route in json.loads(_ip("-j", "-4", "route").stdout or "[]"):
            dst = route.get("dst", "default")
            if dst != "default":
                used.append(ipaddress.ip_network(dst, strict=False))
    return [n for n in used if isinstance(n, ipaddress.IPv4Network)]


def free_subnet(seed: str) -> ipaddress.IPv4Network:
    """A ``/24`` of :data:`BRIDGE_RANGE` that no interface or route uses, picked from a hash of ``seed``."""
    used = _used_networks()
    subnets = list(BRIDGE_RANGE.subnets(new_prefix=24))
    start = int(hashlib.sha256(seed.encode()).hexdigest()[:4], 16) % len(subnets)
    for i in range(len(subnets)):
        candidate = subnets[(start + i) % len(subnets)]
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise BackendError("The private Docker engine has no network", f"every /24 of {BRIDGE_RANGE} is in use",
                       "remove stale bridges ('ip -br addr') or choose --engine podman")


def running_pools() -> list[ipaddress.IPv4Network]:
    """The user-network pools of the kit's private Docker engines that run (from their command lines)."""
    pools = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error, ValueError):
            argv = proc.info["cmdline"] or []
            if proc.info["name"] == "dockerd" and "--default-address-pool" in argv:
                option = argv[argv.index("--default-address-pool") + 1]
                base = dict(part.split("=", 1) for part in option.split(","))["base"]
                pools.append(ipaddress.ip_network(base))
    return [p for p in pools if isinstance(p, ipaddress.IPv4Network)]


def free_pool() -> ipaddress.IPv4Network:
    """A ``/16`` for an engine's user networks that no route, interface or other private engine uses."""
    used = _used_networks() + running_pools()
    for candidate in POOL_CANDIDATES:
        if not any(candidate.overlaps(net) for net in used):
            return candidate
    raise BackendError("The private Docker engine has no address pool", "every candidate /16 is in use",
                       "stop other engines (./kit leaks lists the kit's) or choose --engine podman")


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _log_tail(log: Path, lines: int = 12) -> str:
    if not log.exists():
        return ""
    text = log.read_text(errors="replace").strip().splitlines()[-lines:]
    return ("; last lines of its log " + str(log) + ":\n  " + "\n  ".join(text)) if text else ""


@dataclass
class PrivateDocker:
    """A lease on the kit's private Docker engine of ``home``: :meth:`acquire` starts it or joins it,
    :meth:`release` drops the lease and stops the engine if no other run holds one."""

    home: Path = field(default_factory=default_home)
    url: str = ""
    pid: int | None = None
    runtime: Path | None = None
    started_here: bool = False
    start_seconds: float = 0.0
    process: ManagedProcess | None = field(default=None, repr=False)
    _lease: Path | None = field(default=None, repr=False)
    _lease_fd: int | None = field(default=None, repr=False)
    _guard: int | None = field(default=None, repr=False)

    # -- paths --------------------------------------------------------------------------------
    @property
    def data_root(self) -> Path:
        return self.home / "data"

    @property
    def log(self) -> Path:
        return self.home / "dockerd.log"

    @property
    def state_file(self) -> Path:
        return self.home / "state.json"

    @property
    def users_dir(self) -> Path:
        return self.home / "users"

    @property
    def bridge(self) -> str:
        return bridge_name(self.home)

    # -- public ---------------------------------------------------------------------------------
    def acquire(self, timeout: float = 30.0) -> PrivateDocker:
        """Join the running engine of ``home`` or start it; fails with the cause and the fix."""
        binary = dockerd_binary()
        if binary is None:
            raise BackendError("The kit's private Docker engine cannot start",
                               "dockerd is not installed (Debian's docker.io package)", FIX_INSTALL)
        if os.geteuid() != 0:
            raise BackendError("The kit's private Docker engine cannot start",
                               "dockerd needs root (it makes a bridge and mounts file systems)",
                               "run as root; or start Docker yourself and set DOCKER_HOST; or choose --engine podman")
        self.home.mkdir(parents=True, exist_ok=True)
        with self._engine_lock():
            state = self.read_state()
            if state and self._answers(state):
                self.url, self.pid, self.runtime = state["url"], state["pid"], Path(state["runtime"])
            else:
                if state:
                    self._clean_runtime(state)
                self._start(binary, timeout)
            self._take_lease()
        self._guard = reaper.guard_private_docker(self.home)
        return self

    def release(self, grace: float = STOP_GRACE) -> list[str]:
        """Drop this run's lease; the last run stops the engine. Returns what was removed at the stop."""
        if self._lease is None:
            return []
        removed: list[str] = []
        with self._engine_lock():
            self._drop_lease()
            if not self.live_users():
                state = self.read_state()
                if state:
                    removed = self._shutdown(state, grace)
        self._reap()  # dockerd may be this process's child
        self.process = None
        reaper.release(self._guard)
        self._guard = None
        return removed

    def _engine_lock(self) -> contextlib.AbstractContextManager[None]:
        """Held while a run starts, joins or stops the engine."""
        return file_lock(self.home / "engine.lock", LOCK_TIMEOUT, "The kit's private Docker engine is busy",
                         ENGINE_BUSY_FIX)

    def read_state(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return None

    def live_users(self, tidy: bool = True) -> list[str]:
        """Leases held by living runs (a stale lease, whose run died, is removed on the way if ``tidy``)."""
        live = []
        if not self.users_dir.is_dir():
            return live
        for path in sorted(self.users_dir.iterdir()):
            if path == self._lease:
                live.append(path.name)
                continue
            try:
                fd = os.open(path, os.O_RDWR)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                live.append(path.name)  # its run holds it
            else:
                if tidy:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()  # its run is gone
            finally:
                os.close(fd)
        return live

    def stop_abandoned(self, grace: float = STOP_GRACE) -> list[str]:
        """Stop the engine of ``home`` if no living run holds a lease on it (a killed run's engine);
        if a crashed engine left containers or volumes in the data root, start it once to remove them."""
        if not self.home.is_dir():
            return []
        with self._engine_lock():
            if self.live_users():
                return []
            state = self.read_state()
            removed = self._shutdown(state, grace) if state else []
        if self.stored_objects():
            self.acquire()
            removed += self.release(grace)
        return removed

    def stored_objects(self) -> list[str]:
        """Containers and volumes in the data root (read from its files: the engine need not run)."""
        found = []
        for config in sorted(self.data_root.glob("containers/*/config.v2.json")):
            with contextlib.suppress(OSError, ValueError):
                found.append(f"container {json.loads(config.read_text()).get('Name', '?').lstrip('/')}")
        volumes = self.data_root / "volumes"
        found += [f"volume {v.name}" for v in sorted(volumes.iterdir()) if v.is_dir()] if volumes.is_dir() else []
        return found

    # -- start ----------------------------------------------------------------------------------
    def _answers(self, state: dict[str, Any]) -> bool:
        from environments.local.engine import ping

        if not _pid_alive(state.get("pid")):
            return False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if ping(state.get("url", ""), 1.0):
                return True
            time.sleep(0.2)
        return False

    def _start(self, binary: str, timeout: float) -> None:
        started = time.monotonic()
        self.runtime = Path(tempfile.mkdtemp(prefix=RUNTIME_PREFIX))
        self.url = f"unix://{self.runtime / 'docker.sock'}"
        config = self.home / "daemon.json"
        # the engine's own configuration: the system's /etc/docker/daemon.json is not read, and its
        # identity key stays in home instead of /etc/docker/key.json
        config.write_text(json.dumps({"deprecated-key-path": str(self.home / "key.json")}, indent=2) + "\n")
        created = [str(p) for p in SYSTEM_RUN_DIRS if not p.exists()]
        state: dict[str, Any] = {"pid": None, "url": self.url, "runtime": str(self.runtime), "bridge": self.bridge,
                                 "created": created, "home": str(self.home)}
        try:
            # addresses are picked and taken (bridge made, dockerd started) under one machine-wide lock
            with file_lock(MACHINE_LOCK, LOCK_TIMEOUT, "Another private Docker engine is starting", ENGINE_BUSY_FIX):
                self._start_locked(binary, config, state, timeout)
        except BaseException:
            self._clean_runtime(state)
            raise
        self.started_here = True
        self.start_seconds = time.monotonic() - started

    def _start_locked(self, binary: str, config: Path, state: dict[str, Any], timeout: float) -> None:
        runtime = Path(state["runtime"])
        subnet = free_subnet(str(self.home.resolve()))
        pool = free_pool()
        state.update(subnet=str(subnet), pool=str(pool))
        if link_exists(self.bridge):
            _ip("link", "delete", self.bridge, check=False)
        _ip("link", "add", self.bridge, "type", "bridge")
        _ip("addr", "add", f"{next(subnet.hosts())}/{subnet.prefixlen}", "dev", self.bridge)
        _ip("link", "set", self.bridge, "up")
        self.log.write_text("")
        argv = [binary, "--host", self.url, "--data-root", str(self.data_root),
                "--exec-root", str(runtime / "exec"), "--pidfile", str(runtime / "docker.pid"),
                "--config-file", str(config), "--bridge", self.bridge, "--iptables=false",
                "--ip-forward=false", "--ip-masq=false", "--shutdown-timeout", "5",
                "--default-address-pool", f"base={pool},size=24",
                "--containerd-namespace", CONTAINERD_NAMESPACE,
                "--containerd-plugins-namespace", f"{CONTAINERD_NAMESPACE}-plugins"]
        # shared by every run holding a lease: a run that dies stops it only through its lease (reaper)
        self.process = ManagedProcess("dockerd", argv, self.log, cwd=runtime, reap=False).start()
        self.pid = self.process.pid
        state["pid"] = self.pid
        self._write_state(state)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        from environments.local.engine import ping

        deadline = time.monotonic() + timeout
        while not ping(self.url, 1.0):
            if self.process is not None and not self.process.running():
                raise BackendError("The kit's private Docker engine did not start",
                                   f"dockerd exited with code {self.process.popen.returncode}{_log_tail(self.log)}",
                                   "read its log; another dockerd on the same data root, or a kernel without "
                                   "overlay/bridge support, are the usual causes")
            if time.monotonic() > deadline:
                raise BackendError("The kit's private Docker engine did not start",
                                   f"its API did not answer within {timeout:g} s{_log_tail(self.log)}",
                                   "read its log; a slow disk can delay the first start")
            time.sleep(0.05)

    def _write_state(self, state: dict[str, Any]) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    # -- leases -----------------------------------------------------------------------------------
    def _take_lease(self) -> None:
        self.users_dir.mkdir(parents=True, exist_ok=True)
        path = self.users_dir / f"{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)  # not inherited by children (PEP 446)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, " ".join(sys.argv)[:500].encode())
        self._lease, self._lease_fd = path, fd

    def _drop_lease(self) -> None:
        if self._lease is not None:
            with contextlib.suppress(FileNotFoundError):
                self._lease.unlink()
        if self._lease_fd is not None:
            os.close(self._lease_fd)
        self._lease, self._lease_fd = None, None

    # -- stop -------------------------------------------------------------------------------------
    def _shutdown(self, state: dict[str, Any], grace: float) -> list[str]:
        """Empty the engine (only images stay), stop it, and remove its runtime state and bridge."""
        removed: list[str] = []
        if self._answers_now(state):
            removed = empty_engine(state["url"])
            pid = state.get("pid")
            if _pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
                deadline = time.monotonic() + grace
                while _pid_alive(pid) and time.monotonic() < deadline:
                    self._reap()
                    time.sleep(0.05)
        self._clean_runtime(state)
        return removed

    def _answers_now(self, state: dict[str, Any]) -> bool:
        from environments.local.engine import ping

        return _pid_alive(state.get("pid")) and ping(state.get("url", ""), 2.0)

    def _reap(self) -> None:
        if self.process is not None and self.process.popen is not None:
            self.process.popen.poll()

    def _clean_runtime(self, state: dict[str, Any]) -> None:
        """Whatever an engine of this home left: processes (forced), containers' processes, mounts,
        its bridge, its runtime folder, the state file, and the empty system folders it made."""
        runtime = Path(state.get("runtime") or "/nonexistent/kit-dockerd")
        pid = state.get("pid")
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        runc_root = runtime / "exec" / "runtime-runc" / CONTAINERD_NAMESPACE
        runc = shutil.which("runc") or "/usr/sbin/runc"
        if runc_root.is_dir():
            for container in runc_root.iterdir():
                subprocess.run([runc, "--root", str(runc_root), "delete", "--force", container.name],
                               capture_output=True, timeout=30, check=False)
        for proc in processes_of(runtime) if state.get("runtime") else []:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        self._reap()
        for mount in mounts_under(runtime, self.data_root):
            subprocess.run(["umount", "-l", mount], capture_output=True, timeout=30, check=False)
        bridge = state.get("bridge") or self.bridge
        if link_exists(bridge):
            _ip("link", "delete", bridge, check=False)
        if runtime.name.startswith(RUNTIME_PREFIX):
            shutil.rmtree(runtime, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        for folder in state.get("created", []):
            with contextlib.suppress(OSError):
                Path(folder).rmdir()  # only if empty: another program may use it now


def processes_of(runtime: Path) -> list[psutil.Process]:
    """Processes whose command line names ``runtime`` (dockerd, its containerd, container shims)."""
    found = []
    text = str(runtime)
    for proc in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if proc.pid != os.getpid() and any(text in part for part in proc.info["cmdline"] or []):
                found.append(proc)
    return found


def empty_engine(url: str) -> list[str]:
    """Remove every container, volume and network (except the predefined ones) of the engine at ``url``."""
    import docker
    import docker.errors

    removed: list[str] = []
    with contextlib.closing(docker.DockerClient(base_url=url, timeout=60, version="1.41")) as client:
        for container in list_containers(client, all=True):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                container.remove(force=True, v=True)
                removed.append(f"container:{container.name}")
        for network in client.networks.list():
            if network.name in ("bridge", "host", "none"):
                continue
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                network.remove()
                removed.append(f"network:{network.name}")
        for volume in client.volumes.list():
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                volume.remove(force=True)
                removed.append(f"volume:{volume.name}")
    return removed


def main(argv: list[str] | None = None) -> int:
    """``python -m environments.local.dockerd status|stop``: the kit's private Docker engine."""
    args = sys.argv[1:] if argv is None else argv
    engine = PrivateDocker()
    if args[:1] == ["stop"]:
        removed = engine.stop_abandoned()
        users = engine.live_users()
        if users:
            print(f"the private Docker engine is in use by {len(users)} run(s): {', '.join(users)}; left running")
            return 1
        print(f"the private Docker engine of {engine.home} is stopped" + (f" (removed {', '.join(removed)})"
                                                                          if removed else ""))
        return 0
    state = engine.read_state()
    if state is None:
        print(f"the private Docker engine of {engine.home} is not running")
        return 0
    print(f"the private Docker engine of {engine.home}: pid {state.get('pid')}, {state.get('url')}, "
          f"users: {', '.join(engine.live_users()) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
