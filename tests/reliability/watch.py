"""Leak watching for one run: what a process tree started, and whether any of it is still there.

The machine's leak audit (:mod:`environments.local.leaks`) sees everything the kit left anywhere,
including other runs going on at the same time. A :class:`RunWatch` narrows that to one run: it
polls the process tree under a root process (the supervisor, or ``robot``) while it runs, keeps
every descendant it saw (pid + start time, so a reused pid is not mistaken), the kit temp
directories their command lines name, and the run id; afterwards :meth:`RunWatch.leftovers`
lists what of that is still alive or present, plus the audit's engine objects and temp dirs
that carry the run id.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from environments.local import leaks

TEMP_DIR = re.compile(r"(/tmp/kit-[A-Za-z0-9._-]+)")


@dataclass
class RunWatch:
    root: int
    poll: float = 0.2
    seen: dict[tuple[int, float], str] = field(default_factory=dict)
    temp_dirs: set[str] = field(default_factory=set)
    run_ids: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RunWatch:
        self._thread = threading.Thread(target=self._loop, name=f"watch-{self.root}", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.poll)

    def sample(self) -> None:
        try:
            root = psutil.Process(self.root)
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                key = (proc.pid, proc.create_time())
                cmdline = " ".join(proc.cmdline())
                if self.seen.get(key) == cmdline:
                    continue
                # a process seen between its fork and its exec showed its parent's command line: keep the newest
                self.seen[key] = cmdline
                self.temp_dirs.update(match.rstrip("/") for match in TEMP_DIR.findall(cmdline))
                for match in re.findall(r"kit-stack-([0-9a-f]{8})-", cmdline):
                    self.run_ids.add(match)

    def stop(self) -> None:
        self.sample()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    # -- afterwards ---------------------------------------------------------------------
    def alive(self) -> list[str]:
        found = []
        for (pid, created), cmdline in self.seen.items():
            if pid == self.root:
                continue
            with contextlib.suppress(psutil.Error):
                proc = psutil.Process(pid)
                if proc.create_time() == created and proc.status() != psutil.STATUS_ZOMBIE:
                    found.append(f"process {pid}: {cmdline[:160]}")
        return found

    def leftovers(self) -> list[str]:
        """What of this run is still there: processes, temp dirs, engine objects, the run's temp dirs."""
        found = self.alive()
        found += [f"temp dir {path}" for path in sorted(self.temp_dirs) if _top_dir_exists(path)]
        if self.run_ids:
            for item in leaks.leftover_engine_objects() + leaks.leftover_temp_dirs():
                if any(run in item for run in self.run_ids):
                    found.append(item)
            found += [item for item in engine_objects_of_runs(self.run_ids)]
        return sorted(set(found))

    def wait_clean(self, timeout: float) -> list[str]:
        """Poll :meth:`leftovers` until it is empty or ``timeout`` ends; returns the last answer."""
        deadline = time.monotonic() + timeout
        while True:
            left = self.leftovers()
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.5)


def _top_dir_exists(path: str) -> bool:
    parts = Path(path).parts  # ("/", "tmp", "kit-...")
    return len(parts) >= 3 and Path(*parts[:3]).exists()


def engine_objects_of_runs(run_ids: set[str]) -> list[str]:
    """Containers, volumes and networks labelled ``streamspace.kit/run=<id>`` for one of ``run_ids``."""
    found = []
    for run in run_ids:
        label = f"label=streamspace.kit/run={run}"
        found += [f"container {n}" for n in leaks._podman("ps", "-a", "--filter", label, "--format", "{{.Names}}")]
        found += [f"volume {n}" for n in leaks._podman("volume", "ls", "--filter", label, "--format", "{{.Name}}")]
        found += [f"network {n}" for n in leaks._podman("network", "ls", "--filter", label, "--format", "{{.Name}}")]
    return found


def audit_snapshot() -> set[str]:
    """The machine-wide leak audit now (processes, engine objects, temp dirs)."""
    return set(leaks.audit())


def new_since(before: set[str], ignore: tuple[str, ...] = ()) -> list[str]:
    """Audit items present now and not in ``before``, except those containing one of ``ignore``."""
    return sorted(item for item in audit_snapshot() - before if not any(i in item for i in ignore))
