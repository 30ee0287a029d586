"""Lists and watches as client-go's reflectors and informers use them.

Lists: label/field selectors, ``limit`` and ``continue`` (the continuation starts after the last
object returned; the stand-in keeps no snapshots, so a continued list sees later writes). Watches:
``resourceVersion`` (resume from the history, 410 Gone when too old), ``timeoutSeconds``,
``allowWatchBookmarks`` (a BOOKMARK when idle and shortly before the watch ends), and the
watch-list form (``sendInitialEvents=true``, ``resourceVersionMatch=NotOlderThan``): the current
objects as ADDED, then a BOOKMARK annotated ``k8s.io/initial-events-end: "true"``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from environments.local.kubeapi.resources import Resource
from environments.local.kubeapi.store import ApiError, Obj, Store

MAX_WATCH = 1800.0
BOOKMARK_IDLE = 30.0  # a bookmark after this long with no event (the API server sends one about every minute)
BOOKMARK_BEFORE_END = 1.0
INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _flag(params: Any, name: str) -> bool | None:
    value = params.get(name)
    return None if value is None else value.lower() in ("1", "true")


def page(items: list[Obj], version: str, params: Any) -> tuple[list[Obj], Obj]:
    """``items`` cut by ``limit``/``continue``; the list metadata to answer with."""
    start = params.get("continue")
    if start:
        try:
            mark = json.loads(base64.urlsafe_b64decode(start.encode()))["start"]
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise ApiError(400, "BadRequest", "the continue token is not valid") from None
        items = [o for o in items if _key(o) > mark]
    meta: Obj = {"resourceVersion": version}
    try:
        limit = int(params.get("limit") or 0)
    except ValueError:
        raise ApiError(400, "BadRequest", "limit must be a whole number") from None
    if 0 < limit < len(items):
        meta["continue"] = base64.urlsafe_b64encode(json.dumps({"start": _key(items[limit - 1]),
                                                                "rv": version}).encode()).decode()
        meta["remainingItemCount"] = len(items) - limit
        items = items[:limit]
    return items, meta


def _key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def bookmark(res: Resource, version: int, initial_end: bool = False) -> Obj:
    meta: Obj = {"resourceVersion": str(version)}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return {"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.group_version, "metadata": meta}}


async def watch(request: web.Request, store: Store, res: Resource, namespace: str | None, matches: Any,
                stopping: asyncio.Event, render: Callable[[Obj], Obj]) -> web.StreamResponse:
    """Stream watch events (``render`` turns each event's object into what the client asked for)."""
    params = request.query
    try:
        budget = min(float(params.get("timeoutSeconds", MAX_WATCH)), MAX_WATCH)
    except ValueError:
        raise ApiError(400, "BadRequest", "timeoutSeconds must be a number") from None
    bookmarks = bool(_flag(params, "allowWatchBookmarks"))
    send_initial = _flag(params, "sendInitialEvents")
    since = params.get("resourceVersion") or ""
    if send_initial is not None:
        if params.get("resourceVersionMatch") != "NotOlderThan":
            raise ApiError(422, "Invalid", "resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
                           "resourceVersionMatch to NotOlderThan")
        if not bookmarks:
            raise ApiError(422, "Invalid", "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting "
                           "allowWatchBookmarks to true")
    initial = send_initial if send_initial is not None else since in ("", "0")
    try:
        watcher = store.watch(res, namespace, matches, None if initial or since in ("", "0") else since, initial)
    except ApiError as error:
        if error.code != 410:
            raise
        return await _expired(request, error)
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)

    async def send(event: Obj) -> None:
        if event["type"] != "BOOKMARK":
            event = {"type": event["type"], "object": render(event["object"])}
        await response.write(json.dumps(event).encode() + b"\n")

    deadline = time.monotonic() + budget
    idle_since = time.monotonic()
    stopped = asyncio.ensure_future(stopping.wait())  # a stopping server ends the watch at once
    try:
        if send_initial:
            while not watcher.queue.empty():
                await send(watcher.queue.get_nowait())
            await send(bookmark(res, store.version, initial_end=True))
        while not stopping.is_set():
            now = time.monotonic()
            remaining = deadline - now
            transport = request.transport
            if remaining <= 0 or transport is None or transport.is_closing():
                break
            if bookmarks and watcher.queue.empty() and (now - idle_since >= BOOKMARK_IDLE
                                                        or 0 < remaining <= BOOKMARK_BEFORE_END):
                await send(bookmark(res, store.version))
                idle_since = now
                if remaining <= BOOKMARK_BEFORE_END:
                    await asyncio.sleep(remaining)
                    break
            wait = min(remaining - (BOOKMARK_BEFORE_END if bookmarks else 0), 1.0)
            getting = asyncio.ensure_future(watcher.queue.get())
            await asyncio.wait({getting, stopped}, timeout=max(wait, 0.01), return_when=asyncio.FIRST_COMPLETED)
            if not getting.done():
                getting.cancel()  # the event stays in the queue for the next turn
                continue
            await send(getting.result())
            idle_since = time.monotonic()
        await response.write_eof()
    except ConnectionResetError:
        pass  # the client stopped watching
    finally:
        stopped.cancel()
        store.watchers.discard(watcher)
    return response


async def _expired(request: web.Request, error: ApiError) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    await response.write(json.dumps({"type": "ERROR", "object": error.status()}).encode() + b"\n")
    await response.write_eof()
    return response
