"""What KubeKit's keyword classes share: connections, the cleanup listener and the safety latch."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

from kitcore import CleanupListener, Connections, to_seconds
from KubeKit.connection import KubeConnection, KubeError
from KubeKit.guard import KubeGuard
from KubeKit.watching import ListWatch

T = TypeVar("T")


class KubeContext:
    def __init__(self, listener: CleanupListener, guard: KubeGuard, timeout: str) -> None:
        self.listener = listener
        self.guard = guard
        self.default_timeout = to_seconds(timeout)
        self.connections: Connections[KubeConnection] = Connections(
            "Kubernetes", "Connect To Kubernetes", lambda conn: conn.close())

    def conn(self, alias: str | None = None) -> KubeConnection:
        return self.connections.get(alias)

    def check(self, conn: KubeConnection, action: str, namespace: str) -> None:
        self.guard.check(action, namespace, conn.context)

    def register_delete(self, conn: KubeConnection, description: str, key: str,
                        delete: Callable[[], Any]) -> None:
        """Remember how to remove something just created; a 404 at cleanup time means it is gone already."""

        def undo() -> None:
            try:
                conn.call(f"Remove {description}", delete, _timeout=False)
            except KubeError as error:
                if error.status != 404:
                    raise

        self.listener.register(description, undo, key)

    def forget(self, key: str) -> None:
        with contextlib.suppress(Exception):
            self.listener.forget(key)


def dig(obj: dict[str, Any] | None, path: str) -> Any:
    """The value at the dotted ``path`` (``status.phase``) of an object read as a dict; None when absent."""
    value: Any = obj
    for part in path.split("."):
        value = (value or {}).get(part)
    return value


def read_field(read: Callable[[], dict[str, Any]], path: str, cast: Callable[[Any], T],
               default: Any) -> Callable[[], T]:
    """A reader of ``path`` in an object read with ``read`` (``default`` when absent or empty), as ``cast``."""
    return lambda: cast(dig(read(), path) or default)


def watch_named(conn: KubeConnection, lister: Callable[..., Any], namespace: str, name: str) -> ListWatch:
    """A list-and-watch on the one object called ``name`` in ``namespace``."""
    return ListWatch(conn, lister, namespace, field_selector=f"metadata.name={name}")


def object_key(conn: KubeConnection, kind: str, namespace: str | None, name: str) -> str:
    return f"kube:{id(conn)}:{kind}:{namespace or ''}:{name}"
