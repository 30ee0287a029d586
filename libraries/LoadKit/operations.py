"""What a load run repeats: an HTTP request, or a Python callable another library registered.

An operation is a callable with no arguments that returns on success and raises on failure.
HTTP operations use one urllib3 pool shared by the workers (thread safe, keep-alive), so the
generator spends its time waiting on the server, not on building requests.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterable
from typing import Any

import urllib3

from kitcore import KitError, reveal

Operation = Callable[[], Any]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

_registry: dict[str, Operation] = {}
_lock = threading.Lock()


DETAIL_LIMIT = 400


class OperationFailed(Exception):
    """An operation ran but its result was wrong (e.g. an unexpected HTTP status); ``detail`` is what
    the target answered (cut), kept as an example of the error in the run's summary."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail


def register_operation(name: str, operation: Operation) -> None:
    """Make ``operation`` runnable as ``Run Load  name`` (for other libraries' Python code)."""
    if not callable(operation):
        raise TypeError(f"operation '{name}' is not callable")
    with _lock:
        _registry[name] = operation


def registered_names() -> list[str]:
    with _lock:
        return sorted(_registry)


def resolve(operation: Any) -> tuple[str, Operation]:
    """A registered name, a callable, or ``"GET http://..."`` -> (label, callable)."""
    if callable(operation):
        return getattr(operation, "__name__", "callable"), operation
    text = str(operation).strip()
    with _lock:
        found = _registry.get(text)
    if found is not None:
        return text, found
    method, _, url = text.partition(" ")
    if method.upper() in HTTP_METHODS and url.strip():
        return text, HttpOperation(method, url.strip())
    raise KitError(f"No load operation '{text}'",
                   cause=f"registered operations: {', '.join(registered_names()) or 'none'}",
                   fix="define it with 'Define HTTP Operation', register it from Python with "
                       "LoadKit.register_operation, or write it as 'GET http://host:port/path'")


class HttpOperation:
    """One HTTP request; success is a status in ``expect_status``."""

    def __init__(self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None,
                 token: str | None = None, expect_status: Iterable[int] | None = None, timeout: float = 5.0,
                 pool_size: int = 64) -> None:
        self.method = method.upper()
        self.token = token
        self.timeout_s = timeout
        if self.method not in HTTP_METHODS:
            raise KitError(f"'{method}' is not an HTTP method", fix=f"use one of: {', '.join(HTTP_METHODS)}")
        self.url = url
        self.headers = {k: str(reveal(v)) for k, v in (headers or {}).items()}  # values may be Secret
        self.body: bytes | None = None
        if body is not None:
            self.body = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.headers.setdefault("Content-Type", "application/json")
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        self.expect = set(expect_status) if expect_status else set(range(200, 300))
        self.timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self.pool = urllib3.PoolManager(num_pools=4, maxsize=pool_size, block=False, retries=False)
        self.__name__ = f"{self.method} {url}"

    def __call__(self) -> int:
        response = self.pool.request(self.method, self.url, body=self.body, headers=self.headers,
                                     timeout=self.timeout, retries=False, redirect=False)
        if response.status not in self.expect:
            body = response.data.decode(errors="replace").strip()
            raise OperationFailed(f"HTTP {response.status}", body[:DETAIL_LIMIT] or None)
        return response.status

    def resize(self, workers: int) -> None:
        """Keep at least one pooled connection per worker."""
        if workers > self.pool.connection_pool_kw.get("maxsize", 0):
            self.pool.clear()
            self.pool = urllib3.PoolManager(num_pools=4, maxsize=workers, block=False, retries=False)

    def describe(self) -> str:
        return self.__name__

    def spec(self) -> dict[str, Any]:
        """What another process needs to send the same request (holds the token: keep it off logs and files
        others can read)."""
        headers = {k: v for k, v in self.headers.items() if k != "Authorization" or not self.token}
        return {"method": self.method, "url": self.url, "headers": headers,
                "body": base64.b64encode(self.body).decode() if self.body is not None else None,
                "token": self.token, "expect_status": sorted(self.expect), "timeout": self.timeout_s}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> HttpOperation:
        """The request ``spec()`` described, ready to send."""
        body = base64.b64decode(spec["body"]) if spec.get("body") is not None else None
        return cls(spec["method"], spec["url"], body, spec.get("headers"), spec.get("token"),
                   spec.get("expect_status"), float(spec.get("timeout") or 5.0))
