"""Database rows to the contract's JSON objects (wire names exactly as in docs/contract.md §1)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def rfc3339(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def user_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "username": row["username"], "email": row["email"], "fullName": row["full_name"],
            "role": row["role"], "active": row["active"], "createdAt": rfc3339(row["created_at"])}


def quota_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"userId": row["user_id"], "maxSessions": row["max_sessions"], "maxCpu": row["max_cpu"],
            "maxMemory": row["max_memory"]}


def session_json(row: dict[str, Any]) -> dict[str, Any]:
    state = row["state"]
    status: dict[str, Any] = {"phase": state.capitalize()}
    if row.get("status_message"):
        status["message"] = row["status_message"]
    if row.get("pod_name"):
        status["podName"] = row["pod_name"]
    if row.get("url"):
        status["url"] = row["url"]
    return {
        "name": row["id"],
        "namespace": row["namespace"],
        "user": row["username"],
        "template": row["template_name"],
        "state": state,
        "platform": row["platform"],
        "agentId": row["agent_id"],
        "persistentHome": row["persistent_home"],
        "resources": {"memory": row["memory"], "cpu": row["cpu"]},
        "tags": list(row["tags"] or []),
        "createdAt": rfc3339(row["created_at"]),
        "updatedAt": rfc3339(row["updated_at"]),
        "activeConnections": row["active_connections"],
        "streamingProtocol": "vnc",
        "streamingPort": 5900,
        "vncReady": row["vnc_ready"],
        "platformMetadata": row["platform_metadata"] or {},
        "status": status,
    }


def agent_json(row: dict[str, Any], connected_pod: str | None) -> dict[str, Any]:
    return {
        "agentId": row["agent_id"],
        "platform": row["platform"],
        "region": row["region"],
        "status": row["status"],
        "capacity": row["capacity"] or {},
        "lastHeartbeat": rfc3339(row["last_heartbeat"]),
        "metadata": row["metadata"] or {},
        "connectedPod": connected_pod,
        "activeSessions": int(row.get("active_sessions") or 0),
        "createdAt": rfc3339(row["created_at"]),
    }


def template_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "display_name": row["display_name"],
            "description": row["description"], "category": row["category"], "platform": row["platform"],
            "manifest": row["manifest"]}
