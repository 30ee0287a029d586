"""Docker agent platform: sessions as real containers (docs/contract.md §5).

Container ``streamspace-<sessionId>`` from the template's ``baseImage``; labels ``app=streamspace,
component=session, session-id, user, agent-id`` plus the run label on everything created; network
``streamspace`` (bridge, created if missing); volume ``streamspace-<sessionId>-home`` at
``/home/streamspace`` (where StreamSpace's Docker agent mounts it) when ``persistentHome``; VNC port
5900 published to a free port on 127.0.0.1.
Hibernate stops the container (volume kept); wake starts it (the published port may change and is
reported); stop removes the container and the volume (unless ``keepHome`` is asked).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound

from environments.local.platform.agents.config import AgentConfig
from environments.local.platform.agents.probe import vnc_greeting, wait_vnc_greets
from environments.local.platform.agents.runtime import CommandError
from environments.local.platform.agents.sessionspec import SessionSpec, parse_bytes, parse_cpu

log = logging.getLogger("streamspace.agent")

VNC_PORT = 5900
HOME = "/home/streamspace"


def container_name(session_id: str) -> str:
    return f"streamspace-{session_id}"


def volume_name(session_id: str) -> str:
    return f"streamspace-{session_id}-home"


def idle_status(session_id: str, state: str, meta: dict[str, Any]) -> dict[str, Any]:
    """The ``status`` of a session whose VNC server is not running (hibernated or terminated)."""
    return {"sessionId": session_id, "state": state, "vncReady": False, "vncPort": VNC_PORT, "platformMetadata": meta}


class DockerPlatform:
    platform = "docker"

    def __init__(self, engine_url: str, config: AgentConfig, agent_id: str) -> None:
        self.config = config
        self.agent_id = agent_id
        self.engine_timeout = int(max(config.request_timeout, 30.0))
        # a fixed API version: no engine round-trip at start, so the agent starts even while the engine is down
        self.client = docker.DockerClient(base_url=engine_url, timeout=self.engine_timeout,
                                          version=str(config.extra.get("dockerApiVersion", "1.41")))
        self.default_image = str(config.extra.get("sessionImage") or "")
        self._network_lock = threading.Lock()
        # one start at a time: the engine picks a free host port for VNC as it starts a container, and two
        # starts at once were given the same port (Podman: the second fails 'address already in use', and
        # its clean-up takes the port's forwarding from the first, whose VNC then never answers)
        self._publish_lock = threading.Lock()

    def metadata(self) -> dict[str, Any]:
        return {"engine": "docker-api", "network": self.config.network, "kind": "container"}

    def labels(self, session_id: str = "", user: str = "") -> dict[str, str]:
        labels = {"app": "streamspace", "component": "session", "agent-id": self.agent_id, **self.config.labels}
        if session_id:
            labels["session-id"] = session_id
        if user:
            labels["user"] = user
        return labels

    def _filters(self) -> dict[str, Any]:
        """This agent's session containers (and only this run's, when a run label is configured:
        several stacks may share one engine)."""
        labels = ["app=streamspace", "component=session", f"agent-id={self.agent_id}"]
        return {"label": labels + [f"{k}={v}" for k, v in self.config.labels.items()]}

    # ------------------------------------------------------------------ engine calls (threads)
    def _get(self, session_id: str) -> Any:
        try:
            return self.client.containers.get(container_name(session_id))
        except NotFound:
            return None

    def _ensure_network(self) -> None:
        """The session network, made if missing. Another creator may win the race (another replica, a
        concurrent start): Docker answers 409, Podman 500 'network name ... already used' -- whatever
        the engine answers, a network that exists afterwards is what was wanted."""
        with self._network_lock:
            try:
                self.client.networks.get(self.config.network)
            except NotFound:
                try:
                    self.client.networks.create(self.config.network, driver="bridge",
                                                labels={"app": "streamspace", **self.config.labels})
                    log.info("created network %s", self.config.network)
                except APIError:
                    try:
                        self.client.networks.get(self.config.network)
                    except NotFound:
                        raise
                    log.info("network %s was created by another start meanwhile", self.config.network)

    def _ensure_volume(self, session_id: str) -> None:
        try:
            self.client.volumes.get(volume_name(session_id))
        except NotFound:
            self.client.volumes.create(volume_name(session_id), labels=self.labels(session_id))

    def _create(self, spec: SessionSpec) -> Any:
        self._ensure_network()
        volumes = {}
        if spec.persistent_home:
            self._ensure_volume(spec.session_id)
            volumes[volume_name(spec.session_id)] = {"bind": HOME, "mode": "rw"}
        with self._publish_lock:
            return self.client.containers.run(
                spec.image, name=container_name(spec.session_id), detach=True,
                labels=self.labels(spec.session_id, spec.user) | {"template": spec.template},
                network=self.config.network, ports={f"{VNC_PORT}/tcp": ("127.0.0.1",)},
                mem_limit=parse_bytes(spec.memory), nano_cpus=int(parse_cpu(spec.cpu) * 1e9),
                volumes=volumes, environment=spec.env, hostname=spec.session_id[:63])

    def _start_stopped(self, container: Any) -> None:
        with self._publish_lock:  # it publishes its VNC port again, on a port the engine picks now
            container.start()

    @staticmethod
    def _host_port(container: Any) -> int | None:
        container.reload()
        bindings = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
        for binding in bindings.get(f"{VNC_PORT}/tcp") or []:
            if binding.get("HostPort"):
                return int(binding["HostPort"])
        return None

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.wait_for(asyncio.to_thread(fn, *args, **kwargs), self.engine_timeout + 5)
        except NotFound as error:
            raise CommandError(f"not found in the container engine: {error.explanation or error}") from None
        except (DockerException, OSError) as error:
            raise CommandError(f"container engine error: {error}") from None

    # ------------------------------------------------------------------ commands
    async def run_command(self, action: str, payload: dict[str, Any]) -> tuple[dict[str, Any], dict | None]:
        session_id = str(payload.get("sessionId") or "")
        if not session_id:
            raise CommandError(f"{action} without sessionId")
        if action == "start_session":
            return await self._start(SessionSpec.from_payload(payload, self.default_image, "default"))
        if action == "wake_session":
            return await self._wake(session_id)
        if action == "hibernate_session":
            return await self._hibernate(session_id)
        return await self._stop(session_id, payload)

    async def _running(self, session_id: str, container: Any) -> tuple[dict[str, Any], dict]:
        port = await self._call(self._host_port, container)
        if port is None:
            raise CommandError(f"container {container_name(session_id)} publishes no port for VNC {VNC_PORT}")
        try:
            await wait_vnc_greets("127.0.0.1", port, self.config.start_timeout)
        except TimeoutError as error:
            raise CommandError(f"session {session_id}: {error}; {await self._what_it_shows(container)}") from None
        meta = {"containerId": container.id[:12], "containerName": container.name, "hostPort": port,
                "network": self.config.network}
        result = {"sessionId": session_id, "state": "running", "containerId": container.id[:12],
                  "vncReady": True, "vncHostPort": port, "vncPort": VNC_PORT, "platformMetadata": meta}
        status = {"sessionId": session_id, "state": "running", "vncReady": True, "vncPort": VNC_PORT,
                  "platformMetadata": meta}
        return result, status

    async def _what_it_shows(self, container: Any) -> str:
        """The container's state and the last lines of its log, for a session whose VNC never greeted."""
        def look() -> str:
            container.reload()
            state = container.attrs.get("State") or {}
            tail = container.logs(tail=5).decode(errors="replace").strip().replace("\n", " | ")
            return (f"container {container.name} is {state.get('Status', '?')} (exit code {state.get('ExitCode')}); "
                    f"its last log lines: {tail or '(none)'}")
        try:
            return await self._call(look)
        except CommandError as error:
            return f"its container could not be inspected: {error}"

    async def _start(self, spec: SessionSpec) -> tuple[dict[str, Any], dict]:
        container = await self._call(self._get, spec.session_id)
        if container is None:
            container = await self._call(self._create, spec)
            log.info("session %s: container %s started", spec.session_id, container.name)
        elif container.status != "running":
            await self._call(self._start_stopped, container)
        return await self._running(spec.session_id, container)

    async def _wake(self, session_id: str) -> tuple[dict[str, Any], dict]:
        container = await self._call(self._get, session_id)
        if container is None:
            raise CommandError(f"session {session_id} has no container {container_name(session_id)} to wake")
        if container.status != "running":
            await self._call(self._start_stopped, container)
        return await self._running(session_id, container)

    async def _hibernate(self, session_id: str) -> tuple[dict[str, Any], dict]:
        container = await self._call(self._get, session_id)
        if container is None:
            raise CommandError(f"session {session_id} has no container {container_name(session_id)} to hibernate")
        await self._call(container.stop, timeout=5)
        meta = {"containerId": container.id[:12]}
        return ({"sessionId": session_id, "state": "hibernated", "vncReady": False, **meta},
                idle_status(session_id, "hibernated", meta))

    async def _stop(self, session_id: str, payload: dict[str, Any]) -> tuple[dict[str, Any], dict]:
        container = await self._call(self._get, session_id)
        if container is not None:
            await self._call(container.remove, force=True)
        keep = bool(payload.get("keepHome") or payload.get("keepPersistentHome"))
        removed_volume = False
        if not keep:
            removed_volume = await self._call(self._remove_volume, session_id)
        return ({"sessionId": session_id, "state": "terminated", "vncReady": False, "volumeRemoved": removed_volume},
                idle_status(session_id, "terminated", {}))

    def _remove_volume(self, session_id: str) -> bool:
        try:
            self.client.volumes.get(volume_name(session_id)).remove(force=True)
            return True
        except NotFound:
            return False

    # ------------------------------------------------------------------ queries
    async def vnc_address(self, session_id: str) -> tuple[str, int]:
        container = await self._call(self._get, session_id)
        if container is None or container.status != "running":
            raise CommandError(f"session {session_id} is not running")
        port = await self._call(self._host_port, container)
        if port is None:
            raise CommandError(f"session {session_id} publishes no VNC port")
        return "127.0.0.1", port

    async def active_sessions(self) -> int:
        found = await self._call(self.client.containers.list, filters=self._filters())
        return len(found)

    async def reconcile(self) -> list[dict[str, Any]]:
        found = await self._call(self.client.containers.list, all=True, filters=self._filters())
        statuses = []
        for container in found:
            session_id = container.labels.get("session-id", "")
            if not session_id:
                continue
            if container.status == "running":
                port = await self._call(self._host_port, container)
                ready = bool(port and await vnc_greeting("127.0.0.1", port, 1.0))
                statuses.append({"sessionId": session_id, "state": "running", "vncReady": ready, "vncPort": VNC_PORT,
                                 "platformMetadata": {"containerId": container.id[:12], "hostPort": port}})
            else:
                statuses.append({"sessionId": session_id, "state": "hibernated", "vncReady": False,
                                 "vncPort": VNC_PORT, "platformMetadata": {"containerId": container.id[:12]}})
        return statuses

    def close(self) -> None:
        self.client.close()
