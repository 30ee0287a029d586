"""The common agent runtime over real sockets: reconnect across API URLs, frames, dispatch answers."""

from __future__ import annotations

import time

import pytest

from environments.local.platform.common.envelope import make_envelope

from .conftest import TIMINGS, wait_until, write_config
from .fakecp import FakeControlPlane

pytestmark = pytest.mark.engine

AGENT_ID = "runtime-test"


def start_agent(agents, engine, redis_server, urls, key_file, config):
    agents.start("docker", "docker-agent-a", ["--replica", "docker-agent-a", "--agent-id", AGENT_ID,
                                              "--engine-url", engine.url, "--redis-url", redis_server.url,
                                              "--api-urls", ",".join(urls), "--agent-key-file", str(key_file),
                                              "--config", str(config)])


def test_reconnects_to_the_next_api_url_after_the_first_backoff(engine, redis_server, fake_cp, agent_key, agents,
                                                                   key_file, tmp_path, run_id):
    second = FakeControlPlane(agent_key).start()
    try:
        start_agent(agents, engine, redis_server, [fake_cp.url, second.url], key_file,
                    write_config(tmp_path / "agent.json", run_id))
        planes = wait_until(lambda: [cp for cp in (fake_cp, second) if cp.open_connections(AGENT_ID)], 15,
                            "the agent connects")
        first = planes[0]
        other = second if first is fake_cp else fake_cp
        assert first.registrations[-1]["platform"] == "docker"
        assert first.registrations[-1]["agentId"] == AGENT_ID
        first.stop()  # the replica holding the agent goes away
        gone_at = time.monotonic()
        wait_until(lambda: other.open_connections(AGENT_ID), 10, "the agent reconnects to the other URL")
        elapsed = time.monotonic() - gone_at
        print(f"\nMEASURED agent reconnect to the next API URL: {elapsed:.2f} s "
              f"(first backoff {TIMINGS['reconnectBackoff'][0]} s)")
        assert elapsed < TIMINGS["reconnectBackoff"][0] + 1.5
        assert other.wait(lambda: other.of_type("heartbeat"), 3, "heartbeats on the new connection")
    finally:
        second.stop()


def test_frames_with_several_messages_bad_frames_and_unknown_actions(engine, redis_server, fake_cp, agents,
                                                                    key_file, tmp_path, run_id):
    start_agent(agents, engine, redis_server, [fake_cp.url], key_file, write_config(tmp_path / "agent.json", run_id))
    wait_until(lambda: fake_cp.open_connections(AGENT_ID), 15, "the agent connects")
    fake_cp.send("", {}, AGENT_ID, raw="this is not json")
    one = make_envelope("command", {"commandId": "cmd-0000000a", "action": "hibernate_session",
                                    "payload": {"sessionId": "nobody-here-1"}})
    two = make_envelope("command", {"commandId": "cmd-0000000b", "action": "reboot_session",
                                    "payload": {"sessionId": "nobody-here-2"}})
    fake_cp.send("", {}, AGENT_ID, raw=one + "\n" + two)
    kind, first = fake_cp.result("cmd-0000000a", 15)
    assert kind == "failed" and "nobody-here-1" in first["error"], first
    kind, second = fake_cp.result("cmd-0000000b", 5)
    assert kind == "failed" and "unknown action 'reboot_session'" in second["error"]
    assert fake_cp.count("ack", "cmd-0000000a") == 1
    assert len(fake_cp.open_connections(AGENT_ID)) == 1, "a bad frame broke the connection"
    # the same commandId again: the same answer, not a second run
    fake_cp.command("hibernate_session", {"sessionId": "nobody-here-1"}, AGENT_ID, command_id="cmd-0000000a")
    fake_cp.wait(lambda: fake_cp.count("failed", "cmd-0000000a") == 2, 5, "the same answer again")
    assert fake_cp.count("ack", "cmd-0000000a") == 1
