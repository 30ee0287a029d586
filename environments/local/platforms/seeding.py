"""What a platform needs before the suites can use it, done through the platform's own API.

``reference``: nothing here — the kit's reference API seeds its admin and users from the kit's
configuration file at start.

``streamspace``: StreamSpace v2 sets its admin password from ``ADMIN_PASSWORD`` at start (the
platform file passes it); then, through its REST API as an administrator would:

- the kit's users (``POST /api/v1/users``, passwords that meet its password rule);
- each agent id registered with the bootstrap key and approved (``POST /api/v1/agents/register``,
  ``POST /api/v1/admin/agents/<id>/approve``): the approval answers the agent's own API key, which
  the stack then gives to the agent replicas (``{secret.agent_api_key}``), so they start approved
  instead of waiting for an administrator (the Kubernetes agent re-asks every 30 s; the Docker agent
  gives up on a pending answer);
- the session templates the suites name, whose image is the kit's session image built locally (no
  registry can be reached from here, and StreamSpace's template sync from the internet fails), in
  its template catalog — see :func:`streamspace_templates`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from environments.local.procs import BackendError

TIMEOUT = 10.0


@dataclass
class SeedContext:
    """What a seed needs from the stack: where the API is, the credentials, what to create."""

    api_url: str
    admin_password: str
    bootstrap_key: str
    users: dict[str, str]  # username -> password
    agents: dict[str, str]  # agent id -> platform (kubernetes | docker)
    templates: dict[str, dict[str, Any]]  # name -> what the template runs (image, port, platform)
    dsn: str  # the platform's database, for what its API cannot create


def call(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json", **(headers or {})},
                                     method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw or b"null")
    except json.JSONDecodeError:
        return status, raw.decode(errors="replace")


def _fail(step: str, status: int, answer: Any, fix: str) -> BackendError:
    return BackendError(f"Seeding the platform failed at: {step}", f"HTTP {status}: {str(answer)[:300]}", fix)


def login(ctx: SeedContext) -> str:
    status, answer = call("POST", f"{ctx.api_url}/api/v1/auth/login",
                          {"username": "admin", "password": ctx.admin_password})
    if status != 200 or not isinstance(answer, dict) or "token" not in answer:
        raise _fail("admin login", status, answer, "check that the platform sets the admin password from "
                    "the kit's (ADMIN_PASSWORD for StreamSpace) and that its database was empty at start")
    return str(answer["token"])


def seed_reference(ctx: SeedContext) -> dict[str, str]:
    return {}


def seed_streamspace(ctx: SeedContext) -> dict[str, str]:
    """Users, approved agents and templates; returns the API key the platform issued per agent id."""
    token = login(ctx)
    auth = {"Authorization": f"Bearer {token}"}
    for username, password in ctx.users.items():
        status, answer = call("POST", f"{ctx.api_url}/api/v1/users", {
            "username": username, "email": f"{username}@kit.test", "fullName": username.title(),
            "password": password, "role": "user", "provider": "local"}, auth)
        if status != 201:
            raise _fail(f"creating user {username}", status, answer, "see the API's log")
    keys = {}
    for agent_id, platform in ctx.agents.items():
        status, answer = call("POST", f"{ctx.api_url}/api/v1/agents/register",
                              {"agentId": agent_id, "platform": platform, "region": "local"},
                              {"X-Agent-API-Key": ctx.bootstrap_key})
        if status not in (200, 201, 202):
            raise _fail(f"registering agent {agent_id}", status, answer,
                        "check AGENT_BOOTSTRAP_KEY in the platform file")
        status, answer = call("POST", f"{ctx.api_url}/api/v1/admin/agents/{agent_id}/approve", None, auth)
        if status != 200 or not isinstance(answer, dict) or not answer.get("apiKey"):
            raise _fail(f"approving agent {agent_id}", status, answer, "see the API's log")
        keys[agent_id] = str(answer["apiKey"])
    streamspace_templates(ctx)
    return keys


def streamspace_templates(ctx: SeedContext) -> None:
    """Put the kit's templates in StreamSpace's catalog (``catalog_templates``).

    StreamSpace fills its catalog only by syncing template repositories from the internet; it has no
    API to add one template. The kit writes the rows the sync would write, in a repository of its own.
    """
    import psycopg

    with psycopg.connect(ctx.dsn, autocommit=True, connect_timeout=5) as conn:
        repo = conn.execute(
            "INSERT INTO repositories (name, url, branch, type, status) VALUES (%s, %s, 'main', 'template', 'syncing') "
            "ON CONFLICT (name) DO UPDATE SET status = 'syncing' RETURNING id",
            ("kit-templates", "file:///kit-templates")).fetchone()[0]
        for name, spec in ctx.templates.items():
            manifest = template_manifest(name, spec)
            conn.execute(
                "INSERT INTO catalog_templates (repository_id, name, display_name, description, category, "
                "app_type, manifest, tags) VALUES (%s, %s, %s, %s, 'Development', 'desktop', %s, %s) "
                "ON CONFLICT (repository_id, name) DO UPDATE SET manifest = EXCLUDED.manifest",
                (repo, name, name, f"the kit's session desktop ({spec.get('platform', 'any')})",
                 json.dumps(manifest), ["kit"]))


def template_manifest(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """A ``stream.space/v1alpha1`` Template as StreamSpace's repositories carry them, for one VNC desktop."""
    port = int(spec.get("port", 5900))
    return {
        "apiVersion": "stream.space/v1alpha1", "kind": "Template",
        "metadata": {"name": name},
        "spec": {
            "displayName": name, "description": "the kit's session desktop", "category": "Development",
            "appType": "desktop", "baseImage": spec["image"],
            "ports": [{"name": "vnc", "containerPort": port, "protocol": "TCP"}],
            "vnc": {"enabled": True, "port": port, "protocol": "rfb"},
            "defaultResources": {"memory": "512Mi", "cpu": "500m"},
            "env": [{"name": "VNC_GEOMETRY", "value": "800x600"}],
        },
    }


SEEDS: dict[str, Callable[[SeedContext], dict[str, str]]] = {
    "reference": seed_reference,
    "streamspace": seed_streamspace,
}


def seed(kind: str, ctx: SeedContext) -> dict[str, str]:
    if kind not in SEEDS:
        raise BackendError(f"No seed '{kind}'", f"known seeds: {', '.join(sorted(SEEDS))}",
                           "set seed: in the platform file to one of them")
    return SEEDS[kind](ctx)
