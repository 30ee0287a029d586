"""ChaosKit: every fault applied and undone on real processes (API replicas, agent stand-ins,
a real Redis) behind the control API of the tests' fake supervisor; the safety latch."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from ChaosKit.core import ChaosCore
from EnvironmentKit.drivers import EnvironmentDriver
from EnvironmentKit.topology import Topology
from kitcore import CleanupListener, TargetGuard, TargetRefused

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_environmentkit import run_suite, start_fake, stop_fake  # noqa: E402


@pytest.fixture
def fake_stack(tmp_path):
    proc, ready = start_fake(tmp_path, "--redis")
    try:
        yield ready
    finally:
        stop_fake(proc)


def test_robot_suite_applies_and_undoes_every_fault(fake_stack, tmp_path):
    rc, output = run_suite("chaoskit.robot", tmp_path / "out", TOPOLOGY_FILE=str(fake_stack))
    # exactly one test fails, on purpose: the one that kills api-1 and then fails
    assert rc == 1, f"{rc} Robot test(s) failed; see {tmp_path}/out/log.html"
    assert 'pass="11" fail="1"' in output
    assert "failing on purpose after killing api-1" in output
    # after the run nothing is left broken
    import json

    control = json.loads(fake_stack.read_text())["control"]
    topology = requests.get(f"{control}/topology", timeout=5).json()
    assert all(r["running"] for r in topology["api"])
    assert topology["redis"]["running"]
    assert requests.get(f"{control}/partitions", timeout=5).json() == {"partitions": []}


class _Driver(EnvironmentDriver):
    """A driver of a non-disposable environment; records what it was asked to do."""

    name = "kind"
    test_target = False

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.data = {"environment": "kind", "api": [{"name": "api-1", "url": "http://x", "running": True}]}

    def start(self, timeout: float) -> Topology:
        return Topology(self.data)

    def attach(self, topology: dict[str, Any]) -> Topology:
        return Topology(self.data)

    def stop(self, timeout: float) -> None:
        pass

    def topology(self) -> Topology:
        return Topology(self.data)

    def component(self, name: str, action: str) -> Topology:
        self.calls.append((action, name))
        return Topology(self.data)

    def partition(self, a: str, b: str) -> Topology:
        return Topology(self.data)

    def heal(self) -> Topology:
        return Topology(self.data)

    def partitions(self) -> list[dict[str, Any]]:
        return []

    @property
    def started_here(self) -> bool:
        return False


def test_guard_refuses_components_of_environments_that_are_not_test_targets(monkeypatch):
    monkeypatch.delenv("CHAOS_TEST_TARGETS", raising=False)
    core = ChaosCore(CleanupListener("ChaosKit"), TargetGuard("ChaosKit", "CHAOS_TEST_TARGETS"))
    driver = _Driver()
    with pytest.raises(TargetRefused, match=r"refused to kill component 'kind/api-1'.*CHAOS_TEST_TARGETS=kind/api-1"):
        core.check(driver, "kill", "api-1")
    assert driver.calls == []


def test_guard_allows_allow_listed_components(monkeypatch):
    monkeypatch.setenv("CHAOS_TEST_TARGETS", "kind/api-*")
    core = ChaosCore(CleanupListener("ChaosKit"), TargetGuard("ChaosKit", "CHAOS_TEST_TARGETS"))
    core.check(_Driver(), "kill", "api-1")
    with pytest.raises(TargetRefused):
        core.check(_Driver(), "kill", "redis")


def test_kill_keyword_refuses_before_acting(monkeypatch):
    from ChaosKit import ChaosKit
    from EnvironmentKit import state

    monkeypatch.delenv("CHAOS_TEST_TARGETS", raising=False)
    driver = _Driver()
    state.set_current(state.ActiveEnvironment(driver, driver.topology(), attached=True))
    try:
        library = ChaosKit()
        with pytest.raises(TargetRefused):
            library.run_keyword("Kill API Replica", ["1"], {})
        assert driver.calls == []
        assert library.run_keyword("Get Chaos Timeline", [], {}) == []
        allowed = ChaosKit(test_targets="kind/api-1")
        assert allowed.run_keyword("Kill API Replica", ["1"], {}) == "api-1"
        assert driver.calls == [("kill", "api-1")]
    finally:
        state.set_current(None)


class _LocalDriver(_Driver):
    """A disposable environment with a database whose running flag follows what was done to it."""

    name = "local"
    test_target = True

    def __init__(self) -> None:
        super().__init__()
        self.data = {**self.data, "environment": "local", "postgres": {"running": True}}

    def component(self, name: str, action: str) -> Topology:
        self.calls.append((action, name))
        self.data[name]["running"] = action == "start"
        return Topology(self.data)


def test_losing_the_database_stops_it_and_restoring_starts_it_once(monkeypatch):
    import time

    from ChaosKit import ChaosKit
    from EnvironmentKit import state

    driver = _LocalDriver()
    state.set_current(state.ActiveEnvironment(driver, driver.topology(), attached=True))
    try:
        library = ChaosKit()
        before = time.monotonic()
        library.run_keyword("Lose The Database", [], {})
        assert driver.calls == [("stop", "postgres")]
        fault_at = library.run_keyword("Get Time Of First Fault", [], {"after": before})
        assert before <= fault_at <= time.monotonic()
        with pytest.raises(AssertionError, match="no fault was applied after the probes started watching"):
            library.run_keyword("Get Time Of First Fault", [], {"after": time.monotonic()})
        library.run_keyword("Restore The Database", [], {})
        library.run_keyword("Restore The Database", [], {})  # nothing left to undo: does nothing
        assert driver.calls == [("stop", "postgres"), ("start", "postgres")]
        library.run_keyword("Chaos Should Be Undone", [], {})
        library.run_keyword("Lose The Database", [], {"graceful": False})
        assert driver.calls[-1] == ("kill", "postgres")
        library.run_keyword("Heal Everything", [], {})
        assert driver.calls[-1] == ("start", "postgres")
    finally:
        state.set_current(None)
