"""Events: wait until the cluster reports something about an object."""

from __future__ import annotations

from robot.api import logger
from robotlibcore import keyword

from kitcore import to_seconds
from KubeKit.context import KubeContext
from KubeKit.watching import ListWatch, State


class EventKeywords:
    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    @keyword("Wait Until Event", tags=["events", "wait"])
    def wait_until_event(
        self,
        reason: str,
        object_name: str,
        namespace: str,
        kind: str | None = None,
        timeout: str = "60s",
        poll: str = "0.5s",
        alias: str | None = None,
    ) -> str:
        """Wait until an event with ``reason`` (``Scheduled``, ``Killing``, ``BackOff``...) is reported on
        the object named ``object_name`` (of ``kind``, when given); returns the event's message.

        Events already reported count. Follows a watch (polls where the API cannot watch).

        Example:
        | ${message} = | Wait Until Event | Started | ${pod} | ${ns} | kind=Pod | timeout=60s |
        """
        conn = self.ctx.conn(alias)
        selector = f"involvedObject.name={object_name}" + (f",involvedObject.kind={kind}" if kind else "")
        watcher = ListWatch(conn, conn.core.list_namespaced_event, namespace, field_selector=selector)

        def accept(state: State) -> str | None:
            for event in state.values():
                if event.get("reason") == reason:
                    return str(event.get("message") or "")
            return None

        def describe(state: State) -> str:
            reasons = sorted({str(e.get("reason")) for e in state.values()})
            return f"events with reasons {', '.join(reasons)}" if reasons else "no events"

        what = f"Event '{reason}' on {kind + ' ' if kind else ''}'{object_name}' in {namespace}"
        message = watcher.until(what, accept, describe, to_seconds(timeout), to_seconds(poll, 0.5))
        logger.info(f"{what}: {message}")
        return message
