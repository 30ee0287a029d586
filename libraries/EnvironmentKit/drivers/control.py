"""A client for an environment's loopback HTTP control API (docs/local-stack.md)."""

from __future__ import annotations

from typing import Any

import requests

from kitcore import KitError

ACTIONS = ("kill", "stop", "start", "restart")


class ControlClient:
    """Calls the control API; every call has a timeout and errors name the fix."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()
        self._http.trust_env = False  # loopback: never through a proxy

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
              timeout: float | None = None) -> Any:
        try:
            response = self._http.request(method, self.url + path, json=body, timeout=timeout or self.timeout)
        except requests.RequestException as error:
            raise KitError(
                f"The environment's control API did not answer {method} {path}",
                cause=f"{type(error).__name__}: {error}",
                fix="check that the environment is still running (its supervisor log says why it stopped)",
            ) from None
        try:
            payload = response.json()
        except ValueError:
            payload = {"error": response.text[:200]}
        if response.status_code >= 400:
            error = payload.get("error", "") if isinstance(payload, dict) else ""
            message = payload.get("message", "") if isinstance(payload, dict) else ""
            raise ControlError(method, path, response.status_code, str(error), str(message))
        return payload

    def topology(self) -> dict[str, Any]:
        return self._call("GET", "/topology")

    def component(self, name: str, action: str) -> dict[str, Any]:
        if action not in ACTIONS:
            raise KitError(f"Unknown component action '{action}'", fix=f"use one of: {', '.join(ACTIONS)}")
        return self._call("POST", f"/components/{name}/{action}")

    def partition(self, a: str, b: str) -> dict[str, Any]:
        return self._call("POST", "/partitions", {"a": a, "b": b})

    def heal(self) -> dict[str, Any]:
        return self._call("DELETE", "/partitions")

    def partitions(self) -> Any:
        return self._call("GET", "/partitions")

    def shutdown(self, timeout: float = 5.0) -> None:
        self._call("POST", "/shutdown", timeout=timeout)


class ControlError(KitError):
    """The control API refused a call (404 unknown component, 409 state clash...)."""

    def __init__(self, method: str, path: str, status: int, error: str, message: str) -> None:
        self.status = status
        self.error = error
        fix = {
            404: "use a component name from the topology (Get Topology shows them)",
            409: "the component is already in that state; check Get Topology before acting",
        }.get(status, "read the environment's supervisor log for details")
        cause = f"HTTP {status} {error}" + (f" ({message})" if message else "")
        super().__init__(f"The environment refused {method} {path}", cause, fix)
