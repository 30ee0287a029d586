"""Connect To Container Engine, Switch / Close All, Get Engine Version, Engine Should Answer."""

from __future__ import annotations

import os
from pathlib import Path

import docker
from robot.api import logger
from robot.api.deco import keyword

from DockerKit.context import DockerContext, EngineHandle, open_client, unreachable
from kitcore import AssertionOperator, Check, KitError, get_and_assert, getter, to_seconds

DEFAULT_SOCKETS = ("/var/run/docker.sock", "/run/podman/podman.sock")


def discover_url() -> str:
    """DOCKER_HOST, else the first default socket that exists, else Docker's default socket."""
    if os.environ.get("DOCKER_HOST"):
        return os.environ["DOCKER_HOST"]
    for path in DEFAULT_SOCKETS:
        if Path(path).exists():
            return f"unix://{path}"
    return f"unix://{DEFAULT_SOCKETS[0]}"


class ConnectionKeywords:
    def __init__(self, ctx: DockerContext) -> None:
        self.ctx = ctx

    @keyword("Connect To Container Engine", tags=["connection"])
    def connect_to_container_engine(self, url: str | None = None, alias: str | None = None,
                                    timeout: str | float | None = None) -> str:
        """Connect to a Docker API (Docker, or Podman's Docker-compatible service) and make it current.

        ``url`` is ``unix:///path/to.sock`` or ``tcp://host:port``; without it, ``DOCKER_HOST`` is used,
        else ``/var/run/docker.sock``, else ``/run/podman/podman.sock``. ``timeout`` bounds every call
        to the engine (default: the library's ``timeout``). The engine must answer a ping at once.

        Returns the engine's kind (``docker`` or ``podman``).

        Example:
        | Connect To Container Engine | unix:///run/podman/podman.sock | alias=local | timeout=20s |
        | Connect To Container Engine | # DOCKER_HOST or the default socket |
        """
        target = url or discover_url()
        seconds = to_seconds(timeout if timeout is not None else self.ctx.timeout, 30.0)
        try:
            client, kind, api_version = open_client(target, seconds)
        except docker.errors.DockerException as error:
            raise KitError(f"Cannot use the container engine address '{target}'", str(error),
                           "write it as unix:///path/to/docker.sock or tcp://host:port") from None
        except Exception as error:  # noqa: BLE001 - any failure means it does not answer
            raise unreachable("Connecting to the container engine", target, error, seconds) from None
        handle = EngineHandle(client, target, seconds, kind, alias, self.ctx.helper_image, api_version)
        self.ctx.connections.add(handle, alias)
        logger.info(f"Connected to {kind} (API {api_version}) at {target}")
        return kind

    @keyword("Switch Container Engine Connection", tags=["connection"])
    def switch_container_engine_connection(self, alias: str) -> str:
        """Make the connection named ``alias`` the current one; returns its URL.

        Example:
        | Switch Container Engine Connection | local |
        """
        return self.ctx.connections.switch(alias).url

    @keyword("Close All Container Engine Connections", tags=["connection"])
    def close_all_container_engine_connections(self) -> None:
        """Close every engine connection.

        What the library created is still removed by its cleanup listener at the end of the test
        or suite (it opens its own connection for that).

        Example:
        | [Teardown] | Close All Container Engine Connections |
        """
        self.ctx.connections.close_all()

    @keyword("Get Engine Version", tags=["connection", "getter"])
    @getter
    def get_engine_version(self, *, check: Check, field: str = "Version", alias: str | None = None) -> str:
        """The engine's version (``field=ApiVersion`` for the API version); can assert it.

        Example:
        | ${version} = | Get Engine Version |
        | Get Engine Version | >= | 1.41 | field=ApiVersion |
        """
        handle = self.ctx.handle(alias)

        def read() -> str:
            with self.ctx.call(handle, "Reading the engine version"):
                return str(handle.client.version().get(field, ""))

        return check(read, f"Engine {field}")

    @keyword("Engine Should Answer", tags=["connection", "assertion"])
    def engine_should_answer(self, timeout: str | float = "5s", alias: str | None = None) -> None:
        """Fail unless the engine answers a ping (retrying until ``timeout``).

        Example:
        | Engine Should Answer | timeout=10s |
        """
        handle = self.ctx.handle(alias)

        def ping() -> bool:
            with self.ctx.call(handle, "Pinging the engine"):
                return bool(handle.client.ping())

        get_and_assert(ping, AssertionOperator["=="], True, f"Engine at {handle.url} answers", timeout)
