"""The local stack's supervisor as a child of the test: started, watched for leaks, stopped by signal."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .watch import RunWatch

REPO = Path(__file__).resolve().parents[2]
SMALL = ("--api-replicas", "1", "--k8s-agents", "1", "--docker-agents", "1")


class StackRun:
    """``python -m environments.local`` with a ready file and results in ``workdir``."""

    def __init__(self, workdir: Path, args: tuple[str, ...] = SMALL, parent_pid: int | None = None) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.ready_file = workdir / "topology.json"
        self.results = workdir / "results"
        self.output = workdir / "supervisor.log"
        self.args = args
        self.parent_pid = os.getpid() if parent_pid is None else parent_pid
        self.process: subprocess.Popen | None = None
        self.watch: RunWatch | None = None
        self.topology: dict[str, Any] = {}

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "environments.local", *self.args, "--ready-file", str(self.ready_file),
                "--results", str(self.results), "--parent-pid", str(self.parent_pid), "--quiet"]

    def start(self) -> StackRun:
        with open(self.output, "wb") as out:
            self.process = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, cwd=REPO, start_new_session=True)
        self.watch = RunWatch(self.process.pid).start()
        return self

    def wait_ready(self, timeout: float = 120.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready_file.exists():
                with contextlib.suppress(ValueError):
                    self.topology = json.loads(self.ready_file.read_text())
                    self.watch.run_ids.add(self.topology["runId"])
                    return self.topology
            if self.process.poll() is not None:
                raise AssertionError(f"the supervisor exited with {self.process.returncode}: {self.log()[-2000:]}")
            time.sleep(0.2)
        raise AssertionError(f"the stack was not ready in {timeout:g} s: {self.log()[-2000:]}")

    def log(self) -> str:
        return self.output.read_text(errors="replace") if self.output.exists() else ""

    def send(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def wait_exit(self, timeout: float = 60.0) -> int | None:
        """The supervisor's exit code, or None (then its group is SIGKILLed) if it did not exit in time."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
            return None
        finally:
            self.watch.stop()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> int | None:
        self.send(sig)
        return self.wait_exit(timeout)

    @property
    def run_id(self) -> str:
        return str(self.topology.get("runId", ""))

    @property
    def component_logs(self) -> Path:
        return self.results / "components" / self.run_id
