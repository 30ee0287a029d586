"""A leader that loses its leadership while a command runs answers it ``failed`` ``not leader`` before it
disconnects (docs/contract.md §4: a replica that no longer leads refuses commands), and never sends another
answer for it afterwards; a leader stopped on purpose refuses nothing."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from environments.local.platform.agents.config import AgentConfig
from environments.local.platform.agents.leadership import lead_forever
from environments.local.platform.agents.runtime import AgentRuntime


class OneTermElector:
    """Leads once; ``lose`` ends the term as a lost Lease does; never leads again."""

    def __init__(self) -> None:
        self.is_leader = False
        self.lose = asyncio.Event()
        self.terms = 0

    async def campaign(self, stop: asyncio.Event) -> bool:
        if self.terms:
            await stop.wait()
            return False
        self.terms += 1
        self.is_leader = True
        return True

    async def hold(self) -> None:
        await self.lose.wait()
        self.is_leader = False

    async def confirm(self) -> bool:
        return self.is_leader

    async def release(self) -> None:
        self.is_leader = False


class StuckBackend:
    """A platform whose commands never finish while the leader is cut off (the Kubernetes API hangs)."""

    platform = "kubernetes"

    def __init__(self) -> None:
        self.running = asyncio.Event()

    def metadata(self) -> dict[str, Any]:
        return {}

    async def reconcile(self) -> list[dict[str, Any]]:
        return []

    async def run_command(self, action: str, payload: dict[str, Any]) -> tuple[dict[str, Any], dict | None]:
        self.running.set()
        await asyncio.sleep(3600)
        return {}, None

    async def vnc_address(self, session_id: str) -> tuple[str, int]:
        return "127.0.0.1", 5900

    async def active_sessions(self) -> int:
        return 0


class RecordingRuntime(AgentRuntime):
    """The real runtime, with the Control Plane connection replaced by a list of what was sent."""

    sent: list[dict[str, Any]]

    async def run(self) -> None:
        await self._on_command({"commandId": "cmd-0000dead", "action": "hibernate_session",
                                "payload": {"sessionId": "alice-desktop-1"}})
        await asyncio.Event().wait()

    async def _send_text(self, text: str) -> bool:
        if self.halted:
            return False
        self.sent.append(json.loads(text))
        return True


def lead_one_term(lose: bool) -> list[dict[str, Any]]:
    async def scenario() -> list[dict[str, Any]]:
        elector, backend, stop, sent = OneTermElector(), StuckBackend(), asyncio.Event(), []

        def make_runtime() -> AgentRuntime:
            runtime = RecordingRuntime(agent_id="k8s-test", replica="k8s-agent-a", api_urls=["http://cp"],
                                       agent_key="key", config=AgentConfig(), backend=backend, leadership=elector)
            runtime.sent = sent
            return runtime

        leading = asyncio.create_task(lead_forever(elector, make_runtime, stop))
        await asyncio.wait_for(backend.running.wait(), 5)
        if lose:
            elector.lose.set()
            await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(leading, 10)
        return sent

    return asyncio.run(scenario())


def answers(sent: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(m["type"], m["payload"].get("error")) for m in sent if m["payload"].get("commandId") == "cmd-0000dead"]


def test_a_deposed_leader_refuses_the_command_it_was_running_with_not_leader() -> None:
    assert answers(lead_one_term(lose=True)) == [("ack", None), ("failed", "not leader")]


def test_a_leader_stopped_on_purpose_refuses_nothing() -> None:
    assert answers(lead_one_term(lose=False)) == [("ack", None)]
