"""Envelopes of the agent ↔ Control Plane protocol (CONTRACT.md §2).

Every frame is JSON text ``{"type","timestamp","payload"}``; a frame may carry several messages
separated by ``\\n``. The agents keep this private helper so they depend on the wire format only,
never on the Control Plane's code.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_envelope(kind: str, payload: dict[str, Any]) -> str:
    """One message as JSON text."""
    return json.dumps({"type": kind, "timestamp": now_rfc3339(), "payload": payload}, separators=(",", ":"))


def parse_frame(text: str | bytes) -> list[dict[str, Any]]:
    """The messages of one frame; lines that are not JSON objects with a ``type`` are skipped."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    messages: list[dict[str, Any]] = []
    for line in text.split("\n"):
        line = line.strip()
        if not line:
            continue
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and isinstance(message.get("type"), str):
            if not isinstance(message.get("payload"), dict):
                message["payload"] = {}
            messages.append(message)
    return messages
