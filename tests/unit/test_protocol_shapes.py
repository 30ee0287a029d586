"""PlatformKit's protocol checks: the contract's message shapes pass, each broken shape fails by name."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from PlatformKit.keywords.protocol import ProtocolKeywords
from PlatformKit.protocol import command_trail_problems, envelope_problems, hub_message_problems

STAMP = "2026-12-06T23:00:00.123Z"
START = {"sessionId": "alice-desktop-0badcafe", "user": "alice", "template": "desktop", "templateManifest": {},
         "namespace": "streamspace", "memory": "1Gi", "cpu": "500m", "persistentHome": False, "tags": []}


def command(**changes: object) -> dict:
    payload = {"commandId": "cmd-0a1b2c3d", "action": "start_session", "payload": dict(START)}
    payload.update(changes)
    return {"type": "command", "timestamp": STAMP, "payload": payload}


def hub(message: dict) -> dict:
    return {"agentId": "k8s-local", "message": json.dumps(message)}


GOOD = {
    "heartbeat": {"status": "online", "activeSessions": 2, "capacity": {"maxSessions": 10}},
    "ack": {"commandId": "cmd-0a1b2c3d"},
    "complete": {"commandId": "cmd-0a1b2c3d", "result": {"sessionId": "s", "state": "running"}},
    "failed": {"commandId": "cmd-0a1b2c3d", "error": "image not found"},
    "status": {"sessionId": "s", "state": "running", "vncReady": True, "vncPort": 5900, "platformMetadata": {}},
}


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_every_message_type_the_contract_names_passes(kind: str) -> None:
    assert envelope_problems({"type": kind, "timestamp": STAMP, "payload": GOOD[kind]}, kind) == []


def test_a_forwarded_command_in_the_contracts_shape_passes() -> None:
    assert hub_message_problems(json.dumps(hub(command()))) == []


@pytest.mark.parametrize(("message", "named"), [
    ({"type": "ack", "timestamp": STAMP, "payload": {}}, "its payload has no 'commandId'"),
    ({"type": "ack", "payload": {"commandId": "c"}}, "it has no timestamp"),
    ({"type": "ack", "timestamp": "yesterday", "payload": {"commandId": "c"}}, "is not an RFC 3339 time"),
    ({"type": "status", "timestamp": STAMP, "payload": {**GOOD["status"], "vncReady": "yes"}},
     "its payload's 'vncReady' is 'yes', not a bool"),
    ({"type": "complete", "timestamp": STAMP, "payload": {"commandId": "c", "result": {"state": "running"}}},
     "its result has no 'sessionId'"),
    ({"type": "heartbeat", "timestamp": STAMP, "payload": {"status": "online"}}, "no 'activeSessions'"),
    ({"type": "failed", "timestamp": STAMP, "payload": {"commandId": "c"}}, "its payload has no 'error'"),
])
def test_each_broken_agent_message_is_named(message: dict, named: str) -> None:
    assert any(named in problem for problem in envelope_problems(message, message["type"]))


@pytest.mark.parametrize(("broken", "named"), [
    (command(commandId="42"), "its commandId '42' is not cmd-<8 hex>"),
    (command(action="reboot_session"), "its action 'reboot_session' is none of"),
    (command(payload={"sessionId": "s"}), "its start_session payload has no 'templateManifest'"),
    ({**command(), "type": "cmd"}, "its type is 'cmd', not 'command'"),
])
def test_a_broken_forwarded_command_fails_naming_the_field(broken: dict, named: str) -> None:
    problems = hub_message_problems(hub(broken))
    assert any(named in problem for problem in problems), problems
    with pytest.raises(AssertionError, match="breaks the contract's message shape"):
        ProtocolKeywords(None).hub_message_should_follow_the_contract({"data": json.dumps(hub(broken))})


def test_a_hub_message_without_the_envelope_text_fails() -> None:
    assert hub_message_problems({"agentId": "a", "message": command()}) == [
        "the hub message does not carry the envelope as JSON text in 'message'"]


def record(**changes: object) -> dict:
    sent = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    row = {"command_id": "cmd-0a1b2c3d", "action": "hibernate_session", "session_id": "s", "status": "completed",
           "sent_at": sent, "acknowledged_at": sent + timedelta(milliseconds=3),
           "completed_at": sent + timedelta(milliseconds=300), "error_message": None}
    row.update(changes)
    return row


def test_a_command_acknowledged_then_completed_passes() -> None:
    assert command_trail_problems(record()) == []
    ProtocolKeywords(None).command_record_should_show_the_agents_answers(record())


@pytest.mark.parametrize(("changes", "named"), [
    ({"acknowledged_at": None}, "the agent's ack never reached the Control Plane"),
    ({"status": "sent", "completed_at": None}, "it is still 'sent', not completed"),
    ({"status": "failed", "error_message": None}, "it failed without an error message"),
])
def test_a_record_without_the_agents_answers_fails(changes: dict, named: str) -> None:
    assert any(named in p for p in command_trail_problems(record(**changes)))


def test_an_ack_filled_in_by_the_complete_is_not_an_ack() -> None:
    row = record()
    row["acknowledged_at"] = row["completed_at"]
    with pytest.raises(AssertionError, match="the agent's ack never arrived on its own"):
        ProtocolKeywords(None).command_record_should_show_the_agents_answers(row)


def test_a_failure_shows_only_when_the_agents_failed_answer_reached_the_record() -> None:
    from PlatformKit.protocol import failure_trail_problems

    sent = datetime(2026, 1, 1, tzinfo=UTC)
    start = {"action": "start_session", "status": "completed", "sent_at": sent, "acknowledged_at": sent,
             "completed_at": sent}
    failed = {"action": "hibernate_session", "status": "failed", "sent_at": sent,
              "acknowledged_at": sent + timedelta(seconds=0.1), "error_message": "no container to hibernate"}
    assert failure_trail_problems([start, failed], "hibernate_session") == []
    stuck = {**failed, "status": "ack", "error_message": None}
    assert "not failed: the agent's failed answer never reached" in failure_trail_problems([stuck],
                                                                                           "hibernate_session")[0]
    silent = {**failed, "error_message": ""}
    assert "without the agent's reason" in failure_trail_problems([silent], "hibernate_session")[0]
    unreached = {**failed, "acknowledged_at": None, "error_message": "agent not connected"}
    assert "the failure is not the agent's answer" in failure_trail_problems([unreached], "hibernate_session")[0]
    assert "no hibernate_session command was recorded" in failure_trail_problems([start], "hibernate_session")[0]
