"""The shapes the contract requires of the agent protocol's messages (docs/contract.md §2, §3).

Each function returns the problems it finds in a tester's words (empty: the message conforms), so a
keyword names every missing or wrong field at once.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

ACTIONS = ("start_session", "stop_session", "hibernate_session", "wake_session")
COMMAND_ID = re.compile(r"^cmd-[0-9a-f]{8}$")
START_FIELDS = ("sessionId", "user", "template", "templateManifest", "namespace", "memory", "cpu",
                "persistentHome", "tags")
OTHER_FIELDS = ("sessionId", "namespace")
# payload fields of each message type, with the Python types the JSON must carry
PAYLOADS: dict[str, dict[str, tuple[type, ...]]] = {
    "command": {"commandId": (str,), "action": (str,), "payload": (dict,)},
    "heartbeat": {"status": (str,), "activeSessions": (int,), "capacity": (dict,)},
    "ack": {"commandId": (str,)},
    "complete": {"commandId": (str,), "result": (dict,)},
    "failed": {"commandId": (str,), "error": (str,)},
    "status": {"sessionId": (str,), "state": (str,), "vncReady": (bool,), "vncPort": (int,),
               "platformMetadata": (dict,)},
}
COMMAND_STATES = ("pending", "sent", "ack", "completed", "failed")


def _is(value: Any, types: tuple[type, ...]) -> bool:
    if bool not in types and isinstance(value, bool):
        return False
    return isinstance(value, types)


def _rfc3339(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def as_message(message: Any) -> Any:
    """A message as a dictionary: JSON text is parsed; anything else is returned as it is."""
    if isinstance(message, (str, bytes)):
        try:
            return json.loads(message)
        except ValueError:
            return message
    return message


def envelope_problems(message: Any, expected_type: str | None = None) -> list[str]:
    """``{"type", "timestamp": RFC3339, "payload": {...}}`` with the payload its type requires."""
    message = as_message(message)
    if not isinstance(message, dict):
        return [f"the message is not a JSON object: {str(message)[:200]}"]
    problems = []
    kind = message.get("type")
    if expected_type and kind != expected_type:
        problems.append(f"its type is {kind!r}, not {expected_type!r}")
    if kind not in PAYLOADS and not expected_type:
        problems.append(f"its type {kind!r} is none the contract names ({', '.join(PAYLOADS)})")
    if "timestamp" not in message:
        problems.append("it has no timestamp")
    elif not _rfc3339(message.get("timestamp")):
        problems.append(f"its timestamp {message.get('timestamp')!r} is not an RFC 3339 time")
    payload = message.get("payload")
    if not isinstance(payload, dict):
        return [*problems, "it carries no payload object"]
    for field, types in PAYLOADS.get(str(kind), {}).items():
        if field not in payload:
            problems.append(f"its payload has no '{field}'")
        elif not _is(payload[field], types):
            problems.append(f"its payload's '{field}' is {payload[field]!r}, not a {types[0].__name__}")
    if kind == "command":
        problems += command_problems(payload)
    if kind in ("ack", "complete", "failed") and isinstance(payload.get("commandId"), str) \
            and not payload["commandId"]:
        problems.append("its commandId is empty")
    if kind == "complete" and isinstance(payload.get("result"), dict):
        problems += [f"its result has no '{f}'" for f in ("sessionId", "state") if f not in payload["result"]]
    return problems


def command_problems(payload: dict[str, Any]) -> list[str]:
    """A command: ``cmd-<8 hex>`` id, a known action, and the fields that action's payload needs."""
    problems = []
    command_id = payload.get("commandId")
    if isinstance(command_id, str) and not COMMAND_ID.match(command_id):
        problems.append(f"its commandId {command_id!r} is not cmd-<8 hex>")
    action = payload.get("action")
    if action not in ACTIONS:
        problems.append(f"its action {action!r} is none of {', '.join(ACTIONS)}")
    inner = payload.get("payload")
    if isinstance(inner, dict):
        needed = START_FIELDS if action == "start_session" else OTHER_FIELDS
        problems += [f"its {action} payload has no '{f}'" for f in needed if f not in inner]
    return problems


def hub_message_problems(message: Any) -> list[str]:
    """A command forwarded between replicas: ``{"agentId", "message": "<envelope JSON>"}``, the envelope
    a ``command``."""
    message = as_message(message)
    if not isinstance(message, dict):
        return [f"the hub message is not a JSON object: {str(message)[:200]}"]
    problems = []
    if not isinstance(message.get("agentId"), str) or not message.get("agentId"):
        problems.append("the hub message names no agentId")
    inner = message.get("message")
    if not isinstance(inner, str):
        return [*problems, "the hub message does not carry the envelope as JSON text in 'message'"]
    return problems + [f"the forwarded envelope: {p}" for p in envelope_problems(inner, "command")]


def command_trail_problems(row: dict[str, Any]) -> list[str]:
    """A command's record (``agent_commands``) after the agent answered: it went ``sent``, then ``ack``
    (``acknowledged_at``), then ``completed`` (``completed_at``), each strictly after the one before (an
    ack filled in by the complete shares its time); a failed one says why."""
    problems = []
    status = row.get("status")
    sent, acked, done = row.get("sent_at"), row.get("acknowledged_at"), row.get("completed_at")
    if status not in COMMAND_STATES:
        problems.append(f"its status {status!r} is none of {', '.join(COMMAND_STATES)}")
    if status == "failed":
        if not row.get("error_message"):
            problems.append("it failed without an error message")
        return problems
    if status != "completed":
        problems.append(f"it is still '{status}', not completed")
    if sent is None:
        problems.append("it was never sent to the agent (no sent_at)")
    if acked is None:
        problems.append("the agent's ack never reached the Control Plane (no acknowledged_at)")
    if done is None:
        problems.append("the agent's complete never reached the Control Plane (no completed_at)")
    if sent is not None and acked is not None and acked < sent:
        problems.append(f"it was acknowledged ({acked}) before it was sent ({sent})")
    if acked is not None and done is not None and done < acked:
        problems.append(f"it was completed ({done}) before it was acknowledged ({acked})")
    elif acked is not None and done is not None and done == acked:
        problems.append(f"the agent's ack never arrived on its own: acknowledged_at is completed_at ({done}), "
                        "filled in when the complete came")
    return problems


def failure_trail_problems(rows: list[dict[str, Any]], action: str) -> list[str]:
    """The records of a session's commands show the agent's ``failed`` answer to its ``action`` command:
    the command reached the agent (``acknowledged_at``), then ``failed`` with the agent's reason."""
    found = [row for row in rows if row.get("action") == action]
    if not found:
        return [f"no {action} command was recorded (recorded: {[row.get('action') for row in rows]})"]
    row = found[-1]
    problems = []
    if row.get("status") != "failed":
        problems.append(f"the {action} command is '{row.get('status')}', not failed: the agent's failed answer "
                        "never reached the Control Plane")
    elif not row.get("error_message"):
        problems.append(f"the {action} command failed without the agent's reason (no error_message)")
    if row.get("acknowledged_at") is None:
        problems.append(f"the agent's ack of the {action} command never reached the Control Plane (no "
                        "acknowledged_at): the failure is not the agent's answer")
    return problems
