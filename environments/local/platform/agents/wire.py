"""Envelopes of the agent ↔ Control Plane protocol (docs/contract.md §2), from the stack's common module.

A frame that cannot be parsed is logged and dropped: one bad frame never breaks the connection.
"""

from __future__ import annotations

import logging
from typing import Any

from environments.local.platform.common.envelope import FrameError, make_envelope, now_rfc3339
from environments.local.platform.common.envelope import parse_frame as _parse_frame

__all__ = ["make_envelope", "now_rfc3339", "parse_frame"]

log = logging.getLogger("streamspace.agent")


def parse_frame(text: str | bytes) -> list[dict[str, Any]]:
    try:
        return _parse_frame(text)
    except (FrameError, UnicodeDecodeError) as error:
        log.warning("dropped a malformed frame: %s", error)
        return []
