"""Docker agent HA: one leader per agent id through the Redis lock, failover on a crash."""

from __future__ import annotations

import re
import signal
import time

import pytest
import redis

from .conftest import TIMINGS, wait_until, write_config

pytestmark = pytest.mark.engine

AGENT_ID = "docker-lock-test"
KEY = f"streamspace:agent:leader:{AGENT_ID}"


def start_replicas(agents, names, engine, redis_server, fake_cp, key_file, config):
    for name in names:
        agents.start("docker", name, ["--replica", name, "--agent-id", AGENT_ID, "--engine-url", engine.url,
                                      "--redis-url", redis_server.url, "--api-urls", fake_cp.url,
                                      "--agent-key-file", str(key_file), "--config", str(config)])


def holder(client) -> str | None:
    return client.get(KEY)


def test_two_replicas_one_leader_then_failover_on_kill(redis_server, engine, fake_cp, agents, key_file,
                                                       tmp_path, run_id):
    client = redis.Redis.from_url(redis_server.url, decode_responses=True, socket_timeout=2)
    config = write_config(tmp_path / "agent.json", run_id)
    start_replicas(agents, ["docker-agent-a", "docker-agent-b"], engine, redis_server, fake_cp, key_file, config)

    first = wait_until(lambda: fake_cp.open_connections(AGENT_ID), 15, "a leader connects")[0].replica
    assert holder(client) == first
    # for a while: exactly one replica is connected, and it is the lock holder
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        open_now = fake_cp.open_connections(AGENT_ID)
        assert [c.replica for c in open_now] == [first], f"expected only {first} connected, saw {open_now}"
        time.sleep(0.1)
    assert {c.replica for c in fake_cp.connections} == {first}, "a follower connected to the Control Plane"
    assert fake_cp.wait(lambda: len(fake_cp.of_type("heartbeat")) >= 2, 3, "heartbeats")
    beat = fake_cp.of_type("heartbeat")[-1]
    assert beat["status"] == "online" and "activeSessions" in beat and "capacity" in beat

    other = "docker-agent-b" if first == "docker-agent-a" else "docker-agent-a"
    ttl_left = client.pttl(KEY) / 1000
    agents.procs[first].kill()  # SIGKILL: no release, the lock must expire
    killed_at = time.monotonic()
    wait_until(lambda: any(c.replica == other for c in fake_cp.open_connections(AGENT_ID)), 10,
               f"{other} takes over and connects")
    elapsed = time.monotonic() - killed_at
    assert holder(client) == other
    budget = TIMINGS["dockerLeaderLease"] + TIMINGS["retryPeriod"] + 1.0  # + registering and connecting
    print(f"\nMEASURED docker agent failover (kill -9 leader -> new leader connected): {elapsed:.2f} s "
          f"(lease {TIMINGS['dockerLeaderLease']} s + retry {TIMINGS['retryPeriod']} s)")
    assert elapsed <= budget, f"failover took {elapsed:.2f} s, budget {budget:g} s"
    assert elapsed >= ttl_left - 0.05, \
        f"the lock was taken {elapsed:.2f} s after the kill, before it expired ({ttl_left:.2f} s left)"


def test_graceful_stop_releases_the_lock(redis_server, engine, fake_cp, agents, key_file, tmp_path, run_id):
    client = redis.Redis.from_url(redis_server.url, decode_responses=True, socket_timeout=2)
    config = write_config(tmp_path / "agent.json", run_id)
    start_replicas(agents, ["docker-agent-a"], engine, redis_server, fake_cp, key_file, config)
    wait_until(lambda: holder(client) == "docker-agent-a", 15, "replica a leads")
    start_replicas(agents, ["docker-agent-b"], engine, redis_server, fake_cp, key_file, config)
    wait_until(lambda: fake_cp.open_connections(AGENT_ID), 10, "the leader connects")
    agents.procs["docker-agent-a"].stop(grace=5)
    stopped_at = time.monotonic()
    wait_until(lambda: any(c.replica == "docker-agent-b" for c in fake_cp.open_connections(AGENT_ID)), 10,
               "replica b takes over")
    elapsed = time.monotonic() - stopped_at
    print(f"\nMEASURED docker agent handover after a graceful stop: {elapsed:.2f} s")
    assert elapsed < TIMINGS["dockerLeaderLease"], "the lock was not released on a graceful stop"
    assert "released leader lock" in agents.log("docker-agent-a")


def test_wrong_agent_key_is_refused_and_reported(redis_server, engine, fake_cp, agents, tmp_path, run_id):
    bad = tmp_path / "bad.key"
    bad.write_text("0" * 64)
    config = write_config(tmp_path / "agent.json", run_id)
    agents.start("docker", "docker-agent-a", ["--replica", "docker-agent-a", "--agent-id", AGENT_ID + "-bad",
                                              "--engine-url", engine.url, "--redis-url", redis_server.url,
                                              "--api-urls", fake_cp.url, "--agent-key-file", str(bad),
                                              "--config", str(config)])
    wait_until(lambda: fake_cp.refused >= 2, 10, "registration refused and retried with backoff")
    assert not fake_cp.open_connections()
    log = agents.log("docker-agent-a")
    assert "refused to register" in log and "Fix:" in log
    assert "0" * 64 not in log, "the agent key was written to the log"


def test_a_frozen_leader_that_wakes_up_steps_down(redis_server, engine, fake_cp, agents, key_file, tmp_path, run_id):
    client = redis.Redis.from_url(redis_server.url, decode_responses=True, socket_timeout=2)
    config = write_config(tmp_path / "agent.json", run_id)
    start_replicas(agents, ["docker-agent-a", "docker-agent-b"], engine, redis_server, fake_cp, key_file, config)
    leader = wait_until(lambda: fake_cp.open_connections(AGENT_ID), 15, "a leader connects")[0].replica
    other = "docker-agent-b" if leader == "docker-agent-a" else "docker-agent-a"
    agents.procs[leader].signal(signal.SIGSTOP)
    try:
        wait_until(lambda: holder(client) == other, TIMINGS["dockerLeaderLease"] + 2, "the other replica leads")
    finally:
        agents.procs[leader].signal(signal.SIGCONT)
    wait_until(lambda: [c.replica for c in fake_cp.open_connections(AGENT_ID)] == [other],
               TIMINGS["dockerLeaderLease"] / 3 + 1.5, "only the new leader stays connected")
    assert holder(client) == other
    assert_prompt_step_down(agents.log(leader))


def assert_prompt_step_down(log: str) -> None:
    took = [float(x) for x in re.findall(r"stopped working in ([0-9.]+) s", log)]
    assert took, "the demoted leader did not report stopping"
    assert max(took) < 1.0, f"stepping down took {max(took)} s"
