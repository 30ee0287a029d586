"""Events: wait until a container event (die, start, stop, kill, oom...) happens."""

from __future__ import annotations

import math
import time
from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from DockerKit.context import DockerContext, EngineHandle
from kitcore import KitError, to_seconds
from kitcore.errors import WaitTimeout

WINDOW = 5.0  # each events request covers at most this many seconds, well inside the client timeout


def _matches(event: dict[str, Any], action: str, key: str, value: str, container: str | None,
             since_ns: int) -> bool:
    attributes = (event.get("Actor") or {}).get("Attributes") or {}
    if str(event.get("Action") or event.get("status") or "").split(":")[0] != action:
        return False
    if int(event.get("timeNano") or int(event.get("time", 0)) * 10**9) < since_ns:
        return False
    if key and (key not in attributes or (value and attributes.get(key) != value)):
        return False
    return not (container and container not in (attributes.get("name"), (event.get("Actor") or {}).get("ID")))


class EventKeywords:
    def __init__(self, ctx: DockerContext) -> None:
        self.ctx = ctx

    def _first(self, handle: EngineHandle, since: int, until: int, filters: dict[str, Any],
               accept: Any, seen: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The first accepted event between ``since`` and ``until`` (the engine ends the stream at ``until``)."""
        with self.ctx.call(handle, "Reading engine events"):
            stream = handle.client.events(decode=True, since=since, until=until, filters=filters)
            try:
                for event in stream:
                    if accept(event):
                        return event
                    seen.append(event)
            finally:
                stream.close()
        return None

    @keyword("Wait Until Container Event", tags=["events", "wait"])
    def wait_until_container_event(self, action: str, label: str | None = None, container: str | None = None,
                                   timeout: str | float = "30s", since: str | float | None = None,
                                   alias: str | None = None) -> dict[str, Any]:
        """Wait until a container event ``action`` (``die``, ``start``, ``stop``, ``kill``...) is seen.

        Filter by ``label`` (``key`` or ``key=value``) and/or ``container`` (name or id). Events
        since the start of the current test count (or, with ``since=10s``, those of the last 10
        seconds), so an event that happened just before the keyword is found too.
        Returns ``action``, ``container``, ``time`` (epoch seconds) and ``exit_code`` (``die`` only).

        Example:
        | Kill Container | ${name} |
        | ${event} = | Wait Until Container Event | die | label=app=streamspace | timeout=10s |
        | Should Be Equal As Integers | ${event}[exit_code] | 137 |
        """
        if not label and not container:
            raise KitError("Wait Until Container Event needs a filter", "neither label= nor container= was given",
                           "give label=key=value or container=name, so other tests' events do not match")
        handle = self.ctx.handle(alias)
        budget = to_seconds(timeout, 30.0)
        since_time = self.ctx.cleanup.scope_start
        if since not in (None, ""):
            since_time = time.time() - to_seconds(since, 0.0)
        key, _, value = (label or "").partition("=")
        filters: dict[str, Any] = {"type": "container"}
        if value:
            filters["label"] = label
        started = time.monotonic()
        tries, seen = 0, "no events"
        while True:
            tries += 1
            now = time.time()
            remaining = budget - (time.monotonic() - started)
            until = math.ceil(now + max(0.0, min(WINDOW, remaining)))
            events: list[dict[str, Any]] = []
            found = self._first(handle, math.floor(since_time), until, filters,
                                lambda e: _matches(e, action, key, value, container, int(since_time * 1e9)), events)
            if found:
                return self._describe(found)
            relevant = [e for e in events if int(e.get("timeNano") or 0) >= int(since_time * 1e9)]
            if relevant:
                seen = ", ".join(f"{e.get('Action')} {((e.get('Actor') or {}).get('Attributes') or {}).get('name')}"
                                 for e in relevant[-5:])
            if time.monotonic() - started >= budget:
                since_text = time.strftime("%H:%M:%S", time.localtime(since_time))
                raise WaitTimeout(f"Container event '{action}' ({label or container}) since {since_text}",
                                  seen, tries, time.monotonic() - started, budget)

    @staticmethod
    def _describe(event: dict[str, Any]) -> dict[str, Any]:
        attributes = (event.get("Actor") or {}).get("Attributes") or {}
        code = attributes.get("exitCode")
        result = {"action": str(event.get("Action")), "container": attributes.get("name"),
                  "time": int(event.get("timeNano") or 0) / 1e9,
                  "exit_code": int(code) if code not in (None, "") else None}
        logger.info(f"Event: {result}")
        return result
