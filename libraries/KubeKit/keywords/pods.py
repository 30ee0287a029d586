"""Pods: find them, read their phase, readiness, IP and logs, delete them, wait for them, exec."""

from __future__ import annotations

import shlex
from typing import Any

from kubernetes.stream import stream
from robot.api import logger
from robotlibcore import keyword

from kitcore import Check, KitError, Wait, WaitTimeout, getter, to_seconds
from KubeKit.context import KubeContext, object_key, read_field
from KubeKit.watching import ListWatch, State


def is_ready(pod: dict[str, Any]) -> bool:
    status = pod.get("status") or {}
    if status.get("phase") != "Running" or (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])


def _summary(state: State) -> str:
    if not state:
        return "no pods"
    parts = [f"{name}: {(pod.get('status') or {}).get('phase')}{' ready' if is_ready(pod) else ''}"
             for name, pod in sorted(state.items())]
    return ", ".join(parts)


class PodKeywords:
    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    def _raw_pod(self, name: str, namespace: str, alias: str | None) -> dict[str, Any]:
        conn = self.ctx.conn(alias)
        pod = conn.call(f"Read pod '{name}' in {namespace}", conn.core.read_namespaced_pod, name, namespace)
        return conn.api.sanitize_for_serialization(pod)

    @keyword("Get Pods", tags=["pods", "assertion"])
    @getter
    def get_pods(self, namespace: str, selector: str | None = None, *, check: Check,
                 alias: str | None = None) -> list[str]:
        """The sorted names of the pods in ``namespace`` matching the label ``selector``; can assert.

        Example:
        | ${pods} = | Get Pods | ${ns} | app=streamspace-session,user=alice |
        | Get Pods | ${ns} | session=${id} | contains | ${id}-0 | timeout=30s |
        """
        conn = self.ctx.conn(alias)

        def probe() -> list[str]:
            found = conn.call(f"List pods in {namespace}", conn.core.list_namespaced_pod, namespace,
                              label_selector=selector or None)
            return sorted(p.metadata.name for p in found.items)

        return check(probe, f"Pods in {namespace}")

    @keyword("Get Pod Phase", tags=["pods", "assertion"])
    @getter
    def get_pod_phase(self, name: str, namespace: str, *, check: Check, alias: str | None = None) -> str:
        """The pod's phase (``Pending``, ``Running``, ``Succeeded``, ``Failed``, ``Unknown``); can assert.

        Example:
        | Get Pod Phase | ${pod} | ${ns} | == | Running | timeout=60s |
        """
        return check(read_field(lambda: self._raw_pod(name, namespace, alias), "status.phase", str, ""),
                     f"Phase of pod {name}")

    @keyword("Get Pod IP", tags=["pods", "assertion"])
    @getter
    def get_pod_ip(self, name: str, namespace: str, *, check: Check, alias: str | None = None) -> str:
        """The pod's IP address (empty until it has one); can assert.

        Example:
        | ${ip} = | Get Pod IP | ${pod} | ${ns} | != | ${EMPTY} | timeout=30s |
        """
        return check(read_field(lambda: self._raw_pod(name, namespace, alias), "status.podIP", str, ""),
                     f"IP of pod {name}")

    @keyword("Pod Should Be Ready", tags=["pods", "assertion"])
    def pod_should_be_ready(self, name: str, namespace: str, timeout: str = "0s", alias: str | None = None) -> None:
        """Fail unless the pod is Running with its ``Ready`` condition true (retrying for ``timeout``).

        Example:
        | Pod Should Be Ready | ${pod} | ${ns} | timeout=30s |
        """
        try:
            Wait(f"Pod '{name}' should be ready", to_seconds(timeout, 0.0), 0.2).until(
                lambda: self._raw_pod(name, namespace, alias), accept=is_ready,
                describe=lambda pod: f"phase {(pod.get('status') or {}).get('phase')}, conditions "
                f"{[(c.get('type'), c.get('status')) for c in (pod.get('status') or {}).get('conditions') or []]}")
        except WaitTimeout as error:
            raise KitError(f"Pod '{name}' in {namespace} is not ready", cause=error.cause,
                           fix="look at the pod's events and logs (Wait Until Event, Get Logs Of Pod)") from None

    @keyword("Wait Until Pods Are Ready", tags=["pods", "wait"])
    def wait_until_pods_are_ready(
        self,
        namespace: str,
        selector: str | None = None,
        count: int = 1,
        timeout: str = "60s",
        poll: str = "0.5s",
        alias: str | None = None,
    ) -> list[str]:
        """Wait until at least ``count`` pods matching ``selector`` are ready; returns the ready pods' names.

        Follows a watch on the pods (polls where the API cannot watch).

        Example:
        | ${ready} = | Wait Until Pods Are Ready | ${ns} | app=streamspace-session | count=3 | timeout=2 min |
        """
        conn = self.ctx.conn(alias)
        watcher = ListWatch(conn, conn.core.list_namespaced_pod, namespace, label_selector=selector or None)

        def accept(state: State) -> list[str] | None:
            ready = sorted(name for name, pod in state.items() if is_ready(pod))
            return ready if len(ready) >= int(count) else None

        where = f"{namespace}" + (f" matching '{selector}'" if selector else "")
        ready = watcher.until(f"{count} ready pod(s) in {where}", accept, _summary, to_seconds(timeout),
                              to_seconds(poll, 0.5))
        logger.info(f"Ready pods in {where}: {', '.join(ready)}")
        return ready

    @keyword("Delete Pod", tags=["pods", "destructive"])
    def delete_pod(self, name: str, namespace: str, force: bool = False, grace_period: int | None = None,
                   alias: str | None = None) -> None:
        """Delete a pod: gracefully, or at once with ``force=True`` (grace period 0, like a crash).

        Refused unless the namespace (and the connection's context) is allow-listed.

        Example:
        | Delete Pod | ${leader_pod} | ${ns} | force=True |
        """
        conn = self.ctx.conn(alias)
        self.ctx.check(conn, f"{'kill' if force else 'delete'} pod '{name}'", namespace)
        grace = 0 if force else grace_period
        conn.call(f"Delete pod '{name}' in {namespace}", conn.core.delete_namespaced_pod, name, namespace,
                  grace_period_seconds=grace)
        self.ctx.forget(object_key(conn, "v1/Pod", namespace, name))
        logger.info(f"{'Killed' if force else 'Deleted'} pod {name} in {namespace}")

    @keyword("Get Logs Of Pod", tags=["pods"])
    def get_logs_of_pod(self, name: str, namespace: str, container: str | None = None, since: str | None = None,
                     tail: int | None = None, alias: str | None = None) -> str:
        """The pod's log text; ``since`` (``5 min``) and ``tail`` (lines) narrow it.

        Needs a real cluster: the Kubernetes API stand-in runs no kubelet and the keyword says so.

        Example:
        | ${log} = | Get Logs Of Pod | ${pod} | ${ns} | since=2 min |
        """
        conn = self.ctx.conn(alias)
        conn.require_kubelet(f"Reading the logs of pod '{name}'")
        seconds = max(1, int(to_seconds(since))) if since else None
        return conn.call(f"Read the logs of pod '{name}' in {namespace}", conn.core.read_namespaced_pod_log, name,
                         namespace, container=container, since_seconds=seconds, tail_lines=tail)

    @keyword("Exec In Pod", tags=["pods"])
    def exec_in_pod(self, name: str, namespace: str, command: Any, container: str | None = None,
                    expected_rc: int | None = 0, timeout: str = "30s", alias: str | None = None) -> str:
        """Run ``command`` (a list or a shell-like string) in the pod; returns its standard output.

        Fails when the exit code is not ``expected_rc`` (``None`` accepts any). Needs a real
        cluster: the Kubernetes API stand-in runs no kubelet and the keyword says so.

        Example:
        | ${out} = | Exec In Pod | ${pod} | ${ns} | cat /etc/hostname |
        """
        conn = self.ctx.conn(alias)
        conn.require_kubelet(f"Running a command in pod '{name}'")
        argv = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        budget = to_seconds(timeout)
        session = conn.call(f"Start {argv[0]} in pod '{name}'", stream, conn.core.connect_get_namespaced_pod_exec,
                            name, namespace, command=argv, container=container, stderr=True, stdin=False,
                            stdout=True, tty=False, _preload_content=False, _timeout=False)
        try:
            session.run_forever(timeout=budget)
            if session.is_open():
                raise KitError(f"'{' '.join(argv)}' in pod '{name}' did not finish within {budget:g} s",
                               fix="raise timeout= or run something shorter")
            out, err, rc = session.read_stdout(), session.read_stderr(), session.returncode
        finally:
            session.close()
        if err:
            logger.info(f"stderr: {err}")
        if expected_rc is not None and rc != int(expected_rc):
            raise KitError(f"'{' '.join(argv)}' in pod '{name}' exited with {rc}, expected {expected_rc}",
                           cause=(err or out or "no output").strip()[:500])
        return out
