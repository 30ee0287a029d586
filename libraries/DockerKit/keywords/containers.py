"""Containers: run, state, lifecycle, listing, ports, logs, exec."""

from __future__ import annotations

from typing import Any

import docker.errors
from robot.api import logger
from robot.api.deco import keyword

from DockerKit.context import (
    DockerContext,
    EngineHandle,
    parse_command,
    parse_pairs,
    parse_ports,
    parse_volumes,
)
from kitcore import Check, KitError, Wait, getter, to_seconds
from kitcore.containers import list_containers
from kitcore.logging import log_table
from kitcore.units import converted, parse_bytes, parse_cpu

SIGNALS = {"SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "SIGSTOP", "SIGCONT", "SIGUSR1", "SIGUSR2", "SIGQUIT"}


class ContainerKeywords:
    def __init__(self, ctx: DockerContext) -> None:
        self.ctx = ctx

    # -- helpers ------------------------------------------------------------------------------------
    def _guarded(self, handle: EngineHandle, name: str, action: str) -> Any:
        container = self.ctx.container(handle, name)
        self.ctx.guard.check(action, "container", container.name, container.labels)
        return container

    def _state(self, handle: EngineHandle, name: str) -> str:
        container = self.ctx.container(handle, name)
        return str(container.attrs.get("State", {}).get("Status") or container.status)

    # -- creating -----------------------------------------------------------------------------------
    @keyword("Run Container", tags=["containers"])
    def run_container(
        self,
        image: str,
        command: str | list[str] | None = None,
        name: str | None = None,
        labels: dict[str, str] | list[str] | str | None = None,
        env: dict[str, str] | list[str] | str | None = None,
        ports: dict[str, Any] | list[str] | str | None = None,
        cpu: str | float | None = None,
        memory: str | None = None,
        network: str | None = None,
        volumes: dict[str, Any] | list[str] | str | None = None,
        detach: bool = True,
        timeout: str | float = "60s",
        alias: str | None = None,
    ) -> str:
        """Create and start a container from a local ``image``; returns its name.

        Every container carries the kit's label and is removed (forced) at the end of the test, or
        of the suite when run in a suite setup — even when the test fails.

        - ``command``: a string (split like a shell) or a list.
        - ``labels`` and ``env``: ``key=value`` pairs (comma separated) or a dictionary.
        - ``ports``: ``5900`` publishes container port 5900 on a free port of 127.0.0.1
          (see `Get Published Port`); ``15900:5900`` chooses the host port.
        - ``cpu``: cores (``0.5``, ``500m``); ``memory``: ``64Mi``, ``1Gi`` (swap is not added).
        - ``volumes``: ``name:/path`` or ``name:/path:ro``, comma separated.
        - ``detach=False`` waits (up to ``timeout``) until the container exits.

        The image is never pulled: build it with `Build Image` first if needed.

        Example:
        | ${name} = | Run Container | ${BUSYBOX} | sleep 300 | cpu=0.5 | memory=64Mi | labels=app=streamspace |
        | Run Container | ${SESSION_IMAGE} | ports=5900 | env=VNC_GEOMETRY=800x600 | network=${net} |
        """
        handle = self.ctx.handle(alias)
        name = name or self.ctx.new_name("c")
        options: dict[str, Any] = {
            "name": name,
            "command": parse_command(command),
            "labels": {**parse_pairs(labels, "labels"), **self.ctx.kit_labels},
            "environment": parse_pairs(env, "env"),
            "ports": parse_ports(ports),
            "volumes": parse_volumes(volumes),
            "detach": True,
        }
        if network:
            options["network"] = network
        if cpu not in (None, ""):
            options["nano_cpus"] = int(converted(cpu, parse_cpu, "cores") * 1e9)
        if memory not in (None, ""):
            limit = converted(memory, parse_bytes, "bytes")
            options["mem_limit"] = limit
            options["memswap_limit"] = limit
        with self.ctx.call(handle, f"Checking image '{image}'", "image", image):
            try:
                handle.client.images.get(image)
            except docker.errors.ImageNotFound:
                raise KitError(f"Cannot run a container from image '{image}'",
                               f"the engine at {handle.url} has no such image (DockerKit never pulls)",
                               "build it with 'Build Image' (or the kit's images module) first") from None
        with self.ctx.call(handle, f"Running container '{name}' from {image}", "container", name):
            try:
                container = handle.client.containers.create(image, **{k: v for k, v in options.items()
                                                                       if k != "detach"})
            except docker.errors.NotFound as error:
                raise KitError(f"Running container '{name}' failed", str(error.explanation or error),
                               "check network= and volumes= name objects that exist") from None
            self.ctx.register_removal(handle, "container", name, f"container:{name}")
            container.start()
        logger.info(f"Started container {name} ({image}) {options['command'] or ''}")
        if not detach:
            self.wait_until_container_is(name, "exited", timeout=timeout, alias=alias)
        return name

    # -- state --------------------------------------------------------------------------------------
    @keyword("Get Container State", tags=["containers", "getter"])
    @getter
    def get_container_state(self, container: str, *, check: Check, alias: str | None = None) -> str:
        """The container's state: ``created``, ``running``, ``paused``, ``exited`` ...; can assert it.

        Example:
        | Get Container State | ${name} | == | running |
        | Get Container State | ${name} | == | exited | timeout=10s |
        """
        handle = self.ctx.handle(alias)
        return check(lambda: self._state(handle, container), f"State of container '{container}'")

    @keyword("Get Container Exit Code", tags=["containers", "getter"])
    @getter
    def get_container_exit_code(self, container: str, *, check: Check, alias: str | None = None) -> int:
        """The exit code of an exited container (137 = killed, e.g. by the memory limit); can assert it.

        Example:
        | Get Container Exit Code | ${name} | == | 137 | timeout=10s |
        """
        handle = self.ctx.handle(alias)

        def read() -> int:
            return int(self.ctx.container(handle, container).attrs.get("State", {}).get("ExitCode", -1))

        return check(read, f"Exit code of container '{container}'")

    @keyword("Wait Until Container Is", tags=["containers", "wait"])
    def wait_until_container_is(self, container: str, state: str, timeout: str | float = "30s",
                                poll: str | float = "0.2s", alias: str | None = None) -> str:
        """Wait until the container is in ``state`` (``running``, ``exited``, ``paused``...).

        Example:
        | Wait Until Container Is | ${name} | exited | timeout=20s |
        """
        handle = self.ctx.handle(alias)
        wanted = state.strip().lower()
        wait = Wait(f"Container '{container}' to be {wanted}", to_seconds(timeout, 30.0), to_seconds(poll, 0.2))

        self._state(handle, container)  # a missing container fails at once, not after the timeout
        outcome = wait.until(lambda: self._state(handle, container), lambda s: s == wanted,
                             describe=lambda s: f"state {s}")
        return outcome.value

    # -- lifecycle ----------------------------------------------------------------------------------
    @keyword("Stop Container", tags=["containers", "destructive"])
    def stop_container(self, container: str, timeout: str | float = "10s", alias: str | None = None) -> int:
        """Stop the container (SIGTERM, then SIGKILL after ``timeout``); returns its exit code.

        Refused unless the container carries an allow-listed test label.

        Example:
        | Stop Container | ${name} | timeout=5s |
        """
        handle = self.ctx.handle(alias)
        target = self._guarded(handle, container, "stop")
        grace = to_seconds(timeout, 10.0)
        with self.ctx.call(handle, f"Stopping container '{container}'", "container", container):
            target.stop(timeout=int(grace))
            target.reload()
        return int(target.attrs.get("State", {}).get("ExitCode", -1))

    @keyword("Start Container", tags=["containers"])
    def start_container(self, container: str, alias: str | None = None) -> None:
        """Start a stopped container again.

        Example:
        | Start Container | ${name} |
        """
        handle = self.ctx.handle(alias)
        with self.ctx.call(handle, f"Starting container '{container}'", "container", container):
            self.ctx.container(handle, container).start()

    @keyword("Restart Container", tags=["containers", "destructive"])
    def restart_container(self, container: str, timeout: str | float = "10s", alias: str | None = None) -> None:
        """Stop (SIGTERM, SIGKILL after ``timeout``) and start the container. Allow-listed labels only.

        Example:
        | Restart Container | ${name} |
        """
        handle = self.ctx.handle(alias)
        target = self._guarded(handle, container, "restart")
        with self.ctx.call(handle, f"Restarting container '{container}'", "container", container):
            target.restart(timeout=int(to_seconds(timeout, 10.0)))

    @keyword("Kill Container", tags=["containers", "destructive"])
    def kill_container(self, container: str, signal: str = "SIGKILL", alias: str | None = None) -> None:
        """Send ``signal`` (default SIGKILL: a crash) to the container. Allow-listed labels only.

        Example:
        | Kill Container | ${name} |
        | Kill Container | ${name} | signal=SIGTERM |
        """
        handle = self.ctx.handle(alias)
        sig = signal.upper() if signal.upper().startswith("SIG") else f"SIG{signal.upper()}"
        if sig not in SIGNALS:
            raise KitError(f"Unknown signal '{signal}'", fix=f"use one of {', '.join(sorted(SIGNALS))}")
        target = self._guarded(handle, container, "kill")
        with self.ctx.call(handle, f"Killing container '{container}'", "container", container):
            target.kill(signal=sig)

    @keyword("Pause Container", tags=["containers", "destructive"])
    def pause_container(self, container: str, alias: str | None = None) -> None:
        """Freeze every process of the container (a hang, for chaos). Allow-listed labels only.

        Example:
        | Pause Container | ${name} |
        """
        handle = self.ctx.handle(alias)
        target = self._guarded(handle, container, "pause")
        with self.ctx.call(handle, f"Pausing container '{container}'", "container", container):
            target.pause()

        def unpause(client: Any) -> None:
            paused = client.containers.get(target.id)
            if paused.status == "paused":
                paused.unpause()

        self.ctx.register_undo(handle, f"pause of container {container}", f"pause:{container}", unpause)

    @keyword("Unpause Container", tags=["containers"])
    def unpause_container(self, container: str, alias: str | None = None) -> None:
        """Resume a paused container.

        Example:
        | Unpause Container | ${name} |
        """
        handle = self.ctx.handle(alias)
        with self.ctx.call(handle, f"Unpausing container '{container}'", "container", container):
            self.ctx.container(handle, container).unpause()
        self.ctx.cleanup.forget(f"pause:{container}")

    @keyword("Remove Container", tags=["containers", "destructive"])
    def remove_container(self, container: str, force: bool = True, alias: str | None = None) -> None:
        """Remove the container (``force=True`` kills it first if running). Allow-listed labels only.

        Example:
        | Remove Container | ${name} |
        """
        handle = self.ctx.handle(alias)
        target = self._guarded(handle, container, "remove")
        with self.ctx.call(handle, f"Removing container '{container}'", "container", container):
            target.remove(force=force, v=True)
        self.ctx.cleanup.forget(f"container:{target.name}")
        self.ctx.cleanup.forget(f"pause:{target.name}")

    # -- reading ------------------------------------------------------------------------------------
    @keyword("Get Containers", tags=["containers", "getter"])
    @getter
    def get_containers(self, label: str | None = None, *, check: Check, include_stopped: bool = True,
                       alias: str | None = None) -> list[str]:
        """Names of the containers carrying ``label`` (``key`` or ``key=value``), sorted; can assert them.

        ``include_stopped=False`` lists only running ones.

        Example:
        | ${names} = | Get Containers | label=app=streamspace |
        | Get Containers | role=agent | contains | ${name} |
        """
        handle = self.ctx.handle(alias)
        key, _, value = (label or "").partition("=")

        def read() -> list[str]:
            with self.ctx.call(handle, "Listing containers"):
                # another run may remove one meanwhile: left out
                found = list_containers(handle.client, all=include_stopped, filters={"label": label} if value else {})
            found = [c for c in found if not key or key in c.labels]
            return sorted(c.name for c in found)

        names = check(read, f"Containers labelled {label or '(any)'}")
        if check.operator is None:
            log_table(f"Containers labelled {label or '(any)'}", ["name"], [[n] for n in names])
        return names

    @keyword("Get Published Port", tags=["containers", "getter"])
    def get_published_port(self, container: str, port: str | int, alias: str | None = None) -> int:
        """The host port (on 127.0.0.1) that container ``port`` (``5900`` or ``5900/tcp``) is published on.

        Example:
        | ${port} = | Get Published Port | ${name} | 5900 |
        """
        handle = self.ctx.handle(alias)
        inner = str(port) if "/" in str(port) else f"{port}/tcp"
        target = self.ctx.container(handle, container)
        bindings = (target.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(inner) or []
        for binding in bindings:
            if binding.get("HostPort"):
                return int(binding["HostPort"])
        published = ", ".join(p for p, b in (target.attrs.get("NetworkSettings", {}).get("Ports") or {}).items() if b)
        raise KitError(f"Container '{container}' does not publish port {inner}",
                       f"published: {published or 'nothing'}",
                       f"run it with ports={str(port).split('/')[0]}")

    @keyword("Get Container Logs", tags=["containers", "getter"])
    @getter
    def get_container_logs(self, container: str, *, check: Check, tail: int | None = None,
                           alias: str | None = None) -> str:
        """The container's output (stdout and stderr) as text; can assert it.

        Example:
        | Get Container Logs | ${name} | contains | keyboard display ready | timeout=10s |
        | ${logs} = | Get Container Logs | ${name} | tail=20 |
        """
        handle = self.ctx.handle(alias)

        def read() -> str:
            with self.ctx.call(handle, f"Reading the logs of container '{container}'", "container", container):
                raw = self.ctx.container(handle, container).logs(tail=tail if tail else "all")
            return raw.decode("utf-8", errors="replace")

        return check(read, f"Logs of container '{container}'")

    @keyword("Execute In Container", tags=["containers"])
    def execute_in_container(self, container: str, command: str | list[str], expected_rc: int | None = None,
                             timeout: str | float = "30s", alias: str | None = None) -> tuple[int, str]:
        """Run ``command`` in the running container; returns the exit code and the output (stdout+stderr).

        With ``expected_rc`` the keyword fails when the exit code differs. The command must end
        within ``timeout``.

        Example:
        | ${rc} | ${output} = | Execute In Container | ${name} | cat /etc/hostname |
        | Execute In Container | ${name} | test -f /data/file | expected_rc=0 |
        """
        handle = self.ctx.handle(alias)
        argv = parse_command(command) or []
        target = self.ctx.container(handle, container)
        if target.status != "running":
            raise KitError(f"Cannot execute in container '{container}'", f"it is {target.status}, not running",
                           "start it first ('Start Container' / 'Unpause Container')")
        budget = to_seconds(timeout, 30.0)
        api = handle.client.api
        saved = api.timeout
        api.timeout = max(1, int(budget))
        try:
            with self.ctx.call(handle, f"Executing {argv} in container '{container}'", "container", container):
                exec_id = api.exec_create(target.id, argv)["Id"]
                output = api.exec_start(exec_id)
                rc = int(api.exec_inspect(exec_id).get("ExitCode") or 0)
        except KitError as error:
            if "no answer within" in str(error):
                raise KitError(f"Command {argv} in container '{container}' did not finish",
                               f"still running after {budget:g} s", "raise timeout= or make it shorter") from None
            raise
        finally:
            api.timeout = saved
        text = output.decode("utf-8", errors="replace") if isinstance(output, bytes) else str(output)
        logger.info(f"{argv} -> exit code {rc}\n{text[-2000:]}")
        if expected_rc is not None and rc != int(expected_rc):
            raise AssertionError(f"Command {argv} in container '{container}' exited with {rc}, "
                                 f"expected {expected_rc}; output: {text[-500:]}")
        return rc, text
