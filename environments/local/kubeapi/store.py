"""The stand-in's state: objects, one resourceVersion counter, a history for watches.

Every write runs to the end without awaiting, inside the server's single asyncio loop, so
writes are atomic and ordered: resourceVersion increments by one per write, watchers see
events in that order, and a watch can resume from any resourceVersion still in the history.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import random
import string
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from environments.local.kubeapi.patching import PatchError, json_patch, merge_patch
from environments.local.kubeapi.resources import Resource, find
from environments.local.kubeapi.selectors import Matcher
from environments.local.kubeapi.strategic import strategic_merge

Obj = dict[str, Any]
Key = tuple[Resource, str, str]  # resource, namespace ("" when cluster-scoped), name

HISTORY = 20000
NAMESPACES = find("", "v1", "namespaces")
# what a real API server sets on create where status is a subresource (custom resources: no status)
INITIAL_STATUS: dict[str, Any] = {"Namespace": {"phase": "Active"}, "Pod": {"phase": "Pending"},
                                  "PersistentVolumeClaim": {"phase": "Pending"}, "Service": {"loadBalancer": {}},
                                  "Deployment": {}}
KEEPS_STATUS_ON_CREATE = {"Node"}  # a kubelet registers its node with its status


class ApiError(Exception):
    """An answer other than success, rendered as a Kubernetes ``Status``."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None,
                 unserved: bool = False) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details or {}
        self.unserved = unserved  # the stand-in lacks what was asked (a gap), not a client mistake

    def status(self) -> Obj:
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": self.message, "reason": self.reason, "details": self.details, "code": self.code}


def not_found(res: Resource, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{res.qualified} "{name}" not found',
                    {"name": name, "group": res.group, "kind": res.plural})


def conflict(res: Resource, name: str) -> ApiError:
    return ApiError(409, "Conflict", f'Operation cannot be fulfilled on {res.qualified} "{name}": the object has '
                    "been modified; please apply your changes to the latest version and try again",
                    {"name": name, "group": res.group, "kind": res.plural})


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(eq=False)
class Watcher:
    resource: Resource
    namespace: str | None
    matches: Matcher
    queue: asyncio.Queue[Obj] = field(default_factory=asyncio.Queue)

    def offer(self, kind: str, new: Obj, old: Obj | None) -> None:
        """Queue the event as this watcher sees it (selectors turn moves in/out into ADDED/DELETED)."""
        if self.namespace is not None and new["metadata"].get("namespace", "") != self.namespace:
            return
        now_in = self.matches(new)
        was_in = old is not None and self.matches(old)
        if kind == "MODIFIED":
            kind = "MODIFIED" if now_in and was_in else "ADDED" if now_in else "DELETED" if was_in else ""
        elif not now_in:
            kind = ""
        if kind:
            self.queue.put_nowait({"type": kind, "object": copy.deepcopy(new)})


@dataclass
class Store:
    objects: dict[Key, Obj] = field(default_factory=dict)
    version: int = 0
    history: deque[tuple[int, Resource, str, Obj, Obj | None]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    watchers: set[Watcher] = field(default_factory=set)

    # -- reading ------------------------------------------------------------------------
    def list(self, res: Resource, namespace: str | None, matches: Matcher) -> tuple[list[Obj], str]:
        items = [copy.deepcopy(obj) for (r, ns, _), obj in sorted(self.objects.items(), key=lambda kv: kv[0][1:])
                 if r == res and (namespace is None or ns == namespace) and matches(obj)]
        return items, str(self.version)

    def get(self, res: Resource, namespace: str, name: str) -> Obj:
        obj = self.objects.get((res, namespace, name))
        if obj is None:
            raise not_found(res, name)
        return copy.deepcopy(obj)

    def watch(self, res: Resource, namespace: str | None, matches: Matcher, since: str | None,
              initial: bool = True) -> Watcher:
        """Register a watcher, queued with the events it must see first (all in one step): the current
        objects as ADDED when ``initial``, else the history after ``since`` (410 when it is too old)."""
        watcher = Watcher(res, namespace, matches)
        if initial:
            for obj in self.list(res, namespace, matches)[0]:
                watcher.queue.put_nowait({"type": "ADDED", "object": obj})
        elif since:
            try:
                start = int(since)
            except ValueError:
                raise ApiError(400, "BadRequest", f"invalid resourceVersion {since!r}") from None
            oldest = self.history[0][0] if self.history else self.version + 1
            if start < oldest - 1 and start < self.version:
                raise ApiError(410, "Expired", f"too old resource version: {start} ({oldest - 1})")
            for version, r, kind, new, old in self.history:
                if version > start and r == res:
                    watcher.offer(kind, new, old)
        self.watchers.add(watcher)
        return watcher

    # -- writing ------------------------------------------------------------------------
    def _commit(self, res: Resource, key: Key, kind: str, new: Obj, old: Obj | None) -> Obj:
        self.version += 1
        new["metadata"]["resourceVersion"] = str(self.version)
        if kind == "DELETED":
            self.objects.pop(key, None)
        else:
            self.objects[key] = new
        self.history.append((self.version, res, kind, copy.deepcopy(new), old))
        for watcher in list(self.watchers):
            if watcher.resource == res:
                watcher.offer(kind, new, old)
        return copy.deepcopy(new)

    def create(self, res: Resource, namespace: str, body: Obj) -> Obj:
        if not isinstance(body, dict):
            raise ApiError(400, "BadRequest", "the body must be a JSON object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if res.namespaced:
            if meta.get("namespace") not in (None, "", namespace):
                raise ApiError(400, "BadRequest", "the namespace of the provided object does not match "
                               "the namespace sent on the request")
            space = self.objects.get((NAMESPACES, "", namespace))
            if space is None:
                raise ApiError(404, "NotFound", f'namespaces "{namespace}" not found',
                               {"name": namespace, "kind": "namespaces"})
            if space["metadata"].get("deletionTimestamp"):
                raise ApiError(403, "Forbidden", f'unable to create new content in namespace {namespace} '
                               "because it is being terminated")
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = meta["generateName"] + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
        name = meta.get("name")
        if not name:
            raise ApiError(422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value: name or "
                           "generateName is required", {"kind": res.kind})
        key = (res, namespace if res.namespaced else "", name)
        if key in self.objects:
            raise ApiError(409, "AlreadyExists", f'{res.qualified} "{name}" already exists',
                           {"name": name, "group": res.group, "kind": res.plural})
        obj["apiVersion"], obj["kind"] = res.group_version, res.kind
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        meta.pop("resourceVersion", None)
        meta.pop("deletionTimestamp", None)
        if "status" in res.subresources and res.kind not in KEEPS_STATUS_ON_CREATE:
            obj.pop("status", None)  # create cannot set status where status is a subresource
            if res.kind in INITIAL_STATUS:
                obj["status"] = copy.deepcopy(INITIAL_STATUS[res.kind])
        return self._commit(res, key, "ADDED", obj, None)

    def update(self, res: Resource, namespace: str, name: str, change: Callable[[Obj], Obj],
               sub: str | None = None, precondition: str | None = None) -> Obj:
        """Apply ``change`` to a copy of the object; keep what the (sub)resource may not change."""
        key = (res, namespace, name)
        old = self.objects.get(key)
        if old is None:
            raise not_found(res, name)
        if precondition and precondition != old["metadata"]["resourceVersion"]:
            raise conflict(res, name)
        new = change(copy.deepcopy(old))
        if not isinstance(new, dict) or not isinstance(new.get("metadata", {}), dict):
            raise ApiError(400, "BadRequest", "the result must be a JSON object with object metadata")
        meta = new.setdefault("metadata", {})
        sent_version = meta.get("resourceVersion")
        if sent_version and sent_version != old["metadata"]["resourceVersion"]:
            raise conflict(res, name)
        if meta.get("name", name) != name:
            raise ApiError(400, "BadRequest", f"the name of the object ({meta.get('name')}) does not match the "
                           f"name on the URL ({name})")
        if sub == "status":
            status = new.get("status")
            new = copy.deepcopy(old)
            if status is None:
                new.pop("status", None)
            else:
                new["status"] = status
        else:
            for immutable in ("uid", "creationTimestamp", "namespace", "deletionTimestamp"):
                if immutable in old["metadata"]:
                    meta[immutable] = old["metadata"][immutable]
            meta["name"] = name
            if "status" in res.subresources or res.kind == "Namespace":
                if "status" in old:
                    new["status"] = old["status"]
                else:
                    new.pop("status", None)
            def spec(o: Obj) -> Obj:
                return {k: v for k, v in o.items() if k not in ("metadata", "status")}

            meta["generation"] = old["metadata"].get("generation", 1) + (spec(new) != spec(old))
        new["apiVersion"], new["kind"] = res.group_version, res.kind
        return self._commit(res, key, "MODIFIED", new, copy.deepcopy(old))

    def delete(self, res: Resource, namespace: str, name: str, precondition: str | None = None) -> Obj:
        key = (res, namespace, name)
        obj = self.objects.get(key)
        if obj is None:
            raise not_found(res, name)
        if precondition and precondition != obj["metadata"]["resourceVersion"]:
            raise conflict(res, name)
        if res.kind == "Namespace":
            for child in [k for k in self.objects if k[0].namespaced and k[1] == name]:
                if child in self.objects:
                    self._delete(child)
        return self._delete(key)

    def _delete(self, key: Key) -> Obj:
        res = key[0]
        old = self.objects[key]
        uid = old["metadata"].get("uid")
        owned = [k for k, o in self.objects.items()
                 if any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences") or [])]
        for child in owned:  # what the garbage collector would remove (background propagation)
            if child in self.objects:
                self._delete(child)
        gone = copy.deepcopy(old)
        gone["metadata"]["deletionTimestamp"] = now()
        if res.kind == "Namespace":
            gone["status"] = {"phase": "Terminating"}
        return self._commit(res, key, "DELETED", gone, copy.deepcopy(old))

    def delete_many(self, res: Resource, namespace: str | None, matches: Matcher) -> list[Obj]:
        keys = [k for k, o in self.objects.items()
                if k[0] == res and (namespace is None or k[1] == namespace) and matches(o)]
        return [self._delete(k) for k in keys if k in self.objects]


JSON_PATCH, MERGE_PATCH = "application/json-patch+json", "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"


def patcher(content_type: str, patch: Any, kind: str, custom: bool = False) -> Callable[[Obj], Obj]:
    """The change a PATCH request makes, by its content type (``kind`` picks the strategic merge keys)."""
    media = content_type.split(";")[0].strip().lower()
    if media == JSON_PATCH:
        if not isinstance(patch, list):
            raise ApiError(400, "BadRequest", "a JSON patch must be a list of operations")
        return lambda obj: _checked(json_patch, obj, patch)
    if media == MERGE_PATCH or (media == STRATEGIC_PATCH and not custom):
        if not isinstance(patch, dict):
            raise ApiError(400, "BadRequest", "a merge patch must be a JSON object")
        if media == MERGE_PATCH:
            return lambda obj: merge_patch(obj, patch)
        return lambda obj: _checked(lambda o, p: strategic_merge(o, p, kind), obj, patch)
    accepted = [JSON_PATCH, MERGE_PATCH] + ([] if custom else [STRATEGIC_PATCH])
    why = "custom resources take no strategic merge patch" if custom else "server-side apply is not served"
    raise ApiError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - accepted "
                   f"media types include: {', '.join(accepted)} ({why} by this stand-in)", unserved=not custom)


def _checked(apply: Callable[[Obj, Any], Obj], obj: Obj, patch: Any) -> Obj:
    try:
        return apply(obj, patch)
    except PatchError as error:
        raise ApiError(422, "Invalid", str(error)) from None
