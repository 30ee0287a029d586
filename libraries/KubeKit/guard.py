"""The safety latch of KubeKit: destructive keywords act only on allow-listed namespaces and contexts."""

from __future__ import annotations

from kitcore import TargetGuard

DEFAULT_NAMESPACES = "kit-*,streamspace*"
DEFAULT_CONTEXTS = "stand-in,kind-*,k3d-*,minikube,docker-desktop,kit-*"
NAMESPACES_ENV = "KIT_TEST_NAMESPACES"
CONTEXTS_ENV = "KIT_TEST_CONTEXTS"


def _patterns(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [p.strip() for p in items if p and p.strip()]


class KubeGuard:
    """Two allow-lists (glob patterns): namespaces and kubeconfig contexts."""

    def __init__(self, namespaces: str | list[str] | None, contexts: str | list[str] | None) -> None:
        self.namespaces = TargetGuard("KubeKit", NAMESPACES_ENV, _patterns(namespaces), "test_namespaces")
        self.contexts = TargetGuard("KubeKit", CONTEXTS_ENV, _patterns(contexts), "test_contexts")

    def check(self, action: str, namespace: str, context: str) -> None:
        """Raise :class:`TargetRefused` unless both the context and the namespace are allow-listed."""
        self.contexts.check(f"{action} in", "context", context)
        self.namespaces.check(f"{action} in", "namespace", namespace)
