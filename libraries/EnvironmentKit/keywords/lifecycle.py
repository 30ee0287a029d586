"""Start, attach to and stop the test environment."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from EnvironmentKit import state
from EnvironmentKit.drivers import create_driver
from EnvironmentKit.topology import Topology
from kitcore import CleanupListener, KitError, to_seconds
from kitcore.variables import robot_variable

DEFAULT_ENVIRONMENT = "local"
OPTIONS = ("api_replicas", "k8s_agents", "docker_agents", "only", "platform", "programs", "engine")


def environment_request(lookup: Callable[[str], Any], environment: str | None = None, default: str | None = None,
                        **given: Any) -> tuple[str, str | None, dict[str, Any]]:
    """The environment a run asks for: its name, its driver's module and the driver's options, from the
    arguments ``given``, else the run's variables (``lookup(NAME)``), else the process environment.
    ``Start Test Environment`` and a parallel run (EnvironmentKit.parallel) choose alike."""
    name = str(environment or lookup("ENVIRONMENT") or os.environ.get("ENVIRONMENT") or default
               or DEFAULT_ENVIRONMENT)
    if name == "local":
        given["platform"] = given.get("platform") or lookup("LOCAL_PLATFORM") or os.environ.get("KIT_PLATFORM")
        given["programs"] = (given.get("programs") or lookup("LOCAL_PLATFORM_PROGRAMS")
                             or os.environ.get("KIT_PLATFORM_PROGRAMS"))
        given["engine"] = given.get("engine") or lookup("LOCAL_ENGINE") or os.environ.get("KIT_ENGINE")
    options = {key: given[key] for key in OPTIONS if given.get(key) is not None and given.get(key) != ""}
    module = lookup("ENVIRONMENT_DRIVER") or os.environ.get("ENVIRONMENT_DRIVER")
    return name, str(module) if module else None, options


class LifecycleKeywords:
    def __init__(self, listener: CleanupListener, default_environment: str | None, start_timeout: str) -> None:
        self.listener = listener
        self.default_environment = default_environment
        self.start_timeout = start_timeout

    @keyword("Start Test Environment")
    def start_test_environment(
        self,
        environment: str | None = None,
        timeout: str | None = None,
        api_replicas: int | None = None,
        k8s_agents: int | None = None,
        docker_agents: int | None = None,
        only: str | None = None,
        topology_file: str | None = None,
        platform: str | None = None,
        programs: str | None = None,
        engine: str | None = None,
        own: bool = False,
    ) -> dict[str, Any]:
        """Start the environment chosen by ``environment`` (or ``${ENVIRONMENT}``, default ``local``)
        and wait until it is healthy; returns its topology (credentials masked).

        When ``topology_file``, ``${ENVIRONMENT_TOPOLOGY_FILE}`` or the environment variable
        ``KIT_TOPOLOGY`` names the topology of a stack already running (``./kit stack``), the
        library attaches to it instead and never stops it.

        An environment this keyword starts is stopped at the end of the suite (or test) that
        started it, also when it fails, and at interpreter exit.

        ``only`` limits the local stack to some components (``redis,postgres``); the replica
        counts size it. ``platform`` picks the platform under test on the local stack: ``reference``
        (the kit's own, the default), ``streamspace`` or a platform file's path
        (default ``${LOCAL_PLATFORM}``); ``programs`` is the folder of its programs
        (default ``${LOCAL_PLATFORM_PROGRAMS}``), see docs/streamspace-v2.md. ``engine`` picks the
        local stack's container engine: ``auto``, ``docker`` (a Docker engine that answers, else the
        kit's private one) or ``podman`` (default ``${LOCAL_ENGINE}``, else the environment variable
        ``KIT_ENGINE``, else ``auto``). On failure the error carries the tail of the supervisor's log.

        ``own=True`` is for suites that break components (kill replicas, cut links): in a parallel run,
        where every process shares one environment (``python -m EnvironmentKit.parallel``), such a suite
        starts an environment of its own, used until the end of the suite, so that it disturbs no other
        suite; in any other run it uses the run's environment like every suite.

        Example:
        | Start Test Environment | local | timeout=2 min | api_replicas=2 |
        | Start Test Environment | own=${TRUE} |
        """
        active = state.current()
        attach = topology_file or robot_variable("ENVIRONMENT_TOPOLOGY_FILE") or os.environ.get(state.TOPOLOGY_ENV_VAR)
        if active is None and attach:
            active = state.attach_file(str(attach))
            logger.info(f"Attached to the running '{active.topology.environment}' environment "
                        f"(run {active.topology.run_id}) described by {attach}")
        elif active is not None:
            logger.info(f"Test environment '{active.topology.environment}' is already running")
        if active is not None:
            if not (own and active.attached and state.shared()):
                return active.topology.public()
            logger.info("The run's environment is shared by parallel processes and this suite breaks components: "
                        "it starts an environment of its own")
        name, module, options = environment_request(
            robot_variable, environment, self.default_environment, api_replicas=api_replicas,
            k8s_agents=k8s_agents, docker_agents=docker_agents, only=only, platform=platform, programs=programs,
            engine=engine)
        driver = create_driver(name, module=module, **options)
        budget = to_seconds(timeout or robot_variable("ENVIRONMENT_START_TIMEOUT") or self.start_timeout)
        logger.info(f"Starting the '{name}' test environment (up to {budget:g} s)")
        topology = driver.start(budget)
        state.set_current(state.ActiveEnvironment(driver, topology, attached=False, previous=active))
        self.listener.register(f"the '{name}' test environment", lambda: self._stop(driver), key="environment")
        logger.info(f"The '{name}' environment is ready: run {topology.run_id}, "
                    f"{len(topology.api_replicas)} API replica(s)")
        return topology.public()

    def _stop(self, driver: Any) -> None:
        active = state.current()
        if active is not None and active.driver is driver:
            state.set_current(active.previous)  # back to the run's shared environment, if it stood in for one
        driver.stop(30.0)

    @keyword("Stop Test Environment")
    def stop_test_environment(self) -> None:
        """Stop the environment this run started; detach from one it only attached to.

        Example:
        | Stop Test Environment |
        """
        active = state.current()
        if active is None:
            logger.info("No test environment is running")
            return
        self.listener.forget("environment")
        state.set_current(active.previous)
        if active.attached:
            logger.info("Detached from the environment (it was started elsewhere and keeps running)")
        active.driver.stop(30.0)

    @keyword("Test Environment Should Be Running")
    def test_environment_should_be_running(self) -> None:
        """Fail unless an environment is running and its control API answers.

        Example:
        | Test Environment Should Be Running |
        """
        try:
            current_topology()
        except KitError as error:
            raise AssertionError(f"The test environment is not running: {error}") from None


def current_topology() -> Topology:
    """A fresh topology from the running environment's driver."""
    driver = state.require_driver()
    topology = driver.topology()
    active = state.current()
    if active is not None:
        active.topology = topology
    return topology
