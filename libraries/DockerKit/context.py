"""What DockerKit's keyword classes share: connections, cleanup, the label guard and error translation."""

from __future__ import annotations

import fnmatch
import os
import shlex
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import docker
import docker.errors
import requests.exceptions

from kitcore import CleanupListener, Connections, KitError, TargetRefused

KIT_LABEL = "streamspace.kit/test"
LABELS_ENV = "KIT_TEST_LABELS"
DEFAULT_TEST_LABELS = "streamspace.kit/test,app=streamspace,streamspace.kit/run"


@dataclass
class EngineHandle:
    """One open engine connection."""

    client: docker.DockerClient
    url: str
    timeout: float
    kind: str = "docker"
    alias: str | None = None
    helper_image: str | None = None
    api_version: str = ""


def open_client(url: str, timeout: float) -> tuple[docker.DockerClient, str, str]:
    """A client for ``url`` at the engine's API version, its kind and version, from one ``/_ping``.

    (The SDK's automatic version detection asks ``/version``, which takes most of a second on Podman.)
    """
    seconds = max(1, int(timeout))
    client = docker.DockerClient(base_url=url, timeout=seconds, version="1.41")
    try:
        answer = client.api.get(client.api.base_url + "/_ping", timeout=seconds)
        answer.raise_for_status()
    except Exception:
        client.close()
        raise
    api_version = answer.headers.get("Api-Version") or "1.41"
    kind = "podman" if answer.headers.get("Libpod-Api-Version") else "docker"
    if api_version != "1.41":
        client.close()
        client = docker.DockerClient(base_url=url, timeout=seconds, version=api_version)
    return client, kind, api_version


def close_handle(handle: EngineHandle) -> None:
    handle.client.close()


class DockerKitListener(CleanupListener):
    """The cleanup listener, which also remembers when the current test (or suite) started."""

    def __init__(self) -> None:
        super().__init__("DockerKit")
        self.started: list[float] = [time.time()]

    def start_suite(self, data: object, result: object) -> None:
        self.started.append(time.time())
        super().start_suite(data, result)

    def end_suite(self, data: object, result: object) -> None:
        super().end_suite(data, result)
        if len(self.started) > 1:
            self.started.pop()

    def start_test(self, data: object, result: object) -> None:
        self.started.append(time.time())
        super().start_test(data, result)

    def end_test(self, data: object, result: object) -> None:
        super().end_test(data, result)
        if len(self.started) > 1:
            self.started.pop()

    @property
    def scope_start(self) -> float:
        return self.started[-1]


class LabelGuard:
    """Destructive keywords act only on objects carrying an allow-listed label (``key`` or ``key=value`` globs)."""

    def __init__(self, patterns: str | list[str] | None) -> None:
        items = patterns if isinstance(patterns, list) else str(patterns or "").split(",")
        self.patterns = [p.strip() for p in items if p and p.strip()]
        self.patterns += [p.strip() for p in os.environ.get(LABELS_ENV, "").split(",") if p.strip()]

    def allows(self, labels: dict[str, str] | None) -> bool:
        candidates = [c for k, v in (labels or {}).items() for c in (k, f"{k}={v}")]
        return any(fnmatch.fnmatchcase(c, p) for c in candidates for p in self.patterns)

    def check(self, action: str, kind: str, name: str, labels: dict[str, str] | None) -> None:
        if self.allows(labels):
            return
        allowed = ", ".join(self.patterns) or "nothing"
        has = ", ".join(f"{k}={v}" for k, v in (labels or {}).items()) or "no labels"
        raise TargetRefused(
            f"DockerKit refused to {action} {kind} '{name}'",
            cause=f"it carries none of the allow-listed test labels ({allowed}); it has {has}",
            fix=(f"if '{name}' really is disposable, give it one of those labels, or import DockerKit with "
                 f"test_labels=<label> or set the environment variable {LABELS_ENV}=<label> "
                 "(key or key=value globs, comma separated)"),
        )


class DockerContext:
    """State shared by the keyword classes of one library instance."""

    def __init__(self, test_labels: str, timeout: str | float, helper_image: str | None) -> None:
        self.connections: Connections[EngineHandle] = Connections(
            "container engine", "Connect To Container Engine", close_handle)
        self.cleanup = DockerKitListener()
        self.guard = LabelGuard(test_labels)
        self.timeout = timeout
        self.helper_image = helper_image
        self.instance = uuid.uuid4().hex[:8]

    @property
    def kit_labels(self) -> dict[str, str]:
        """The labels every object DockerKit creates carries (removed by ``cleanup_by_label`` too)."""
        return {KIT_LABEL: self.instance}

    def handle(self, alias: str | None = None) -> EngineHandle:
        return self.connections.get(alias)

    def new_name(self, kind: str) -> str:
        return f"kit-{kind}-{uuid.uuid4().hex[:8]}"

    # -- cleanup ------------------------------------------------------------------------------------
    def register_removal(self, handle: EngineHandle, kind: str, name: str, key: str) -> None:
        """At the end of the test (or suite), remove this object, through a connection of its own."""
        url, timeout = handle.url, handle.timeout

        def undo() -> None:
            client = open_client(url, timeout)[0]
            try:
                remove_object(client, kind, name)
            finally:
                client.close()

        self.cleanup.register(f"{kind} {name}", undo, key)

    def register_undo(self, handle: EngineHandle, description: str, key: str,
                      action: Callable[[docker.DockerClient], object]) -> None:
        """At the end of the test (or suite), run ``action`` with a connection of its own."""
        url, timeout = handle.url, handle.timeout

        def undo() -> None:
            client = open_client(url, timeout)[0]
            try:
                action(client)
            except docker.errors.NotFound:
                return
            finally:
                client.close()

        self.cleanup.register(description, undo, key)

    # -- lookups ------------------------------------------------------------------------------------
    def container(self, handle: EngineHandle, name: str) -> Any:
        with self.call(handle, f"Finding container '{name}'", "container", name):
            return handle.client.containers.get(name)

    def network(self, handle: EngineHandle, name: str) -> Any:
        with self.call(handle, f"Finding network '{name}'", "network", name):
            return handle.client.networks.get(name)

    def volume(self, handle: EngineHandle, name: str) -> Any:
        with self.call(handle, f"Finding volume '{name}'", "volume", name):
            return handle.client.volumes.get(name)

    def exists(self, handle: EngineHandle, kind: str, name: str, look_up: Callable[[str], object]) -> bool:
        """Whether the engine has the ``kind`` (image, volume, ...) called ``name``: ``look_up`` is the
        client's getter (``client.images.get``), whose NotFound means no."""
        with self.call(handle, f"Looking up {kind} '{name}'", kind, name):
            try:
                look_up(name)
            except docker.errors.NotFound:
                return False
        return True

    # -- errors -------------------------------------------------------------------------------------
    @contextmanager
    def call(self, handle: EngineHandle, what: str, kind: str = "", name: str = "") -> Iterator[None]:
        """Run engine calls, turning client errors into KitErrors that name cause and fix."""
        try:
            yield
        except docker.errors.NotFound as error:
            raise KitError(f"{what} failed: no {kind or 'object'} '{name}' on the engine at {handle.url}",
                           _explanation(error),
                           "check the name; list what exists with 'Get Containers' / 'Get Volumes'") from None
        except docker.errors.APIError as error:
            raise KitError(f"{what} failed on the engine at {handle.url}", _explanation(error),
                           _fix_for(error, handle)) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout, OSError) as error:
            raise unreachable(what, handle.url, error, handle.timeout) from None


def _explanation(error: docker.errors.APIError) -> str:
    return str(error.explanation or error).strip()


def _fix_for(error: docker.errors.APIError, handle: EngineHandle) -> str:
    text = _explanation(error).lower()
    if "already in use" in text or "conflict" in text:
        return "choose another name, or remove the old object first"
    if "not implemented" in text or error.status_code == 404:
        return f"the {handle.kind} engine does not support this call"
    return "read the engine's message above"


def unreachable(what: str, url: str, error: BaseException, timeout: float) -> KitError:
    text = str(error)
    if "timed out" in text.lower() or "timeout" in type(error).__name__.lower():
        cause = f"no answer within {timeout:g} s ({type(error).__name__})"
    else:
        cause = f"cannot connect ({type(error).__name__}: {text[:200]})"
    return KitError(f"{what} failed: the container engine at {url} is unreachable", cause,
                    "start the engine (the kit's local stack starts podman's service; or start Docker), "
                    "or give the right url= / DOCKER_HOST")


def remove_object(client: docker.DockerClient, kind: str, name: str) -> None:
    """Remove a container (forced, with its anonymous volumes), volume or network; gone already is fine."""
    try:
        if kind == "container":
            client.containers.get(name).remove(force=True, v=True)
        elif kind == "volume":
            client.volumes.get(name).remove(force=True)
        elif kind == "network":
            client.networks.get(name).remove()
        else:
            raise ValueError(f"unknown kind {kind}")
    except docker.errors.NotFound:
        return


# -- argument parsing -------------------------------------------------------------------------------
def parse_pairs(value: dict[str, Any] | list[str] | str | None, what: str) -> dict[str, str]:
    """``{'a': 1}``, ``['a=1', 'b=2']`` or ``a=1, b=2`` -> ``{'a': '1', 'b': '2'}``."""
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    items = value if isinstance(value, list) else [p for p in str(value).split(",")]
    result: dict[str, str] = {}
    for item in items:
        item = str(item).strip()
        if not item:
            continue
        key, sep, val = item.partition("=")
        if not key:
            raise KitError(f"Bad {what} '{item}'", fix=f"write {what} as key=value, comma separated")
        result[key.strip()] = val.strip() if sep else ""
    return result


def parse_command(command: str | list[str] | None) -> list[str] | None:
    if command is None or command == "":
        return None
    if isinstance(command, list):
        return [str(c) for c in command]
    return shlex.split(str(command))


def parse_ports(ports: dict[str, Any] | list[str] | str | None) -> dict[str, Any]:
    """``5900`` -> 5900/tcp on a free loopback port; ``15900:5900`` -> host 15900; ``5900/udp`` too."""
    if ports is None or ports == "":
        return {}
    if isinstance(ports, dict):
        return {str(k) if "/" in str(k) else f"{k}/tcp": v for k, v in ports.items()}
    items = ports if isinstance(ports, list) else str(ports).split(",")
    mapping: dict[str, Any] = {}
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        host, _, inner = item.rpartition(":")
        inner = inner if "/" in inner else f"{inner}/tcp"
        if not inner.split("/")[0].isdigit() or (host and not host.isdigit()):
            raise KitError(f"Bad port '{item}'",
                           fix="write ports as container_port or host_port:container_port, e.g. 5900 or 15900:5900")
        mapping[inner] = ("127.0.0.1", int(host)) if host else ("127.0.0.1", None)
    return mapping


def parse_volumes(volumes: dict[str, Any] | list[str] | str | None) -> dict[str, dict[str, str]]:
    """``data:/data`` or ``data:/data:ro`` (comma separated) or ``{'data': '/data'}``."""
    if volumes is None or volumes == "":
        return {}
    if isinstance(volumes, dict):
        return {str(k): v if isinstance(v, dict) else {"bind": str(v), "mode": "rw"} for k, v in volumes.items()}
    items = volumes if isinstance(volumes, list) else str(volumes).split(",")
    result: dict[str, dict[str, str]] = {}
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        parts = item.split(":")
        if len(parts) not in (2, 3) or not parts[1].startswith("/"):
            raise KitError(f"Bad volume '{item}'", fix="write volumes as name:/path or name:/path:ro")
        result[parts[0]] = {"bind": parts[1], "mode": parts[2] if len(parts) == 3 else "rw"}
    return result
