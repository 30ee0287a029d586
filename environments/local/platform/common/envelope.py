"""The agent protocol's message envelope (docs/contract.md §2).

Every WebSocket frame is JSON text ``{"type", "timestamp": "RFC3339", "payload": {...}}``; one frame
may carry several messages separated by ``\\n``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any


class FrameError(ValueError):
    """A frame that is not a list of JSON envelopes."""


def now_rfc3339() -> str:
    """The current UTC time as RFC 3339 with milliseconds and a ``Z``."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_envelope(type_: str, payload: dict[str, Any]) -> str:
    """One message as JSON text: ``{"type", "timestamp", "payload"}``."""
    return json.dumps({"type": type_, "timestamp": now_rfc3339(), "payload": payload}, separators=(",", ":"))


def parse_frame(text: str | bytes) -> list[dict[str, Any]]:
    """The messages of one frame (one per non-empty line); raises :class:`FrameError` on bad JSON."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    messages: list[dict[str, Any]] = []
    for line in text.split("\n"):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError as error:
            raise FrameError(f"frame line is not JSON: {error}") from None
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise FrameError("frame line is not an envelope with a string 'type'")
        if not isinstance(message.get("payload"), dict):
            message["payload"] = {}
        messages.append(message)
    return messages
