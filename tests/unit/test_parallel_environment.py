"""A parallel run shares one environment; a suite that breaks components gets one of its own there, and only there.

EnvironmentKit's life cycle is driven with a driver that records what it is asked (no stack): attaching
to the shared topology, ``own=True`` in a parallel run (a new environment, the shared one restored after
the suite), ``own=True`` in any other run (the run's environment), and the parallel runner's choice of
environment from the same variables robot reads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest

from EnvironmentKit import parallel, state
from EnvironmentKit.drivers import register_driver
from EnvironmentKit.drivers.base import EnvironmentDriver
from EnvironmentKit.keywords.lifecycle import LifecycleKeywords, environment_request
from EnvironmentKit.topology import Topology

REPO = Path(__file__).resolve().parents[2]


class RecordingDriver(EnvironmentDriver):
    name = "recording"
    started: ClassVar[list[RecordingDriver]] = []

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.running: Topology | None = None
        self.stopped = False
        self.here = False

    def start(self, timeout: float) -> Topology:
        RecordingDriver.started.append(self)
        self.here = True
        self.running = Topology({"environment": "recording", "api": [], "runId": f"own-{len(self.started)}"})
        return self.running

    def attach(self, topology: dict[str, Any]) -> Topology:
        self.running = Topology(topology)
        return self.running

    def stop(self, timeout: float) -> None:
        self.stopped = self.here

    def topology(self) -> Topology:
        assert self.running is not None
        return self.running

    def component(self, name: str, action: str) -> Topology:
        return self.topology()

    def partition(self, a: str, b: str) -> Topology:
        return self.topology()

    def heal(self) -> Topology:
        return self.topology()

    def partitions(self) -> list[dict[str, Any]]:
        return []

    @property
    def started_here(self) -> bool:
        return self.here


class Scopes:
    """The undo registry of a suite: what the keywords register, run at the suite's end."""

    def __init__(self) -> None:
        self.undos: list[Any] = []

    def register(self, description: str, action: Any, key: str | None = None) -> None:
        self.undos.append(action)

    def forget(self, key: str) -> None:
        self.undos.clear()

    def end_suite(self) -> None:
        for action in reversed(self.undos):
            action()
        self.undos.clear()


@pytest.fixture
def shared_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    register_driver("recording", RecordingDriver)
    RecordingDriver.started.clear()
    file = tmp_path / "topology.json"
    file.write_text(json.dumps({"environment": "recording", "api": [], "runId": "shared"}))
    monkeypatch.setenv(state.TOPOLOGY_ENV_VAR, str(file))
    monkeypatch.setenv("ENVIRONMENT", "recording")
    monkeypatch.delenv(state.SHARED_ENV_VAR, raising=False)
    state.set_current(None)
    yield file
    state.set_current(None)


def test_in_a_parallel_run_a_suite_that_breaks_components_gets_its_own_and_gives_it_back(
        shared_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(state.SHARED_ENV_VAR, "1")
    scopes = Scopes()
    keywords = LifecycleKeywords(scopes, None, "10 s")
    assert keywords.start_test_environment()["runId"] == "shared"  # the run's setup attaches
    assert keywords.start_test_environment()["runId"] == "shared"  # a suite that breaks nothing uses it
    assert not RecordingDriver.started
    assert keywords.start_test_environment(own=True)["runId"] == "own-1"
    assert state.current().topology.run_id == "own-1" and state.current().previous.topology.run_id == "shared"
    own = RecordingDriver.started[0]
    scopes.end_suite()
    assert own.stopped, "the suite's own environment was not stopped at its end"
    assert state.current().topology.run_id == "shared", "the shared environment was not given back"
    assert not state.current().driver.started_here  # and nothing stops it but the runner


def test_a_suite_run_alone_asks_for_its_own_and_gets_it_at_once(shared_run: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(state.SHARED_ENV_VAR, "1")
    monkeypatch.delenv(state.TOPOLOGY_ENV_VAR)  # nothing shared to attach to: it starts one, once
    keywords = LifecycleKeywords(Scopes(), None, "10 s")
    assert keywords.start_test_environment(own=True)["runId"] == "own-1"
    assert keywords.start_test_environment(own=True)["runId"] == "own-1"
    assert len(RecordingDriver.started) == 1


def test_outside_a_parallel_run_own_uses_the_runs_environment(shared_run: Path) -> None:
    keywords = LifecycleKeywords(Scopes(), None, "10 s")
    assert keywords.start_test_environment(own=True)["runId"] == "shared"
    assert not RecordingDriver.started


def test_the_runner_chooses_the_environment_as_robot_would(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.delenv("KIT_ENGINE", raising=False)
    lookup = parallel.lookup_in(parallel.run_variables([], []))
    assert environment_request(lookup)[0] == "local"  # variables/defaults.yaml
    lookup = parallel.lookup_in(parallel.run_variables([str(REPO / "environments/kind/variables.yaml")], []))
    assert environment_request(lookup)[:2] == ("kind", "environments.kind.driver")
    lookup = parallel.lookup_in(parallel.run_variables([], ["LOCAL_ENGINE:docker", "LOCAL_PLATFORM:streamspace"]))
    name, _, options = environment_request(lookup)
    assert (name, options["engine"], options["platform"]) == ("local", "docker", "streamspace")


def test_a_variable_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="Cannot read the variable file") as caught:
        parallel.run_variables([str(tmp_path / "missing.yaml")], [])
    assert "robot -V" in str(caught.value)


def test_the_runner_gives_pabot_the_order_the_variables_and_the_results_folder() -> None:
    args, rest = parallel.parse(["--processes", "2", "-v", "A:1", "-V", "x.yaml", "--include", "smoke", "suites/"])
    command = parallel.pabot_command(args, rest)
    assert command[1:5] == ["--processes", "2", "--no-pabotlib", "--outputdir"]
    assert command[5] == str(REPO / "results")
    assert ["--ordering", str(parallel.ORDER)] == command[6:8]
    assert command[-3:] == ["--include", "smoke", "suites/"]
    assert "--variable" in command and "A:1" in command and "x.yaml" in command
    with pytest.raises(SystemExit):
        parallel.parse(["--processes", "2"])  # no suites


def test_the_suite_order_names_every_suite_and_only_suites() -> None:
    from robot.api import TestSuiteBuilder

    top = TestSuiteBuilder().build(str(REPO / "suites"))
    names = {f"{top.name}.{suite.name}" for suite in top.suites}
    lines = parallel.ORDER.read_text().splitlines()
    ordered = [line.removeprefix("--suite ").strip() for line in lines if line.strip()]
    assert sorted(ordered) == sorted(names), f"variables/suite-order.txt lists {ordered}; the suites are {names}"


# ChaosKit keywords that break a component other suites use (the healing and reading ones do not)
BREAKING = {"kill api replica", "kill random api replica", "stop api replica", "restart api replica",
            "kill agent leader", "kill docker agent", "kill component", "lose redis", "lose the database",
            "partition"}


def _normal(name: str) -> str:
    """A keyword name as Robot Framework matches it: no library prefix, no BDD prefix, case and spaces ignored."""
    words = name.removeprefix("ChaosKit.").replace("_", " ").lower().split()
    return " ".join(words[1:] if len(words) > 1 and words[0] in ("given", "when", "then", "and", "but") else words)


def _calls(body: Any) -> Any:
    """Every keyword call in a body, its control structures' bodies included: (name, args)."""
    for item in body or ():
        if getattr(item, "type", "") in ("KEYWORD", "SETUP", "TEARDOWN") and getattr(item, "name", None):
            yield item.name, tuple(str(arg) for arg in item.args)
        yield from _calls(getattr(item, "body", None))


def _keyword_bodies() -> dict[str, Any]:
    from robot.running import ResourceFileBuilder

    found: dict[str, Any] = {}
    for path in sorted((REPO / "resources").glob("*.resource")):
        for keyword in ResourceFileBuilder().build(path).keywords:
            found[_normal(keyword.name)] = keyword
    return found


def _reaches(calls: Any, bodies: dict[str, Any], wanted: Any, seen: set[str] | None = None) -> bool:
    """Whether ``calls`` (name, args) or the resource keywords they call reach a call ``wanted(name, args)``."""
    import re

    seen = set() if seen is None else seen
    for name, args in calls:
        if wanted(_normal(name), args):
            return True
        key = _normal(name)
        if key not in bodies:  # an embedded-argument keyword: its name as a pattern
            key = next((known for known in bodies if "${" in known and re.fullmatch(
                re.sub(r"\\\$\\{[^}]*\\}", ".+", re.escape(known)), key)), key)
        if key in bodies and key not in seen:
            seen.add(key)
            keyword = bodies[key]
            inner = list(_calls(keyword.body)) + list(_calls([keyword.setup, keyword.teardown]))
            if _reaches(inner, bodies, wanted, seen):
                return True
    return False


def test_every_suite_that_breaks_components_asks_for_its_own_environment() -> None:
    """In a parallel run a suite that kills, stops or cuts off a component on the shared environment breaks the
    suites using it at that moment (08 killed every Docker agent while 04's browser watched a Docker desktop:
    its stream ended with 1011). Such a suite must start with ``own=${TRUE}``."""
    from robot.api import TestSuiteBuilder

    bodies = _keyword_bodies()
    breaking = lambda name, _args: name in BREAKING  # noqa: E731
    owns = lambda name, args: "own=${TRUE}" in args  # noqa: E731
    offenders = []
    for suite in TestSuiteBuilder().build(str(REPO / "suites")).suites:
        local = {_normal(k.name): k for k in suite.resource.keywords}
        known = {**bodies, **local}
        tests = [call for test in suite.tests for call in _calls([test.setup, *test.body, test.teardown])]
        setup = list(_calls([suite.setup]))
        if _reaches(tests, known, breaking) and not _reaches(setup, known, owns):
            offenders.append(suite.name)
    assert not offenders, f"these suites break shared components without own=${{TRUE}} in their setup: {offenders}"
    assert _reaches([("The Cross Platform Test Environment Is Running", ())], bodies, owns)
