"""The ``compose`` driver: the reference stack as containers (environments/compose/).

``start`` finds the container engine (a running Docker, else the kit's Podman service), builds
the platform image locally if needed, brings the compose project up with a compose tool, and
waits until every API replica answers ``/health`` and the Kubernetes agent is online. Faults act
on the containers through the Docker API: kill, stop, start, restart; a partition disconnects a
container from the networks it shares with the other side. ``stop`` takes the project down
(containers, networks, volumes) and stops a Podman service it started.

Settings: ``KIT_COMPOSE_*`` Robot variables (environments/compose/variables.yaml) or environment
variables of the same names (see :class:`environments.compose.stack.ComposeSettings`).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

from EnvironmentKit.drivers.base import EnvironmentDriver
from EnvironmentKit.topology import Topology
from kitcore import KitError, Wait, WaitTimeout
from kitcore.variables import robot_variable


class ComposeDriver(EnvironmentDriver):
    name = "compose"

    def __init__(self, **options: Any) -> None:
        from environments.compose.stack import ComposeSettings

        overrides = {("agent_replicas" if k == "k8s_agents" else k): v for k, v in options.items()
                     if k not in ("docker_agents", "only")}
        self.settings = ComposeSettings.load(robot_variable, **overrides)
        self.stack: Any = None
        self.engine: Any = None
        self._workdir: Path | None = None

    @property
    def test_target(self) -> bool:  # type: ignore[override]
        return bool(self.stack is not None and self.stack.guard.allows(self.stack.project))

    @property
    def started_here(self) -> bool:
        return self.stack is not None

    def _client(self) -> tuple[Any, str]:
        import docker

        if self.settings.engine_url:
            return docker.DockerClient(base_url=self.settings.engine_url, timeout=60), self.settings.engine_url
        from environments.local.engine import Engine

        self._workdir = Path(tempfile.mkdtemp(prefix="kit-compose-"))
        self.engine = Engine(self._workdir / "engine").start()
        return self.engine.client(), self.engine.url

    def start(self, timeout: float) -> Topology:
        from environments.compose.images import ensure_platform_image
        from environments.compose.stack import ComposeStack

        client, url = self._client()
        try:
            image = ensure_platform_image(client)
            self.stack = ComposeStack(self.settings, client, url, image)
            self.stack.up()
            seen = {"last": ""}

            def probe() -> bool:
                ready, seen["last"] = self.stack.readiness()
                return ready

            Wait("the compose stack is ready", timeout=timeout, poll=1.0).until(probe, describe=lambda _: seen["last"])
        except WaitTimeout as error:
            self.stop()
            raise KitError("The compose environment was not ready in time", cause=error.cause,
                           fix="read what was last seen (containers that stopped show their last log lines); "
                               "raise ENVIRONMENT_START_TIMEOUT if it was only slow") from None
        except BaseException:
            self.stop()  # up or the image build failed: their errors already name the cause and the fix
            raise
        return self.topology()

    def attach(self, topology: dict[str, Any]) -> Topology:
        raise KitError("Attaching to a running compose stack is not supported",
                       fix="let 'Start Test Environment' start it (ENVIRONMENT=compose)")

    def stop(self, timeout: float = 30.0) -> None:
        stack, self.stack = self.stack, None
        if stack is not None:
            stack.down()
        engine, self.engine = self.engine, None
        if engine is not None:
            with contextlib.suppress(Exception):
                engine.stop()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _stack(self) -> Any:
        if self.stack is None:
            raise KitError("No compose environment is running", fix="call 'Start Test Environment' first")
        return self.stack

    def topology(self) -> Topology:
        return Topology(self._stack().topology())

    def component(self, name: str, action: str) -> Topology:
        self._stack().component(name, action)
        return self.topology()

    def partition(self, a: str, b: str) -> Topology:
        self._stack().partition(a, b)
        return self.topology()

    def heal(self) -> Topology:
        self._stack().heal()
        return self.topology()

    def partitions(self) -> list[dict[str, Any]]:
        return self._stack().partitions()


def register() -> None:
    """Make ``ENVIRONMENT=compose`` use this driver."""
    from EnvironmentKit.drivers import register_driver

    register_driver("compose", ComposeDriver)
