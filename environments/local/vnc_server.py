"""TigerVNC servers (``Xvnc``) on loopback, with security None or VNC authentication."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from environments.local.procs import BackendError, ManagedProcess, free_port, port_answers, wait_for


def xvnc_binary() -> str:
    for name in ("Xtigervnc", "Xvnc"):
        found = shutil.which(name) or (f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else None)
        if found:
            return found
    raise BackendError("VNC server cannot start", "TigerVNC (Xtigervnc) is not installed",
                       "run './kit setup' (it installs tigervnc-standalone-server)")


def free_display(skip: Collection[int] = ()) -> int:
    for display in range(20, 400):
        if display in skip:
            continue
        if not os.path.exists(f"/tmp/.X11-unix/X{display}") and not os.path.exists(f"/tmp/.X{display}-lock"):
            return display
    raise BackendError("VNC server cannot start", "no free X display number between :20 and :399",
                       "remove stale /tmp/.X*-lock files left by killed X servers")


def write_password_file(path: Path, password: str) -> Path:
    """The obfuscated password file Xvnc reads (``vncpasswd -f``)."""
    tool = shutil.which("vncpasswd") or "/usr/bin/vncpasswd"
    result = subprocess.run([tool, "-f"], input=f"{password}\n{password}\n".encode(),
                            capture_output=True, timeout=10, check=False)
    if result.returncode != 0 or not result.stdout:
        raise BackendError("VNC password file", "vncpasswd failed", "run './kit setup' (it installs tigervnc-tools)")
    path.write_bytes(result.stdout)
    path.chmod(0o600)
    return path


@dataclass
class VncServer:
    workdir: Path
    host: str = "127.0.0.1"
    port: int = 0
    password: str | None = None
    geometry: str = "800x600"
    name: str = "vnc"
    display: int = 0
    process: ManagedProcess | None = field(default=None, repr=False)

    @property
    def security(self) -> str:
        return "VncAuth" if self.password else "None"

    def start(self, timeout: float = 10.0, attempts: int = 5) -> VncServer:
        """Start Xvnc; a display taken meanwhile by another run's X server (a race) is retried on the next."""
        binary = xvnc_binary()
        self.port = self.port or free_port(self.host)
        self.workdir.mkdir(parents=True, exist_ok=True)
        chosen, taken = self.display, set()
        for attempt in range(1, attempts + 1):
            self.display = chosen or free_display(taken)
            argv = [binary, f":{self.display}", "-rfbport", str(self.port), "-interface", self.host,
                    "-SecurityTypes", self.security, "-geometry", self.geometry, "-depth", "24",
                    "-AlwaysShared", "-nolisten", "tcp"]
            if self.password:
                argv += ["-rfbauth", str(write_password_file(self.workdir / f"{self.name}.passwd", self.password))]
            self.process = ManagedProcess(self.name, argv, self.workdir / f"{self.name}.log").start()
            try:
                wait_for(lambda: port_answers(self.port, self.host), timeout,
                         f"VNC server on {self.host}:{self.port} did not listen", self.process.log,
                         self.process.popen)
                return self
            except BackendError as error:
                # taken meanwhile: its lock ("already active"), or its socket by a server whose lock is gone
                if not any(sign in str(error) for sign in ("already active for display", "server already running")):
                    raise
                taken.add(self.display)
                self.display = 0  # not ours: stop() must not remove the other server's lock files
                if chosen or attempt == attempts:
                    raise
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()
        for leftover in (f"/tmp/.X{self.display}-lock", f"/tmp/.X11-unix/X{self.display}"):
            if self.display and os.path.exists(leftover):
                os.remove(leftover)
