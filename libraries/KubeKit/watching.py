"""Waits on Kubernetes objects: list once, then follow a watch; poll when the API cannot watch.

A :class:`ListWatch` keeps the objects it saw (as the API's JSON, by name) and the
resourceVersion it reached, so a second wait continues exactly where the first stopped and no
change in between is missed (``Wait Until Lease Holder Changes`` uses that for ``stable_for``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any, TypeVar

import urllib3
from kubernetes import client, watch
from robot.api import logger

from kitcore import WaitTimeout
from KubeKit.connection import KubeConnection, KubeError

T = TypeVar("T")
State = dict[str, dict[str, Any]]


class ListWatch:
    def __init__(self, conn: KubeConnection, list_func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.conn = conn
        self.list_func = list_func
        self.args = args
        self.kwargs = kwargs
        self.state: State = {}
        self.version: str | None = None
        self.watching = True
        self.tries = 0

    def relist(self) -> None:
        response = self.conn.call("List objects to wait on", self.list_func, *self.args,
                                  _preload_content=False, **self.kwargs)
        try:
            body = json.loads(response.data)
        finally:
            response.release_conn()
        self.state = {item["metadata"]["name"]: item for item in body.get("items") or []}
        self.version = (body.get("metadata") or {}).get("resourceVersion")
        self.tries += 1

    def until(self, what: str, accept: Callable[[State], T | None], describe: Callable[[State], str],
              timeout: float, poll: float = 0.5) -> T:
        """Return ``accept(state)`` as soon as it is not None; fail with what was last seen at ``timeout``."""
        start = time.monotonic()
        deadline = start + timeout
        last = "nothing yet"
        while True:
            try:
                if self.version is None or not self.watching:
                    self.relist()
                result = accept(self.state)
                if result is not None:
                    return result
                last = describe(self.state)
                if self.watching:
                    result = self._follow(accept, deadline)
                    if result is not None:
                        return result
                    last = describe(self.state)
            except KubeError as error:
                last = str(error)
                self.version = None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WaitTimeout(what, last, max(self.tries, 1), time.monotonic() - start, timeout)
            if not self.watching or self.version is None:
                time.sleep(min(poll, remaining))

    def _follow(self, accept: Callable[[State], T | None], deadline: float) -> T | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        stream = watch.Watch()
        try:
            for event in stream.stream(self.list_func, *self.args, resource_version=self.version,
                                       timeout_seconds=max(1, math.ceil(remaining)),
                                       _request_timeout=(self.conn.timeout, remaining + 0.05), **self.kwargs):
                kind, obj = event.get("type"), event.get("raw_object") or {}
                meta = obj.get("metadata") or {}
                if meta.get("resourceVersion"):
                    self.version = meta["resourceVersion"]
                if kind in ("ADDED", "MODIFIED"):
                    self.state[meta["name"]] = obj
                elif kind == "DELETED":
                    self.state.pop(meta.get("name"), None)
                else:
                    continue
                self.tries += 1
                result = accept(self.state)
                if result is not None:
                    stream.stop()
                    return result
                if time.monotonic() >= deadline:
                    stream.stop()
                    return None
        except client.ApiException as error:
            if error.status == 410:  # the resourceVersion is too old: list again
                self.version = None
                return None
            logger.info(f"Watch not available ({error.status} {error.reason}); polling instead")
            self.watching = False
        except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
            return None
        except (urllib3.exceptions.HTTPError, OSError) as error:
            logger.info(f"Watch broke ({type(error).__name__}: {error}); listing again")
            self.version = None
        return None


def holder_of(state: State, name: str) -> str:
    return str(((state.get(name) or {}).get("spec") or {}).get("holderIdentity") or "")
