"""Small waits and calls the contract tests share."""

from __future__ import annotations

import time
from typing import Any

from tests.contract.stack import Api


def wait_state(api: Api, name: str, state: str, timeout: float = 10.0) -> dict[str, Any]:
    """Poll the session until its state is ``state``; fail with the last state seen."""
    start, last = time.monotonic(), None
    while time.monotonic() - start < timeout:
        response = api.call("GET", f"/api/v1/sessions/{name}")
        if response.status_code == 200:
            last = response.json()
            if last["state"] == state:
                return last
        time.sleep(0.05)
    raise AssertionError(f"session {name} not {state} within {timeout:g} s; last seen: {last}")


def wait_agent(api: Api, agent_id: str, check: Any, timeout: float = 10.0) -> dict[str, Any]:
    start, last = time.monotonic(), None
    while time.monotonic() - start < timeout:
        response = api.call("GET", f"/api/v1/admin/agents/{agent_id}")
        if response.status_code == 200:
            last = response.json()
            if check(last):
                return last
        time.sleep(0.05)
    raise AssertionError(f"agent {agent_id} did not reach the expected state within {timeout:g} s; last: {last}")


def create(api: Api, template: str, user: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"template": template, "resources": {"memory": "256Mi", "cpu": "250m"}, **extra}
    if user:
        body["user"] = user
    response = api.call("POST", "/api/v1/sessions", body)
    assert response.status_code == 202, response.text
    return response.json()


def terminate(api: Api, name: str) -> None:
    response = api.call("DELETE", f"/api/v1/sessions/{name}")
    assert response.status_code in (202, 409), response.text
    wait_state(api, name, "terminated")
