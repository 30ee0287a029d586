"""The ``local`` driver: spawns the supervisor (``python -m environments.local``) and talks
to its control API.

The supervisor gets ``--parent-pid`` = this process, so it stops by itself if the test run
dies without cleaning up; it writes the topology to ``--ready-file`` once healthy.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from EnvironmentKit.drivers.base import EnvironmentDriver
from EnvironmentKit.drivers.control import ControlClient
from EnvironmentKit.topology import Topology
from kitcore import KitError

REPO_ROOT = Path(__file__).resolve().parents[3]
TAIL_LINES = 20


class LocalDriver(EnvironmentDriver):
    name = "local"
    test_target = True

    def __init__(
        self,
        api_replicas: int | None = None,
        k8s_agents: int | None = None,
        docker_agents: int | None = None,
        only: Sequence[str] | str | None = None,
        platform: str | None = None,
        programs: str | None = None,
        engine: str | None = None,
        extra_args: Sequence[str] = (),
        command: Sequence[str] | None = None,
        cwd: Path | str | None = None,
        log_dir: Path | str | None = None,
    ) -> None:
        self.options = {"--api-replicas": api_replicas, "--k8s-agents": k8s_agents,
                        "--docker-agents": docker_agents, "--platform": platform or None,
                        "--programs": programs or None, "--engine": engine or None}
        self.only = ",".join(only) if isinstance(only, (list, tuple)) else only
        self.extra_args = list(extra_args)
        self.command = list(command) if command else [sys.executable, "-m", "environments.local"]
        self.cwd = Path(cwd) if cwd else REPO_ROOT
        self.process: subprocess.Popen | None = None
        self.control: ControlClient | None = None
        self.log_dir = Path(log_dir) if log_dir else REPO_ROOT / "results" / "environment"
        self._log: Path | None = None
        self._workdir: Path | None = None
        self._workdir_guard: int | None = None
        self._last: Topology | None = None

    # -- life cycle -------------------------------------------------------------------
    @property
    def started_here(self) -> bool:
        return self.process is not None

    @property
    def log_path(self) -> Path | None:
        """The supervisor's output (kept after the run; it holds no credentials: --quiet)."""
        return self._log

    def argv(self, ready_file: Path) -> list[str]:
        argv = [*self.command, "--ready-file", str(ready_file), "--parent-pid", str(os.getpid())]
        for flag, value in self.options.items():
            if value is not None:
                argv += [flag, str(value)]
        if self.only:
            argv += ["--only", self.only]
        return [*argv, "--quiet", *self.extra_args]  # --quiet: no credentials in the log

    def start(self, timeout: float) -> Topology:
        from environments.local import reaper

        self._workdir = Path(tempfile.mkdtemp(prefix="kit-env-"))
        self._workdir_guard = reaper.guard_path(self._workdir)  # removed even if this process is killed
        ready = self._workdir / "topology.json"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"supervisor-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        self._log = log
        with open(log, "wb") as handle:
            try:
                self.process = subprocess.Popen(
                    self.argv(ready), stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=self.cwd, start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            except OSError as error:
                raise KitError("The local environment could not start", cause=str(error),
                               fix="run './kit setup' and check the kit's virtualenv") from None
        deadline = time.monotonic() + timeout
        try:
            while True:
                data = _read_json(ready)
                if data is not None:
                    return self.attach(data)
                if self.process.poll() is not None:
                    code = self.process.returncode
                    self.process = None
                    self.stop()
                    raise KitError("The local environment stopped before it was ready",
                                   cause=f"its supervisor exited with code {code}{self.log_tail()}",
                                   fix=f"read the lines above (whole log: {log}); './kit stack' shows the same "
                                       "start in a terminal")
                if time.monotonic() >= deadline:
                    tail = self.log_tail()
                    self.stop(10.0)
                    raise KitError("The local environment was not ready in time",
                                   cause=f"no topology after {timeout:g} s{tail}",
                                   fix=f"raise the timeout of 'Start Test Environment' or start fewer components "
                                       f"(whole log: {log})")
                time.sleep(0.1)
        except BaseException:
            # interrupted (Ctrl-C, SIGTERM, a stop signal): stop what was started, remove the temp dir
            self.stop(10.0)
            raise

    def attach(self, topology: dict[str, Any]) -> Topology:
        parsed = Topology(topology)
        if not parsed.control_url:
            raise KitError("The topology names no control API", cause="its 'control' entry is empty",
                           fix="use the topology the local supervisor wrote (it has a 'control' URL)")
        self.control = ControlClient(parsed.control_url)
        self._last = parsed
        return parsed

    def stop(self, timeout: float = 30.0) -> None:
        process, self.process = self.process, None
        if process is not None:
            self._end(process, timeout)
        self._close()
        if self._workdir is not None:
            from environments.local import reaper

            shutil.rmtree(self._workdir, ignore_errors=True)
            reaper.release(self._workdir_guard)
            self._workdir = None

    def _end(self, process: subprocess.Popen, timeout: float) -> None:
        """Ask the supervisor to stop (control API, else SIGTERM); SIGKILL its group if it hangs."""
        if process.poll() is None:
            asked = False
            if self.control is not None:
                with contextlib.suppress(KitError):
                    self.control.shutdown(timeout=min(5.0, timeout))
                    asked = True
            if not asked:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)

    def _close(self) -> None:
        if self.control is not None:
            self.control.close()
            self.control = None

    def log_tail(self, lines: int = TAIL_LINES) -> str:
        log = self.log_path
        if log is None or not log.exists():
            return ""
        text = condense(log.read_text(errors="replace").strip().splitlines())[-lines:]
        return ("; supervisor log tail:\n  " + "\n  ".join(text)) if text else "; the supervisor wrote nothing"

    # -- topology and faults ----------------------------------------------------------
    def _client(self) -> ControlClient:
        if self.control is None:
            raise KitError("No local environment is running", fix="call 'Start Test Environment' first")
        return self.control

    def topology(self) -> Topology:
        self._last = Topology(self._client().topology())
        return self._last

    def component(self, name: str, action: str) -> Topology:
        return self._answer(self._client().component(name, action))

    def partition(self, a: str, b: str) -> Topology:
        return self._answer(self._client().partition(a, b))

    def heal(self) -> Topology:
        return self._answer(self._client().heal())

    def partitions(self) -> list[dict[str, Any]]:
        answer = self._client().partitions()
        if isinstance(answer, dict):
            answer = answer.get("partitions", [])
        return list(answer)

    def _answer(self, payload: Any) -> Topology:
        if isinstance(payload, dict) and "api" in payload:
            self._last = Topology(payload)
            return self._last
        return self.topology()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None  # still being written
    return data if isinstance(data, dict) else None


def condense(lines: list[str], frames: int = 3) -> list[str]:
    """A Python traceback shortened to its last ``frames`` frames and the error line."""
    if "Traceback (most recent call last):" not in lines:
        return lines
    start = len(lines) - 1 - lines[::-1].index("Traceback (most recent call last):")
    before, trace = lines[:start], lines[start + 1:]
    frame_starts = [i for i, line in enumerate(trace) if line.lstrip().startswith('File "')]
    kept: list[str] = []
    for i in frame_starts[-frames:]:
        kept += [trace[i]] + [t for t in trace[i + 1:i + 2] if not t.lstrip().startswith('File "')]
    errors = [t for t in trace if t and not t.startswith(" ")]
    return [*before[-6:], "Traceback (last frames):", *kept, *errors[-1:]]
