"""Fixtures for the agent tests: real Redis, the Kubernetes API stand-in, the container engine,
a fake Control Plane (a test peer), and agent processes started and always stopped."""

from __future__ import annotations

import json
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from environments.local.procs import ManagedProcess

from .fakecp import FakeControlPlane

ROOT = Path(__file__).resolve().parents[2]

TIMINGS = {"heartbeatInterval": 0.5, "staleAfter": 1.5, "leaseDuration": 3.0, "renewDeadline": 2.0,
           "retryPeriod": 0.5, "reconnectBackoff": [0.2, 0.4, 0.8], "dockerLeaderLease": 3.0,
           "requestTimeout": 2.0, "startTimeout": 40.0}


@pytest.fixture(scope="session")
def run_id() -> str:
    return secrets.token_hex(4)


@pytest.fixture(scope="session")
def agent_key() -> str:
    return secrets.token_hex(32)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("agents")


@pytest.fixture(scope="session")
def key_file(workdir: Path, agent_key: str) -> Path:
    path = workdir / "agent.key"
    path.write_text(agent_key + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def fake_cp(agent_key: str) -> Iterator[FakeControlPlane]:
    cp = FakeControlPlane(agent_key).start()
    try:
        yield cp
    finally:
        cp.stop()


def write_config(path: Path, run_id: str, **extra: object) -> Path:
    data = {"timings": TIMINGS, "labels": {"run": f"streamspace.kit/run={run_id}"},
            "network": f"streamspace-t{run_id}", "region": "local", **extra}
    path.write_text(json.dumps(data))
    return path


class Agents:
    """Agent processes of one test; every one is stopped at the end, even on failure."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.procs: dict[str, ManagedProcess] = {}

    def start(self, module: str, name: str, args: list[str]) -> ManagedProcess:
        argv = [sys.executable, "-m", f"environments.local.platform.agents.{module}", *args]
        proc = ManagedProcess(name, argv, self.workdir / f"{name}.log", cwd=ROOT,
                              env={"PYTHONUNBUFFERED": "1"}).start()
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.stop(grace=5.0)

    def leftovers(self) -> list[str]:
        """Processes of this test still alive: agents, kubelets and the pods they started."""
        left = []
        for name, proc in self.procs.items():
            if proc.running():
                left.append(f"{name} (pid {proc.pid})")
        for process in psutil.process_iter(["pid", "cmdline"]):
            cmdline = " ".join(process.info["cmdline"] or [])
            if str(self.workdir) in cmdline or "-interface 127.0.201." in cmdline:
                left.append(f"pid {process.info['pid']}: {cmdline[:120]}")
        return left


@pytest.fixture
def agents(tmp_path: Path) -> Iterator[Agents]:
    group = Agents(tmp_path)
    try:
        yield group
    finally:
        group.stop_all()
    deadline = time.monotonic() + 5.0
    while (left := group.leftovers()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes left behind: {left}"


def wait_until(check: Callable[[], object], timeout: float, what: str, poll: float = 0.05) -> object:
    start = time.monotonic()
    last: object = None
    while time.monotonic() - start < timeout:
        last = check()
        if last:
            return last
        time.sleep(poll)
    raise AssertionError(f"{what}: not true within {timeout:g} s; last seen: {last!r}")
