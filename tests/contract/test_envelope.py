"""The message envelope the API and the agents share (docs/contract.md §2)."""

from __future__ import annotations

import json

import pytest

from environments.local.platform.common.envelope import FrameError, make_envelope, parse_frame


def test_envelope_has_type_timestamp_payload() -> None:
    message = json.loads(make_envelope("heartbeat", {"status": "online"}))
    assert message["type"] == "heartbeat" and message["payload"] == {"status": "online"}
    assert message["timestamp"].endswith("Z") and "T" in message["timestamp"]


def test_a_frame_may_carry_several_messages() -> None:
    ack, complete = make_envelope("ack", {"commandId": "cmd-1"}), make_envelope("complete", {"commandId": "cmd-1"})
    frame = "\n".join([ack, "", complete])
    assert [m["type"] for m in parse_frame(frame)] == ["ack", "complete"]
    with pytest.raises(FrameError):
        parse_frame('{"type": "ack"}\nnot json')
    with pytest.raises(FrameError):
        parse_frame('{"payload": {}}')
