"""Approve the install's agent, as its administrator must once after a fresh install.

StreamSpace's chart gives its Kubernetes agent the bootstrap key (``AGENT_API_KEY`` from the secret's
``agent-bootstrap-key``). An agent registering with the bootstrap key is created *pending*
(api/internal/handlers/agents.go, RegisterAgent) and stays offline until an administrator calls
``POST /api/v1/admin/agents/<id>/approve``; the agent asks again every 30 s
(agents/k8s-agent/main.go, registerAgent). :func:`approve_pending_agent` does that call through one
API replica, with the admin credentials of the install, and is a no-op for an agent already approved.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from kitcore import KitError

TIMEOUT = 10.0


def _call(method: str, url: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        raw = error.read()
        try:
            return error.code, json.loads(raw or b"null")
        except json.JSONDecodeError:
            return error.code, raw.decode(errors="replace")


def approve_pending_agent(api_url: str, username: str, password: str, agent_id: str) -> str:
    """Approve ``agent_id`` if it is pending; returns its approval status afterwards
    (``approved``, ``absent`` when it has not registered yet, or what the API says)."""
    status, answer = _call("POST", f"{api_url}/api/v1/auth/login", {"username": username, "password": password})
    if status != 200 or not isinstance(answer, dict) or "token" not in answer:
        raise KitError("The kind environment cannot log in as the administrator to approve its agent",
                       cause=f"POST /api/v1/auth/login answered {status}",
                       fix="check the admin Secret named by KIND_ADMIN_SECRET (environments/kind/README.md, step 2)")
    token = str(answer["token"])
    status, answer = _call("GET", f"{api_url}/api/v1/admin/agents", token=token)
    if status != 200 or not isinstance(answer, dict):
        raise KitError("The kind environment cannot list the install's agents",
                       cause=f"GET /api/v1/admin/agents answered {status}", fix="see the API pods' logs")
    found = [a for a in answer.get("agents") or [] if a.get("agentId") == agent_id]
    if not found:
        return "absent"
    approval = str(found[0].get("approvalStatus") or "approved")
    if approval != "pending":
        return approval
    status, answer = _call("POST", f"{api_url}/api/v1/admin/agents/{agent_id}/approve", token=token)
    if status != 200:
        raise KitError(f"The install refused to approve agent {agent_id}", cause=f"HTTP {status}: {answer}",
                       fix="approve it by hand: POST /api/v1/admin/agents/<id>/approve as admin")
    return "approved"
