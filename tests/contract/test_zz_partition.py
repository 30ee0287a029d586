"""A partition between an agent and the API replica holding it: every replica must see it move away.

Runs the real supervisor (2 API replicas, 1 Kubernetes agent, links between them) and cuts the
link between the agent and the replica holding its WebSocket. The agent reconnects elsewhere; the
cut-off replica, which hears nothing more on its side of the dead connection, must drop it rather
than keep claiming the agent (while the agent's heartbeats, through the other replica, keep the
database row fresh).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from tests.support.stack import local_stack

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def small_stack(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("partition-stack")
    with local_stack(work, 180, api_replicas=2, k8s_agents=1, docker_agents=0) as topology:
        yield topology


def _holders(topology: dict, token: str) -> dict[str, str | None]:
    seen = {}
    for api in topology["api"]:
        agent = requests.get(f"{api['url']}/api/v1/admin/agents/k8s-local", timeout=5,
                             headers={"Authorization": f"Bearer {token}"}).json()
        seen[api["name"]] = agent.get("connectedPod") if agent.get("status") == "online" else None
    return seen


def test_every_replica_sees_the_agent_leave_a_replica_it_was_cut_off_from(small_stack: dict) -> None:
    topology = small_stack
    control = topology["control"]
    login = requests.post(f"{topology['api'][0]['url']}/api/v1/auth/login", timeout=5,
                          json={"username": "admin", "password": topology["credentials"]["admin"]["password"]})
    token = login.json()["token"]
    holder = _holders(topology, token)[topology["api"][0]["name"]]
    assert holder in {api["name"] for api in topology["api"]}, f"the agent is not connected: {holder}"
    cut = requests.post(f"{control}/partitions", json={"a": "k8s-agent-a", "b": holder}, timeout=5)
    assert cut.status_code == 200, cut.text
    try:
        budget = topology["timings"]["staleAfter"] + 6
        deadline = time.monotonic() + budget
        while True:
            seen = _holders(topology, token)
            if all(pod not in (None, holder) for pod in seen.values()):
                break
            assert time.monotonic() < deadline, (
                f"{budget:g} s after the cut some replica still names {holder} (or no replica): {seen}")
            time.sleep(0.2)
    finally:
        requests.delete(f"{control}/partitions", timeout=5)
