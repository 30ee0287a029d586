"""Sessions (docs/contract.md §1): shapes, lifecycle, 409 rules, filters, ownership, quotas, agent choice,
and cross-replica command routing (§3)."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from environments.local.redis_server import RedisServer
from tests.contract.agent import ContractAgent
from tests.contract.conftest import DOCKER_TEMPLATE, K8S_TEMPLATE, hub_redis
from tests.contract.helpers import create, terminate, wait_state
from tests.contract.stack import Api, Stack

SESSION_KEYS = {"name", "namespace", "user", "template", "state", "platform", "agentId", "persistentHome",
                "resources", "createdAt", "activeConnections", "streamingProtocol", "streamingPort", "status"}


def test_create_answers_202_with_the_session(stack: Stack, tokens: dict[str, str], k8s_agent: ContractAgent) -> None:
    alice = Api(stack["api-1"], tokens["alice"])
    body = create(alice, K8S_TEMPLATE, persistentHome=True, tags=["contract"])
    assert set(body) >= SESSION_KEYS and "id" not in body
    assert re.fullmatch(rf"alice-{K8S_TEMPLATE}-[0-9a-f]{{8}}", body["name"])
    assert body["state"] == "pending" and body["status"]["phase"] == "Pending"
    assert body["platform"] == "kubernetes" and body["agentId"] == "k8s-contract"
    assert body["resources"] == {"memory": "256Mi", "cpu": "250m"}
    assert body["streamingProtocol"] == "vnc" and body["streamingPort"] == 5900
    assert body["persistentHome"] is True and body["user"] == "alice"
    running = wait_state(alice, body["name"], "running")
    assert running["status"]["phase"] == "Running"
    ContractAgent.wait(lambda: alice.call("GET", f"/api/v1/sessions/{body['name']}").json()["platformMetadata"]
                       .get("agent") == "k8s-contract", 5, "the agent's status message was not recorded")
    described = alice.call("GET", f"/api/v1/sessions/{body['name']}").json()
    assert described["vncReady"] is True and described["status"]["podName"] == f"{body['name']}-pod"
    start = next(c for c in k8s_agent.received("start_session") if c["payload"]["sessionId"] == body["name"])
    assert re.fullmatch(r"cmd-[0-9a-f]{8}", start["commandId"])
    payload = start["payload"]
    assert set(payload) >= {"sessionId", "user", "template", "templateManifest", "namespace", "memory", "cpu",
                            "persistentHome", "tags"}
    assert payload["templateManifest"]["spec"]["vnc"]["port"] == 5900 and payload["tags"] == ["contract"]
    terminate(alice, body["name"])


def test_create_validates_the_request(stack: Stack, tokens: dict[str, str], k8s_agent: ContractAgent) -> None:
    alice = Api(stack["api-2"], tokens["alice"])
    assert alice.call("POST", "/api/v1/sessions", {"user": "alice"}).status_code == 400
    assert alice.call("POST", "/api/v1/sessions", {"template": K8S_TEMPLATE, "platform": "vms"}).status_code == 400
    missing = alice.call("POST", "/api/v1/sessions", {"template": "no-such-template"})
    assert missing.status_code == 404 and missing.json()["error"] == "Template not found"


def test_no_online_agent_of_the_platform_is_503(stack: Stack, tokens: dict[str, str], k8s_agent: ContractAgent) -> None:
    alice = Api(stack["api-3"], tokens["alice"])
    for body in ({"template": K8S_TEMPLATE, "platform": "docker"}, {"template": DOCKER_TEMPLATE}):
        response = alice.call("POST", "/api/v1/sessions", body)
        assert response.status_code == 503
        assert response.json()["error"] == "No agents available"


def test_lifecycle_round_trips_with_409_rules(stack: Stack, tokens: dict[str, str], k8s_agent: ContractAgent) -> None:
    alice = Api(stack["api-2"], tokens["alice"])
    name = create(alice, K8S_TEMPLATE)["name"]
    wait_state(alice, name, "running")
    assert alice.call("PUT", f"/api/v1/sessions/{name}/wake").status_code == 409
    hibernate = alice.call("PUT", f"/api/v1/sessions/{name}/hibernate")
    assert hibernate.status_code == 202
    assert set(hibernate.json()) == {"name", "commandId", "message"} and hibernate.json()["name"] == name
    wait_state(alice, name, "hibernated")
    assert alice.call("PUT", f"/api/v1/sessions/{name}/hibernate").status_code == 409
    assert alice.call("PUT", f"/api/v1/sessions/{name}/wake").status_code == 202
    wait_state(alice, name, "running")
    deleted = alice.call("DELETE", f"/api/v1/sessions/{name}")
    assert deleted.status_code == 202 and deleted.json()["commandId"].startswith("cmd-")
    wait_state(alice, name, "terminated")
    again = alice.call("DELETE", f"/api/v1/sessions/{name}")
    assert again.status_code == 409 and again.json()["error"]
    received = [c for c in k8s_agent.commands if c["payload"]["sessionId"] == name]
    actions = [c["action"] for c in received]
    assert actions == ["start_session", "hibernate_session", "wake_session", "stop_session"]
    # a late second answer to an old command changes nothing (commandId idempotency)
    k8s_agent.send("complete", {"commandId": received[2]["commandId"],
                                "result": {"sessionId": name, "state": "running"}})
    assert alice.call("GET", f"/api/v1/sessions/{name}").json()["state"] == "terminated"
    assert name not in {s["name"] for s in alice.call("GET", "/api/v1/sessions").json()["sessions"]}
    ended = alice.call("GET", "/api/v1/sessions", state="terminated").json()["sessions"]
    assert name in {s["name"] for s in ended}


def test_unknown_session_is_404(stack: Stack, tokens: dict[str, str]) -> None:
    alice = Api(stack["api-1"], tokens["alice"])
    for method, path in (("GET", ""), ("DELETE", ""), ("PUT", "/hibernate"), ("PUT", "/wake")):
        response = alice.call(method, f"/api/v1/sessions/alice-nothing-00000000{path}")
        assert response.status_code == 404
        assert response.json()["error"] == "Session not found"


def test_users_see_and_touch_only_their_own(stack: Stack, tokens: dict[str, str], admin: Api,
                                            k8s_agent: ContractAgent) -> None:
    bob, alice = Api(stack["api-1"], tokens["bob"]), Api(stack["api-3"], tokens["alice"])
    name = create(bob, K8S_TEMPLATE)["name"]
    wait_state(bob, name, "running")
    for method, path in (("GET", ""), ("DELETE", ""), ("PUT", "/hibernate")):
        response = alice.call(method, f"/api/v1/sessions/{name}{path}")
        assert response.status_code == 403, (method, path)
    assert alice.call("POST", "/api/v1/sessions", {"template": K8S_TEMPLATE, "user": "bob"}).status_code == 403
    assert alice.call("GET", "/api/v1/sessions", user="bob").status_code == 403
    assert all(s["user"] == "alice" for s in alice.call("GET", "/api/v1/sessions").json()["sessions"])
    listed = admin.call("GET", "/api/v1/sessions", user="bob").json()
    assert name in {s["name"] for s in listed["sessions"]} and listed["total"] == len(listed["sessions"])
    assert admin.call("GET", f"/api/v1/sessions/{name}").status_code == 200
    terminate(admin, name)


def test_quota_exceeded_is_403(stack: Stack, tokens: dict[str, str], k8s_agent: ContractAgent) -> None:
    carol = Api(stack["api-2"], tokens["carol"])
    names = [create(carol, K8S_TEMPLATE)["name"] for _ in range(3)]
    refused = carol.call("POST", "/api/v1/sessions", {"template": K8S_TEMPLATE})
    assert refused.status_code == 403 and refused.json()["error"] == "Quota exceeded"
    terminate(carol, names[0])
    names.append(create(carol, K8S_TEMPLATE)["name"])
    for name in names[1:]:
        terminate(carol, name)


def test_platform_and_state_filters(stack: Stack, admin: Api, k8s_agent: ContractAgent) -> None:
    name = create(admin, K8S_TEMPLATE, user="dave")["name"]
    wait_state(admin, name, "running")
    kube = admin.call("GET", "/api/v1/sessions", platform="kubernetes").json()["sessions"]
    assert name in {s["name"] for s in kube} and all(s["platform"] == "kubernetes" for s in kube)
    assert name not in {s["name"] for s in admin.call("GET", "/api/v1/sessions", platform="docker").json()["sessions"]}
    running = admin.call("GET", "/api/v1/sessions", state="running", user="dave").json()["sessions"]
    assert [s["name"] for s in running] == [name]
    assert admin.call("GET", "/api/v1/sessions", state="sleeping").status_code == 400
    terminate(admin, name)


def test_agent_choice_prefers_the_least_busy_online_agent(stack: Stack, admin: Api, creds: dict[str, Any],
                                                          k8s_agent: ContractAgent) -> None:
    keep = create(admin, K8S_TEMPLATE, user="erin")["name"]  # k8s-contract now has at least one session
    spare = ContractAgent("k8s-spare", "kubernetes", [stack["api-2"].url], creds["agentKey"]).start()
    try:
        placed = create(admin, K8S_TEMPLATE, user="erin")
        assert placed["agentId"] == "k8s-spare"
        wait_state(admin, placed["name"], "running")
        terminate(admin, placed["name"])
    finally:
        spare.stop()
    terminate(admin, keep)


def test_command_for_an_agent_on_another_replica_goes_over_redis(
        stack: Stack, tokens: dict[str, str], contract_redis: RedisServer, k8s_agent: ContractAgent) -> None:
    assert k8s_agent.connected_to == stack["api-1"].url
    pubsub = hub_redis(contract_redis).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe("pod:api-1:commands")
    try:
        dave = Api(stack["api-2"], tokens["dave"])
        started = time.monotonic()
        name = create(dave, K8S_TEMPLATE)["name"]
        message = None
        while message is None and time.monotonic() - started < 5:
            message = pubsub.get_message(timeout=0.5)
        assert message is not None, "nothing was published on pod:api-1:commands"
        routed = json.loads(message["data"])
        assert routed["agentId"] == "k8s-contract"
        inner = json.loads(routed["message"])
        assert inner["type"] == "command" and inner["payload"]["payload"]["sessionId"] == name
        wait_state(dave, name, "running")
        terminate(dave, name)
    finally:
        pubsub.close()


def test_agent_failed_moves_the_session_to_failed_with_the_message(
        stack: Stack, tokens: dict[str, str], k8s_agent: ContractAgent) -> None:
    bob = Api(stack["api-3"], tokens["bob"])
    k8s_agent.answer = False
    try:
        name = create(bob, K8S_TEMPLATE)["name"]
        ContractAgent.wait(lambda: any(c["payload"]["sessionId"] == name for c in k8s_agent.commands), 5,
                           "the start command did not arrive")
        command = next(c for c in k8s_agent.commands if c["payload"]["sessionId"] == name)
        k8s_agent.send("failed", {"commandId": command["commandId"], "error": "image pull failed"})
        failed = wait_state(bob, name, "failed")
        assert failed["status"]["phase"] == "Failed" and failed["status"]["message"] == "image pull failed"
        k8s_agent.send("complete", {"commandId": command["commandId"], "result": {"sessionId": name,
                                                                                  "state": "running"}})
        assert bob.call("GET", f"/api/v1/sessions/{name}").json()["state"] == "failed"
    finally:
        k8s_agent.answer = True
    terminate(bob, name)


def test_not_leader_puts_the_command_back_and_it_is_sent_again(
        stack: Stack, tokens: dict[str, str], k8s_agent: ContractAgent) -> None:
    bob = Api(stack["api-1"], tokens["bob"])
    k8s_agent.answer = False
    try:
        name = create(bob, K8S_TEMPLATE)["name"]
        ContractAgent.wait(lambda: any(c["payload"]["sessionId"] == name for c in k8s_agent.commands), 5,
                           "the start command did not arrive")
        command_id = next(c for c in k8s_agent.commands if c["payload"]["sessionId"] == name)["commandId"]
        k8s_agent.answer = True
        k8s_agent.send("failed", {"commandId": command_id, "error": "not leader"})
        ContractAgent.wait(lambda: [c["commandId"] for c in k8s_agent.commands].count(command_id) == 2, 5,
                           "the refused command was not sent again")
        wait_state(bob, name, "running")
    finally:
        k8s_agent.answer = True
    terminate(bob, name)
