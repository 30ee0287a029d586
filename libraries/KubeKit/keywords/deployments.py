"""Deployments: scale them and wait for their ready replicas."""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robotlibcore import keyword

from kitcore import Check, getter, to_seconds
from KubeKit.context import KubeContext, watch_named
from KubeKit.watching import State


def ready_of(deployment: dict[str, Any] | None) -> int:
    return int(((deployment or {}).get("status") or {}).get("readyReplicas") or 0)


class DeploymentKeywords:
    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    @keyword("Scale Deployment", tags=["deployments"])
    def scale_deployment(self, name: str, namespace: str, replicas: int, alias: str | None = None) -> int:
        """Set the deployment's desired replicas (through its ``scale`` subresource); returns the old count.

        Scaling to 0 removes every pod, so it is refused unless the namespace (and the
        connection's context) is allow-listed.

        Example:
        | Scale Deployment | ${session} | ${ns} | 0 |
        """
        conn = self.ctx.conn(alias)
        if int(replicas) == 0:
            self.ctx.check(conn, f"scale deployment '{name}' to 0", namespace)
        what = f"Scale deployment '{name}' in {namespace} to {replicas}"
        before = conn.call(what, conn.apps.read_namespaced_deployment_scale, name, namespace)
        conn.call(what, conn.apps.patch_namespaced_deployment_scale, name, namespace,
                  {"spec": {"replicas": int(replicas)}})
        logger.info(f"Scaled deployment {name} in {namespace} from {before.spec.replicas} to {replicas}")
        return int(before.spec.replicas or 0)

    @keyword("Get Ready Replicas", tags=["deployments", "assertion"])
    @getter
    def get_ready_replicas(self, name: str, namespace: str, *, check: Check, alias: str | None = None) -> int:
        """The deployment's ready replicas (``status.readyReplicas``, 0 when absent); can assert.

        Example:
        | Get Ready Replicas | ${session} | ${ns} | == | 1 | timeout=60s |
        """
        conn = self.ctx.conn(alias)

        def probe() -> int:
            found = conn.call(f"Read deployment '{name}' in {namespace}", conn.apps.read_namespaced_deployment,
                              name, namespace)
            return int((found.status.ready_replicas if found.status else 0) or 0)

        return check(probe, f"Ready replicas of {name}")

    @keyword("Wait Until Deployment Has Ready Replicas", tags=["deployments", "wait"])
    def wait_until_deployment_has_ready_replicas(
        self,
        name: str,
        namespace: str,
        replicas: int | None = None,
        timeout: str = "60s",
        poll: str = "0.5s",
        alias: str | None = None,
    ) -> int:
        """Wait until the deployment has exactly ``replicas`` ready replicas (default: its desired
        count); returns that number. Follows a watch (polls where the API cannot watch).

        Example:
        | Wait Until Deployment Has Ready Replicas | ${session} | ${ns} | timeout=2 min |
        | Wait Until Deployment Has Ready Replicas | ${session} | ${ns} | replicas=0 |
        """
        conn = self.ctx.conn(alias)
        watcher = watch_named(conn, conn.apps.list_namespaced_deployment, namespace, name)

        def wanted(state: State) -> int:
            if replicas is not None:
                return int(replicas)
            return int(((state.get(name) or {}).get("spec") or {}).get("replicas", 1))

        def accept(state: State) -> int | None:
            if name in state and ready_of(state[name]) == wanted(state):
                return ready_of(state[name])
            return None

        def describe(state: State) -> str:
            if name not in state:
                return f"no deployment '{name}'"
            return f"{ready_of(state[name])} ready of {wanted(state)} wanted"

        return watcher.until(f"Deployment '{name}' in {namespace} to have its ready replicas", accept, describe,
                             to_seconds(timeout), to_seconds(poll, 0.5))
