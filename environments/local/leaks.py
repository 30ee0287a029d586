"""Leak audit: list anything a run left behind, exit 1 if there is anything.

    python -m environments.local.leaks          (or ./kit leaks)

Looks for processes the kit started (they carry ``STREAMSPACE_KIT_PROCESS`` in their
environment, or run the stack's modules), containers / volumes / networks labelled by the
kit, and the kit's temp directories.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys

import psutil

from environments.local.procs import OWNER_MARK

LABELS = ("streamspace.kit/run", "streamspace.kit/test")
MODULE_MARKERS = ("environments.local", "keyboard_display.py", "streamspace-kit")


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


def _podman(*args: str) -> list[str]:
    """Listing needs no runtime, so podman's defaults serve (the kit's containers.conf is per run)."""
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=30, check=False)
    return [line for line in result.stdout.splitlines() if line.strip()] if result.returncode == 0 else []


def leftover_engine_objects() -> list[str]:
    if shutil.which("podman") is None:
        return []
    found = []
    for label in LABELS:
        for line in _podman("ps", "-a", "--filter", f"label={label}", "--format", "{{.Names}} ({{.Status}})"):
            found.append(f"container {line}")
        for line in _podman("volume", "ls", "--filter", f"label={label}", "--format", "{{.Name}}"):
            found.append(f"volume {line}")
        for line in _podman("network", "ls", "--filter", f"label={label}", "--format", "{{.Name}}"):
            found.append(f"network {line}")
            # what a platform attached to a network of the kit's carries no label of the kit's
            for name in _podman("ps", "-a", "--filter", f"network={line}", "--format", "{{.Names}} ({{.Status}})"):
                found.append(f"container {name} (on the kit's network {line})")
    return sorted(set(found))


def leftover_temp_dirs() -> list[str]:
    return [f"temp dir {path}" for path in sorted(glob.glob("/tmp/kit-*")) if os.path.isdir(path)]


def audit() -> list[str]:
    return leftover_processes() + leftover_engine_objects() + leftover_temp_dirs()


def main() -> int:
    found = audit()
    if "--json" in sys.argv:
        print(json.dumps(found, indent=2))
    if not found:
        print("leak audit: nothing left behind (processes, containers, volumes, networks, temp dirs)")
        return 0
    print(f"leak audit: {len(found)} thing(s) left behind:")
    for item in found:
        print(f"  {item}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
