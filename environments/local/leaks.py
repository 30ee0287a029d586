"""Leak audit: list anything a run left behind, exit 1 if there is anything.

    python -m environments.local.leaks          (or ./kit leaks)

Looks for

- processes the kit started (they carry ``STREAMSPACE_KIT_PROCESS`` in their environment, or run
  the stack's modules) -- the private Docker engine's ``dockerd``, its containerd and its
  container shims among them, and the watcher of each kit process (``kitcore.reaper``,
  gone seconds after its process);
- containers, volumes and networks labelled by the kit (``streamspace.kit/run``,
  ``streamspace.kit/test``) or belonging to one of its compose projects
  (``com.docker.compose.project=kit-*``), and containers attached to a network of the kit's, on
  every engine it may have used: Podman's storage, a Docker engine on ``DOCKER_HOST`` or
  ``/var/run/docker.sock``, and the kit's private Docker engine (there, anything at all: the
  last run to stop it empties it);
- the private Docker engine's own state: an engine still running, its bridge, the state a killed
  run left, containers in the data root of a stopped engine;
- the kit's temp directories (``kit-*`` in /tmp and in ``$TMPDIR``, the private engine's runtime
  folders included);
- lock files and sockets of X displays in the kit's range (:20 to :399) whose server is gone.

The private Docker engine's data root (images kept between runs) is not a leak.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from environments.local.procs import OWNER_MARK
from kitcore.containers import list_containers

LABELS = ("streamspace.kit/run", "streamspace.kit/test")
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_PROJECT_PREFIX = "kit-"  # the compose environment's projects are kit-<run id>
MODULE_MARKERS = ("environments.local", "keyboard_display.py", "streamspace-kit")
PREDEFINED_NETWORKS = ("bridge", "host", "none", "podman")
DOCKER_TIMEOUT = 15
X_DISPLAYS = range(20, 400)  # the displays the kit's VNC servers take (environments/local/vnc_server.py)
X_ROOT = Path("/tmp")


def leftover_processes() -> list[str]:
    mine = {os.getpid(), *(p.pid for p in psutil.Process().parents())}
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "name"]):
        if proc.pid in mine:
            continue
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            marked = OWNER_MARK in proc.environ() or any(m in cmdline for m in MODULE_MARKERS)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if marked and "environments.local.leaks" not in cmdline:
            found.append(f"process {proc.pid}: {cmdline[:160] or proc.info['name']}")
    return found


def kit_reason(labels: dict[str, str] | None) -> str | None:
    """Why an object with ``labels`` is the kit's (``streamspace.kit/run=...``, ``compose project kit-...``)."""
    labels = labels or {}
    for key in LABELS:
        if key in labels:
            return f"{key}={labels[key]}"
    project = labels.get(COMPOSE_PROJECT_LABEL, "")
    if project.startswith(COMPOSE_PROJECT_PREFIX):
        return f"compose project {project}"
    return None


# -- Podman's storage ----------------------------------------------------------------------------
def _kit_podman_env() -> dict[str, str]:
    """podman's command line with the kit's configuration: it sees the kit's own networks."""
    from environments.local.engine import write_containers_conf

    folder = Path(tempfile.gettempdir()) / f"kit-leaks-conf-{os.getpid()}"
    folder.mkdir(exist_ok=True)
    return {**os.environ, "CONTAINERS_CONF": str(write_containers_conf(folder))}


def _podman(*args: str) -> list[str]:
    """Listing needs no runtime; the kit's configuration names where its networks are kept."""
    env = _kit_podman_env()
    try:
        result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=30, check=False, env=env)
    finally:
        shutil.rmtree(Path(env["CONTAINERS_CONF"]).parent, ignore_errors=True)
    return [line for line in result.stdout.splitlines() if line.strip()] if result.returncode == 0 else []


def _podman_json(*args: str) -> list[dict[str, Any]]:
    env = _kit_podman_env()
    try:
        result = subprocess.run(["podman", *args, "--format", "json"], capture_output=True, text=True,
                                timeout=30, check=False, env=env)
        return json.loads(result.stdout or "[]") if result.returncode == 0 else []
    except (OSError, ValueError, subprocess.SubprocessError):
        return []
    finally:
        shutil.rmtree(Path(env["CONTAINERS_CONF"]).parent, ignore_errors=True)


def leftover_podman_objects() -> list[str]:
    if shutil.which("podman") is None:
        return []
    found = []
    networks = {}
    for network in _podman_json("network", "ls"):
        reason = kit_reason(network.get("labels"))
        if reason:
            networks[network["name"]] = reason
            found.append(f"network {network['name']} ({reason})")
    for container in _podman_json("ps", "-a"):
        name = (container.get("Names") or ["?"])[0]
        state = container.get("Status") or container.get("State") or "?"
        reason = kit_reason(container.get("Labels"))
        if reason:
            found.append(f"container {name} ({state}; {reason})")
            continue
        # what a platform attached to a network of the kit's carries no label of the kit's
        on = sorted(set(container.get("Networks") or []) & set(networks))
        if on:
            found.append(f"container {name} ({state}; on the kit's network {on[0]})")
    for volume in _podman_json("volume", "ls"):
        reason = kit_reason(volume.get("Labels"))
        if reason:
            found.append(f"volume {volume['Name']} ({reason})")
    return found


# -- Docker engines ------------------------------------------------------------------------------
def private_engines() -> list[dict[str, Any]]:
    """The kit's private Docker engines that run: ``dockerd`` processes carrying the kit's mark."""
    engines = []
    for proc in psutil.process_iter(["pid", "name", "cmdline"]):
        try:
            if proc.info["name"] != "dockerd" or OWNER_MARK not in proc.environ():
                continue
            argv = proc.info["cmdline"] or []
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        options = dict(itertools.pairwise(argv))
        data_root = options.get("--data-root", "")
        engines.append({"pid": proc.pid, "url": options.get("--host", ""),
                        "home": str(Path(data_root).parent) if data_root else "",
                        "bridge": options.get("--bridge", "")})
    return engines


def docker_endpoints() -> list[tuple[str, bool]]:
    """``(url, private)`` of every Docker engine (not Podman's service) that answers."""
    from environments.local.engine import DOCKER_SOCKET, ping_headers

    endpoints: list[tuple[str, bool]] = [(e["url"], True) for e in private_engines() if e["url"]]
    for url in (os.environ.get("DOCKER_HOST", ""), f"unix://{DOCKER_SOCKET}"):
        if not url or any(url == known for known, _ in endpoints):
            continue
        headers = ping_headers(url)
        if headers is not None and "libpod-api-version" not in headers:
            endpoints.append((url, False))
    return endpoints


def leftover_docker_objects(url: str, private: bool) -> list[str]:
    """What the kit left on the Docker engine at ``url``; on its private engine, anything at all."""
    import docker

    where = "the kit's private Docker engine" if private else f"the Docker engine at {url}"
    found = []
    try:
        with contextlib.closing(docker.DockerClient(base_url=url, timeout=DOCKER_TIMEOUT, version="1.41")) as client:
            networks = {}
            for network in client.networks.list():
                reason = kit_reason(network.attrs.get("Labels"))
                if network.name not in PREDEFINED_NETWORKS and (reason or private):
                    networks[network.name] = reason
                    found.append(f"network {network.name} ({reason or 'unlabelled'}; on {where})")
            for container in list_containers(client, all=True):
                reason = kit_reason(container.labels)
                attached = set(container.attrs.get("NetworkSettings", {}).get("Networks") or {}) & set(networks)
                if reason or private or attached:
                    why = reason or (f"on the kit's network {sorted(attached)[0]}" if attached else "unlabelled")
                    found.append(f"container {container.name} ({container.status}; {why}; on {where})")
            for volume in client.volumes.list():
                reason = kit_reason(volume.attrs.get("Labels"))
                if reason or private:
                    found.append(f"volume {volume.name} ({reason or 'unlabelled'}; on {where})")
    except Exception as error:  # noqa: BLE001 - an engine that stops answering mid-audit is reported, not fatal
        found.append(f"engine {url} could not be listed: {type(error).__name__}: {str(error)[:120]}")
    return found


def leftover_engine_objects() -> list[str]:
    found = leftover_podman_objects()
    for url, private in docker_endpoints():
        found += leftover_docker_objects(url, private)
    return sorted(set(found))


# -- the private Docker engine's own state ------------------------------------------------------
def _homes() -> Iterator[Path]:
    from environments.local.dockerd import default_home

    seen = set()
    for home in [default_home(), *(Path(e["home"]) for e in private_engines() if e["home"])]:
        if home not in seen:
            seen.add(home)
            yield home


def leftover_private_engine_state() -> list[str]:
    """Private Docker engines that run (and who holds them), their bridges, a killed run's state,
    and containers in the data root of a stopped engine."""
    from environments.local.dockerd import PrivateDocker, kit_bridges

    found = []
    running = private_engines()
    for engine in running:
        users = PrivateDocker(Path(engine["home"])).live_users(tidy=False) if engine["home"] else []
        found.append(f"private Docker engine {engine['pid']} at {engine['url']} (home {engine['home']}; "
                     f"{'used by ' + ', '.join(users) if users else 'no run uses it'})")
    bridges = {e["bridge"] for e in running}
    found += [f"network interface {name} (a private Docker engine's bridge)" for name in kit_bridges()
              if name not in bridges]
    homes_running = {e["home"] for e in running}
    for home in _homes():
        if str(home) in homes_running:
            continue
        if (home / "state.json").exists():
            found.append(f"private Docker engine state {home / 'state.json'} (its engine is gone: a killed run)")
        for item in PrivateDocker(home).stored_objects():
            found.append(f"{item} (in the data root of the stopped private Docker engine {home})")
    return found


def leftover_temp_dirs() -> list[str]:
    """The kit's temp directories in /tmp and in ``$TMPDIR`` (when a run is given one of its own)."""
    roots = sorted({"/tmp", tempfile.gettempdir()})
    paths = {path for root in roots for path in glob.glob(os.path.join(root, "kit-*")) if os.path.isdir(path)}
    return [f"temp dir {path}" for path in sorted(paths)]


def leftover_x_displays(root: Path = X_ROOT) -> list[str]:
    """Lock files and sockets of X displays in the kit's range whose server is gone (an X server
    killed without its stop removes neither; the next run must then skip that display)."""
    found = []
    for display in X_DISPLAYS:
        lock, sock = root / f".X{display}-lock", root / ".X11-unix" / f"X{display}"
        server = _lock_holder(lock)
        if lock.exists() and not server:
            found.append(f"X display lock {lock} (its server is gone)")
        if sock.exists() and not server:
            found.append(f"X display socket {sock} (its server is gone)")
    return found


def remove_stale_x_displays(root: Path = X_ROOT) -> list[str]:
    """Remove the lock files, and their sockets, of X displays in the kit's range whose lock names a process
    that is gone (as an X server does itself when it finds a stale lock); returns what was removed. A socket
    without a lock is left alone: it cannot say whose it is."""
    removed = []
    for display in X_DISPLAYS:
        lock, sock = root / f".X{display}-lock", root / ".X11-unix" / f"X{display}"
        if lock.exists() and _stale(lock):
            for path in (sock, lock):  # the socket first: a lock without a socket still keeps the display taken
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(f"X display file {path}")
    return removed


def _stale(lock: Path) -> bool:
    """The lock names a pid, and no living process has it."""
    try:
        int(lock.read_text().strip())
    except (OSError, ValueError):
        return False  # being written, or not an X lock: not ours to judge
    return not _lock_holder(lock)


def _lock_holder(lock: Path) -> int:
    """The pid in an X display lock file if that process lives, else 0."""
    try:
        pid = int(lock.read_text().strip())
        return pid if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE else 0
    except (OSError, ValueError, psutil.Error):
        return 0


def leftover_port_rules() -> list[str]:
    """Port-forwarding rules into the kit's container subnets whose container is gone
    (environments/local/netrules.py)."""
    from environments.local import netrules

    return [netrules.describe(rule) for rule in netrules.stale_rules()]


def audit() -> list[str]:
    return (leftover_processes() + leftover_engine_objects() + leftover_private_engine_state()
            + leftover_temp_dirs() + leftover_x_displays() + leftover_port_rules())


def main() -> int:
    found = audit()
    if "--json" in sys.argv:
        print(json.dumps(found, indent=2))
    if not found:
        print("leak audit: nothing left behind (processes, containers, volumes, networks, engines, temp dirs, "
              "X displays, port-forwarding rules)")
        return 0
    print(f"leak audit: {len(found)} thing(s) left behind:")
    for item in found:
        print(f"  {item}")
    from environments.local.dockerd import default_home

    if any(item.startswith("port-forwarding rule") or "aardvark-dns" in item for item in found):
        print("  remove the stale port-forwarding rules and Podman DNS server: "
              "python -m environments.local.netrules --remove")
    for engine in private_engines():
        prefix = "" if Path(engine["home"]) == default_home() else f"KIT_DOCKER_HOME={engine['home']} "
        print(f"  stop the private Docker engine {engine['pid']} once no run uses it: "
              f"{prefix}python -m environments.local.dockerd stop")
    return 1


if __name__ == "__main__":
    sys.exit(main())
