"""Session pods as host processes: an ``Xtigervnc`` bound to the pod's own loopback address on the
pod's VNC port (:func:`vnc_port`: the container port named ``vnc``, 5900 in the kit's own
Deployments, 3000 in StreamSpace's) plus the keyboard display program on that X display.

Design choice: the kubelet stand-in runs pods as host processes rather than containers so that
50+ sessions fit on a 2-core machine (an Xvnc and a small X client each); the Docker agent runs
real containers. Each pod gets a distinct address ``127.0.X.Y`` (its pod IP) from a configured
range, so every pod listens on its real VNC port like a pod in a cluster would.

Every process is started in its own process group with a parent-death signal (``setpriv
--pdeathsig KILL`` where available): even if the kubelet is killed, its pods die with it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import environments.local.session as session_package
from environments.local.procs import OWNER_MARK, BackendError, port_answers, port_is_free
from environments.local.vnc_server import write_password_file, xvnc_binary

VNC_PORT = 5900  # when the pod spec names no port
DISPLAY_PROGRAM = Path(session_package.__file__).resolve().parent / "keyboard_display.py"


def vnc_port(spec: dict[str, Any]) -> int:
    """The port a pod's VNC server listens on: the container port named ``vnc`` (where StreamSpace's
    agent and the kit's both tunnel to), else the pod's first TCP container port, else 5900."""
    ports = [p for c in spec.get("containers") or [] for p in c.get("ports") or []
             if p.get("containerPort") and str(p.get("protocol") or "TCP").upper() == "TCP"]
    named = [p for p in ports if p.get("name") == "vnc"]
    chosen = (named or ports or [{"containerPort": VNC_PORT}])[0]
    return int(chosen["containerPort"])


def _launcher() -> list[str]:
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def spawn(argv: list[str], log: Path, env: dict[str, str], name: str) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as handle:
        return subprocess.Popen([*_launcher(), *argv], stdout=handle, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, OWNER_MARK: name, **env})


def stop_process(proc: subprocess.Popen | None, grace: float = 2.0) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(2.0)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def display_in_use(display: int) -> bool:
    """True while an X server holds the display; a lock left by a killed server is removed."""
    lock, sock = f"/tmp/.X{display}-lock", f"/tmp/.X11-unix/X{display}"
    if not os.path.exists(lock):
        return os.path.exists(sock)
    try:
        pid = int(Path(lock).read_text().strip())
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        for leftover in (lock, sock):
            with contextlib.suppress(FileNotFoundError):
                os.remove(leftover)
        return False
    except (OSError, ValueError):
        return True


@dataclass
class PodProcesses:
    name: str
    ip: str
    display: int
    xvnc: subprocess.Popen
    app: subprocess.Popen | None
    port: int = VNC_PORT
    started: float = field(default_factory=time.monotonic)
    ready: bool = False

    def alive(self) -> bool:
        return self.xvnc.poll() is None

    def answers(self) -> bool:
        return self.alive() and port_answers(self.port, self.ip, timeout=0.2)

    def stop(self) -> None:
        stop_process(self.app)
        stop_process(self.xvnc)
        if self.xvnc.returncode is not None:
            remove_display_files(self.display, self.xvnc.pid)


def remove_display_files(display: int, pid: int) -> None:
    """Remove the lock file and socket of ``display`` that the X server ``pid`` left, and only those: an
    Xtigervnc that could not start because another server (another stack's pod) holds the display must not
    take that server's lock away, or the display would look free and be handed out again and again."""
    lock = Path(f"/tmp/.X{display}-lock")
    try:
        owner = int(lock.read_text().strip())
    except (OSError, ValueError):
        return
    if owner != pid:
        return
    for leftover in (lock, Path(f"/tmp/.X11-unix/X{display}")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()


class PodAllocator:
    """Pod addresses from a loopback range and X display numbers, never two pods on one."""

    def __init__(self, network: str, display_base: int) -> None:
        self.network = ipaddress.ip_network(network, strict=False)
        if not self.network.is_loopback:
            raise BackendError("Kubelet stand-in", f"pod network {network} is not a loopback range",
                               "use a range inside 127.0.0.0/8, e.g. 127.0.100.0/22")
        self.display_base = display_base

    def address(self, taken: set[str], preferred: str | None = None, port: int = VNC_PORT) -> str:
        if preferred and preferred not in taken and ipaddress.ip_address(preferred) in self.network \
                and port_is_free(port, preferred):
            return preferred
        for host in self.network.hosts():
            ip = str(host)
            if ip not in taken and port_is_free(port, ip):
                return ip
        raise BackendError("Kubelet stand-in", f"no free pod address left in {self.network}",
                           "give the kubelet a larger podNetwork")

    def display(self, taken: set[int]) -> int:
        for display in range(self.display_base, self.display_base + 2000):
            if display not in taken and not display_in_use(display):
                return display
        raise BackendError("Kubelet stand-in", "no free X display number", "remove stale /tmp/.X*-lock files")


def start_pod(name: str, ip: str, display: int, workdir: Path, geometry: str,
              password: str | None, port: int = VNC_PORT) -> PodProcesses:
    argv = [xvnc_binary(), f":{display}", "-rfbport", str(port), "-interface", ip,
            "-SecurityTypes", "VncAuth" if password else "None", "-geometry", geometry, "-depth", "24",
            "-AlwaysShared", "-nolisten", "tcp", "-desktop", name]
    if password:
        argv += ["-rfbauth", str(write_password_file(workdir / f"{name}.passwd", password))]
    xvnc = spawn(argv, workdir / f"{name}.xvnc.log", {}, f"pod:{name}")
    app = spawn([sys.executable, str(DISPLAY_PROGRAM)], workdir / f"{name}.app.log", {"DISPLAY": f":{display}"},
                f"pod:{name}")
    return PodProcesses(name, ip, display, xvnc, app, port)
