"""Faults (docs/contract.md, the reference only promises: §1 tokens, §2 no lost command, §3 Redis back).

These tests kill replicas and Redis; they run last (file name) and leave everything running again.
"""

from __future__ import annotations

import time
from typing import Any

from environments.local.redis_server import RedisServer
from tests.contract.agent import ContractAgent
from tests.contract.conftest import K8S_TEMPLATE, hub_redis
from tests.contract.helpers import create, terminate, wait_state
from tests.contract.stack import Api, Stack


def test_token_survives_a_replica_restart(stack: Stack, creds: dict[str, Any]) -> None:
    api = Api(stack["api-2"])
    token = api.login("bob", creds["users"]["bob"])
    took = stack.restart("api-2")
    print(f"api-2 restarted (SIGKILL, start, healthy) in {took:.2f} s")
    assert api.call("GET", "/api/v1/sessions", token=token).status_code == 200


def test_pending_commands_survive_a_sigkilled_replica(stack: Stack, admin: Api, k8s_agent: ContractAgent) -> None:
    """Commands acked but not completed on api-1, and commands created on api-2 while the agent's
    replica is dead, all reach the agent once it reconnects: zero lost."""
    assert admin.call("PUT", "/api/v1/users/erin/quota", {"maxSessions": 20}).status_code == 200
    api1, api2 = stack["api-1"], stack["api-2"]
    assert k8s_agent.connected_to == api1.url
    k8s_agent.answer = False  # ack, never complete: the commands stay unfinished
    in_flight = [create(admin.on(api1), K8S_TEMPLATE, user="erin")["name"] for _ in range(2)]
    ContractAgent.wait(lambda: {c["payload"]["sessionId"] for c in k8s_agent.commands} >= set(in_flight), 5,
                       "the agent did not receive the first commands")
    k8s_agent.prefer([api1.url])  # it can only try the dead replica for now
    stack.kill("api-1")
    queued = [create(admin.on(api2), K8S_TEMPLATE, user="erin")["name"] for _ in range(3)]
    for name in queued:  # nobody holds the agent: the commands wait in the database
        assert admin.on(api2).call("GET", f"/api/v1/sessions/{name}").json()["state"] == "pending"
    k8s_agent.answer = True
    k8s_agent.prefer([api2.url, stack["api-3"].url])
    for name in in_flight + queued:
        wait_state(admin.on(api2), name, "running", timeout=15)
    started = {c["payload"]["sessionId"] for c in k8s_agent.received("start_session")}
    assert set(in_flight + queued) <= started
    stack.restart("api-1")
    k8s_agent.prefer([api1.url, api2.url, stack["api-3"].url])
    k8s_agent.drop_connection()  # back to api-1, where the other tests expect it
    ContractAgent.wait(lambda: k8s_agent.connected_to == api1.url, 10, "the agent did not return to api-1")
    for name in in_flight + queued:
        terminate(admin.on(api2), name)


def test_redis_killed_then_back_recreates_keys(stack: Stack, admin: Api, contract_redis: RedisServer,
                                               k8s_agent: ContractAgent) -> None:
    assert k8s_agent.connected_to == stack["api-1"].url
    assert contract_redis.process is not None
    contract_redis.process.kill()
    try:
        ContractAgent.wait(lambda: all(Api(r).call("GET", "/health").json()["redis"] == "unavailable"
                                       for r in stack.replicas.values()), 10, "replicas did not notice Redis left")
        local = create(admin.on(stack["api-1"]), K8S_TEMPLATE, user="erin")["name"]
        remote = create(admin.on(stack["api-3"]), K8S_TEMPLATE, user="erin")["name"]
        wait_state(admin, local, "running")
        wait_state(admin, remote, "running")  # no Redis: delivered from the database by api-1
    finally:
        contract_redis.start()
    client = hub_redis(contract_redis)
    took = ContractAgent.wait(lambda: client.get("agent:k8s-contract:pod") == "api-1", 10,
                              "the hub keys were not re-created")
    print(f"hub keys re-created {took:.2f} s after Redis came back")
    ContractAgent.wait(lambda: all(Api(r).call("GET", "/health").json()["redis"] == "connected"
                                   for r in stack.replicas.values()), 10, "replicas did not subscribe again")
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("pod:api-1:commands")
    try:
        routed = create(admin.on(stack["api-3"]), K8S_TEMPLATE, user="erin")["name"]
        message = None
        deadline = time.monotonic() + 5
        while message is None and time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
        assert message is not None, "cross-replica routing did not resume"
        wait_state(admin, routed, "running")
    finally:
        pubsub.close()
    for name in (local, remote, routed):
        terminate(admin, name)
