"""The container engine, chosen by ``KIT_ENGINE`` (``./kit stack --engine``, Robot's ``${LOCAL_ENGINE}``):

``auto`` (the default)
    1. ``DOCKER_HOST`` is set and answers a ping -> that engine, never stopped by the kit;
    2. ``/var/run/docker.sock`` answers a ping -> that engine, never stopped by the kit;
    3. ``podman system service`` on a private socket in ``workdir`` (one per run, so runs can
       coexist), with a project-local ``containers.conf`` passed through ``CONTAINERS_CONF`` —
       the user's system configuration is never touched. Stopped (with its children) by :meth:`Engine.stop`.
``docker``
    1. and 2. as above, if what answers is a Docker engine (not Podman's service);
    3. else the kit's **private Docker engine** (:mod:`environments.local.dockerd`): Debian's
       ``dockerd`` on its own socket, runtime folder and bridge, with a data root kept in the
       user's cache folder (images are built once per machine). Shared by the runs that use it
       at the same time; the last one to stop removes its containers, volumes and networks and stops it.
``podman``
    the kit's own podman service (step 3 of ``auto``), whatever else answers.

No state outside ``workdir`` is needed for podman (``/run/podman`` is only podman's default socket folder).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from environments.local.procs import BackendError, ManagedProcess, wait_for
from kitcore.containers import list_containers

if TYPE_CHECKING:
    import docker

    from environments.local.dockerd import PrivateDocker

DOCKER_SOCKET = Path("/var/run/docker.sock")
ENGINE_VAR = "KIT_ENGINE"
CHOICES = ("auto", "docker", "podman")
RUN_LABEL = "streamspace.kit/run"
PING_TIMEOUT = 2.0
SOCKET_PATH_MAX = 100  # AF_UNIX paths are limited to 107 bytes

CONTAINERS_CONF = """\
# Written by the kit for its own podman service only (CONTAINERS_CONF); the system's
# configuration is left alone.
[containers]
# runc needs explicit rlimits here (otherwise: "rlimit ... operation not permitted")
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
# crun refuses cgroups v1 "hybrid" hierarchies; runc handles them
runtime = "runc"
# exec through the API leaves two conmon processes until this delay (default 300 s) ends
exit_command_delay = 5
{extra}
[network]
# netavark with aardvark-dns: containers on a user network find each other by name (the CNI
# backend resolves no names without a DNS plugin, and CNI's dnsname refuses internal networks)
network_backend = "netavark"
# the kit's networks apart from the system's, in address ranges no default bridge uses
network_config_dir = "{networks}"
default_subnet = "10.208.0.0/24"
default_subnet_pools = [{{"base" = "10.209.0.0/16", "size" = 24}}]
"""
NETWORK_BACKEND_PACKAGES = ("netavark", "aardvark-dns")


def _no_systemd() -> bool:
    return not Path("/run/systemd/system").is_dir()


def network_config_dir() -> Path:
    """Where the kit's podman keeps its network definitions: one place for every run of the kit, so
    the leak audit and the podman command line see the same networks as the kit's services."""
    base = Path("/run") if os.geteuid() == 0 else Path.home() / ".cache"
    return base / "streamspace-kit" / "podman-networks"


def containers_conf_text() -> str:
    """The project-local containers.conf for this machine."""
    extra = []
    if _no_systemd():
        extra.append('# no systemd: cgroups through the file system, events to a file')
        extra.append('cgroup_manager = "cgroupfs"')
        extra.append('events_logger = "file"')
    folder = network_config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return CONTAINERS_CONF.format(extra="\n".join(extra) + ("\n" if extra else ""), networks=folder)


def write_containers_conf(folder: Path) -> Path:
    """The kit's containers.conf in ``folder``; name it in CONTAINERS_CONF for any podman command."""
    path = folder / "containers.conf"
    path.write_text(containers_conf_text())
    return path


def engine_choice(value: str | None = None) -> str:
    """``value``, else ``$KIT_ENGINE``, else ``auto``; an unknown choice fails naming the valid ones."""
    choice = (value or os.environ.get(ENGINE_VAR) or "auto").strip().lower()
    if choice not in CHOICES:
        source = "the engine choice" if value else f"{ENGINE_VAR}"
        raise BackendError("Unknown container engine", f"{source} is '{choice}'",
                           f"choose one of {', '.join(CHOICES)} (--engine, {ENGINE_VAR} or LOCAL_ENGINE)")
    return choice


def _unix_path(url: str) -> str | None:
    if url.startswith("unix://"):
        return url[len("unix://"):]
    return None


def ping(url: str, timeout: float = PING_TIMEOUT) -> bool:
    """True when the Docker API at ``url`` (``unix:///path`` or ``tcp://host:port``) answers ``/_ping``."""
    return ping_headers(url, timeout) is not None


def ping_headers(url: str, timeout: float = PING_TIMEOUT) -> dict[str, str] | None:
    """The headers of a ``200`` answer to ``/_ping`` (``Api-Version``, ``Libpod-Api-Version``...), else None."""
    path = _unix_path(url)
    try:
        if path is not None:
            if not os.path.exists(path):
                return None
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(path)
                sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: engine\r\nConnection: close\r\n\r\n")
                data = b""
                while b"\r\n\r\n" not in data and (chunk := sock.recv(4096)):
                    data += chunk
            lines = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
            status = lines[0].split()
            if len(status) < 2 or not status[0].startswith("HTTP/") or status[1] != "200":
                return None
            return {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        target = url.split("://", 1)[-1].rstrip("/")
        host, _, port = target.rpartition(":")
        conn = http.client.HTTPConnection(host or "127.0.0.1", int(port or 2375), timeout=timeout)
        try:
            conn.request("GET", "/_ping")
            answer = conn.getresponse()
            return {k.lower(): v for k, v in answer.getheaders()} if answer.status == 200 else None
        finally:
            conn.close()
    except (OSError, ValueError, http.client.HTTPException):
        return None


@dataclass
class Engine:
    """A Docker API endpoint for the run: found, or started (podman's service, the private dockerd)."""

    workdir: Path
    docker_host: str | None = None
    docker_socket: Path = DOCKER_SOCKET
    run_label: str | None = None
    choice: str = ""  # auto | docker | podman; empty = $KIT_ENGINE, else auto
    docker_home: Path | None = None  # the private Docker engine's home (default: the user's cache folder)
    url: str = ""
    kind: str = ""
    owned: bool = False
    api_version: str = ""
    conf: Path | None = None
    process: ManagedProcess | None = field(default=None, repr=False)
    private: PrivateDocker | None = field(default=None, repr=False)
    _socket_dir: Path | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.docker_host is None:
            self.docker_host = os.environ.get("DOCKER_HOST") or None
        self.choice = engine_choice(self.choice)

    # -- discovery ----------------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> Engine:
        """Find or start the engine of :attr:`choice`; fails in seconds with cause and fix."""
        if self.choice == "podman":
            return self._start_podman(timeout, "the podman engine was chosen")
        tried = []
        candidates = [(self.docker_host, f"DOCKER_HOST={self.docker_host}")] if self.docker_host else []
        candidates.append((f"unix://{self.docker_socket}", str(self.docker_socket)))
        for url, source in candidates:
            headers = ping_headers(url)
            if headers is None:
                absent = source == str(self.docker_socket) and not self.docker_socket.exists()
                tried.append(f"{source} {'is absent' if absent else 'does not answer'}")
            elif self.choice == "docker" and "libpod-api-version" in headers:
                tried.append(f"{source} is Podman's service, not Docker")
            else:
                return self._use_existing(url)
        if self.choice == "docker":
            return self._start_private_docker(timeout, "; ".join(tried))
        return self._start_podman(timeout, "; ".join(tried))

    def _use_existing(self, url: str) -> Engine:
        self.url, self.owned = url, False
        headers = ping_headers(url) or {}
        self.kind = "podman" if "libpod-api-version" in headers else "docker"
        self.api_version = headers.get("api-version", "")
        return self

    def _start_podman(self, timeout: float, tried: str) -> Engine:
        podman = shutil.which("podman")
        runc = shutil.which("runc") or next((p for p in ("/usr/sbin/runc", "/usr/bin/runc") if os.path.exists(p)), None)
        if podman is None or runc is None:
            missing = " and ".join(n for n, p in (("podman", podman), ("runc", runc)) if p is None)
            raise BackendError(
                "No container engine",
                f"no Docker engine answers ({tried}) and {missing} {'is' if ' and ' not in missing else 'are'} "
                "not installed",
                "run './kit setup' (it installs podman and runc), or start Docker and set DOCKER_HOST",
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.conf = write_containers_conf(self.workdir)
        sock = self.workdir / "podman.sock"
        if len(str(sock)) > SOCKET_PATH_MAX:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="kit-podman-"))
            sock = self._socket_dir / "podman.sock"
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        self.url, self.kind, self.owned = f"unix://{sock}", "podman", True
        argv = [podman, "system", "service", "--time=0", self.url]
        scratch = self.workdir / "tmp"  # a build's scratch files go with the run's folder, even if it is killed
        scratch.mkdir(exist_ok=True)
        self.process = ManagedProcess("podman", argv, self.workdir / "podman.log",
                                      env={**self.env(), "TMPDIR": str(scratch)},
                                      cwd=self.workdir).start()  # conmon writes files (oom) in its cwd
        try:
            wait_for(lambda: ping(self.url, 1.0), timeout, "Podman's Docker API did not answer",
                     self.process.log, self.process.popen)
            self.api_version = (ping_headers(self.url) or {}).get("api-version", "")
        except BackendError:
            self.stop()
            raise
        self._remove_stale_port_rules()
        return self

    def _remove_stale_port_rules(self) -> None:
        """A killed engine can leave rules that send a published port to a container that is gone (a
        container published on that port later would never be reached), and a DNS server answering for
        containers that are all gone (environments/local/netrules.py)."""
        from environments.local import netrules

        removed, errors = netrules.remove_stale()
        for line in [f"removed {what}" for what in removed] + [f"could not remove {what}" for what in errors]:
            print(f"[kit] {line}", file=sys.stderr, flush=True)

    def _start_private_docker(self, timeout: float, tried: str) -> Engine:
        from environments.local import dockerd

        if dockerd.dockerd_binary() is None:
            raise BackendError("No Docker engine", f"none answers ({tried}) and dockerd, for the kit's private "
                               "Docker engine, is not installed (Debian's docker.io package)", dockerd.FIX_INSTALL)
        private = dockerd.PrivateDocker(self.docker_home) if self.docker_home else dockerd.PrivateDocker()
        self.private = private.acquire(timeout)
        self.url, self.kind, self.owned = private.url, "docker", True
        self.api_version = (ping_headers(self.url) or {}).get("api-version", "")
        return self

    # -- use ----------------------------------------------------------------------------------
    def env(self) -> dict[str, str]:
        """Environment for podman CLI calls that must see the same configuration."""
        return {"CONTAINERS_CONF": str(self.conf)} if self.conf else {}

    def client(self, timeout: float = 30.0) -> docker.DockerClient:
        """A docker SDK client for this engine; every call has ``timeout`` seconds."""
        import docker

        if not self.url:
            raise BackendError("Container engine not started", "Engine.start() was not called",
                               "call Engine.start() first")
        # the engine's API version from its ping (the SDK's "auto" asks /version: ~1 s on Podman)
        return docker.DockerClient(base_url=self.url, timeout=int(max(1, timeout)),
                                   version=self.api_version or "auto")

    def answers(self) -> bool:
        return bool(self.url) and ping(self.url)

    def stop(self, grace: float = 5.0) -> None:
        """Remove what carries ``run_label`` (if set), then stop podman's service if the kit started it,
        or drop this run's lease on the private Docker engine (the last run stops it).

        A Docker engine found running is left running. Containers outlive the service (their
        ``conmon`` monitors are not its children), so a run must remove its objects first:
        ``run_label`` does that here.
        """
        if self.run_label and self.url and self.answers():
            with contextlib.suppress(Exception), contextlib.closing(self.client(timeout=30)) as client:
                cleanup_by_label(client, self.run_label)
        if self.private is not None:
            private, self.private = self.private, None
            private.release()
        if self.kind != "podman":
            return  # a Docker engine: found running, or the private one whose lease is dropped above
        if self.owned and self.process is not None:
            self.process.stop(grace)
            self.process = None
            self._remove_stale_port_rules()
        path = _unix_path(self.url) if self.owned else None
        if path:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def remove_from_podman_storage(label: str, env: dict[str, str] | None = None) -> list[str]:
    """Remove, through Podman's own storage, the containers and volumes carrying ``label`` that a stopped
    Podman service left: a create the service was serving when its client was killed can finish after
    the client's last listing. Run once the service is stopped (nothing is in flight then). ``env``: the
    engine's :meth:`Engine.env`; without it, the kit's configuration written to a folder of its own.
    Returns what was removed; a failure is left to the leak audit, which names it."""
    if shutil.which("podman") is None:
        return []
    if env is None:  # the engine's folder (and its configuration) is gone: the kit's, written for this call
        with tempfile.TemporaryDirectory(prefix="kit-podman-conf-") as folder:
            return remove_from_podman_storage(label, {"CONTAINERS_CONF": str(write_containers_conf(Path(folder)))})
    removed: list[str] = []
    for kind, argv in (("container", ["podman", "rm", "--force", "--volumes", "--filter", f"label={label}"]),
                       ("volume", ["podman", "volume", "prune", "--force", "--filter", f"label={label}"])):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False,
                                  env={**os.environ, **env})
        except subprocess.TimeoutExpired:
            continue
        removed += [f"{kind}:{name}" for name in done.stdout.split()] if done.returncode == 0 else []
    return removed


def cleanup_by_label(client: docker.DockerClient, label: str) -> list[str]:
    """Remove every container (forced), then volume and network carrying ``label`` (``key`` or ``key=value``).

    Returns what was removed (``container:name`` ...). Failures on one object never stop the rest;
    the last one is raised at the end so a leak is not silent.
    """
    import docker.errors

    removed: list[str] = []
    failures: list[str] = []
    filters = {"label": label}

    def attempt(kind: str, name: str, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except docker.errors.NotFound:
            return
        except Exception as error:  # noqa: BLE001 - go on with the rest, report at the end
            failures.append(f"{kind} {name}: {error}")
        else:
            removed.append(f"{kind}:{name}")

    for container in list_containers(client, all=True, filters=filters):
        attempt("container", container.name, lambda c=container: c.remove(force=True, v=True))
    for volume in client.volumes.list(filters=filters):
        attempt("volume", volume.name, lambda v=volume: v.remove(force=True))
    for network in client.networks.list(filters=filters):
        attempt("network", network.name, lambda n=network: n.remove())
    if failures:
        raise BackendError(f"Could not remove everything labelled {label}", "; ".join(failures),
                           "remove them by hand with 'podman rm -f' / 'docker rm -f' and check the engine's log")
    return removed
