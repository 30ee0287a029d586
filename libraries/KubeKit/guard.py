"""The safety latch of KubeKit: destructive keywords act only on allow-listed namespaces and contexts."""

from __future__ import annotations

from kitcore import TargetGuard, TargetRefused

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
        self.namespaces = TargetGuard("KubeKit", NAMESPACES_ENV, _patterns(namespaces))
        self.contexts = TargetGuard("KubeKit", CONTEXTS_ENV, _patterns(contexts))

    def check(self, action: str, namespace: str, context: str) -> None:
        """Raise :class:`TargetRefused` unless both the context and the namespace are allow-listed."""
        self._check(self.contexts, action, "context", context, "test_contexts")
        self._check(self.namespaces, action, "namespace", namespace, "test_namespaces")

    @staticmethod
    def _check(guard: TargetGuard, action: str, kind: str, target: str, argument: str) -> None:
        if guard.allows(target):
            return
        allowed = ", ".join(guard.patterns) or "nothing"
        raise TargetRefused(
            f"KubeKit refused to {action} in {kind} '{target}'",
            cause=f"it is not allow-listed as a test target (allowed: {allowed})",
            fix=f"if '{target}' really is disposable, import KubeKit with {argument}={target} (glob patterns, "
            f"comma separated) or set the environment variable {guard.env_var}={target}",
        )
