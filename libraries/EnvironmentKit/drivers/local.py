"""The ``local`` driver: runs the supervisor (``python -m environments.local``) as a program and
talks to its control API.

The supervisor gets ``--parent-pid`` = this process, so it stops by itself if the test run
dies without cleaning up; once healthy it writes the topology to the pipe given by ``--ready-fd``
and closes it (no file to clean up; the end of the pipe without a topology means it stopped).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
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
        self._last: Topology | None = None

    # -- life cycle -------------------------------------------------------------------
    @property
    def started_here(self) -> bool:
        return self.process is not None

    @property
    def log_path(self) -> Path | None:
        """The supervisor's output (kept after the run; it holds no credentials: --quiet)."""
        return self._log

    def argv(self, ready_fd: int) -> list[str]:
        argv = [*self.command, "--ready-fd", str(ready_fd), "--parent-pid", str(os.getpid())]
        for flag, value in self.options.items():
            if value is not None:
                argv += [flag, str(value)]
        if self.only:
            argv += ["--only", self.only]
        return [*argv, "--quiet", *self.extra_args]  # --quiet: no credentials in the log

    def start(self, timeout: float) -> Topology:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"supervisor-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        self._log = log
        reading, writing = os.pipe()
        try:
            with open(log, "wb") as handle:
                try:
                    self.process = subprocess.Popen(
                        self.argv(writing), stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                        cwd=self.cwd, start_new_session=True, pass_fds=(writing,),
                        env={**os.environ, "PYTHONUNBUFFERED": "1"},
                    )
                except OSError as error:
                    raise KitError("The local environment could not start", cause=str(error),
                                   fix="run './kit setup' and check the kit's virtualenv") from None
            os.close(writing)
            writing = -1
            return self.attach(self._topology_from(reading, timeout))
        except BaseException:
            # failed, or interrupted (Ctrl-C, SIGTERM, a stop signal): stop what was started
            self.stop(10.0)
            raise
        finally:
            for fd in (reading, writing):
                if fd >= 0:
                    os.close(fd)

    def _topology_from(self, reading: int, timeout: float) -> dict[str, Any]:
        """The topology the supervisor writes to the pipe once ready; fails when it stops first
        (the pipe ends without one) or is not ready within ``timeout``."""
        deadline = time.monotonic() + timeout
        data = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise KitError("The local environment was not ready in time",
                               cause=f"no topology after {timeout:g} s{self.log_tail()}",
                               fix=f"raise the timeout of 'Start Test Environment' or start fewer components "
                                   f"(whole log: {self._log})")
            readable, _, _ = select.select([reading], [], [], min(left, 1.0))
            if readable:
                chunk = os.read(reading, 65536)
                if chunk:
                    data += chunk
                    continue
            elif self.process is None or self.process.poll() is None:
                continue  # a process the supervisor forked may hold the pipe open after it died: look at it too
            topology = _parse_json(data)
            if topology is not None:
                return topology
            code = self._exit_code()
            raise KitError("The local environment stopped before it was ready",
                           cause=f"its supervisor exited with code {code}{self.log_tail()}",
                           fix=f"read the lines above (whole log: {self._log}); './kit stack' shows the same "
                               "start in a terminal")

    def _exit_code(self) -> int | str:
        """The exit code of a supervisor that closed its pipe; it exits right after."""
        if self.process is None:
            return "unknown"
        try:
            return self.process.wait(10)
        except subprocess.TimeoutExpired:
            return "unknown (it closed its pipe but kept running)"

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


def _parse_json(data: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(data)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


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
