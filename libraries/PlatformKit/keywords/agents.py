"""Agents as the Control Plane sees them (admin view)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from robotlibcore import keyword

from kitcore import Check, getter
from PlatformKit.context import PlatformContext, sorted_values
from PlatformKit.selection import Selection, selecting

AGENT_FILTERS = ("platform", "status")


class AgentKeywords:
    def __init__(self, ctx: PlatformContext) -> None:
        self.ctx = ctx

    def _listed(self, selection: Selection) -> list[dict[str, Any]]:
        """The agents the Control Plane lists for ``selection``."""
        return self.ctx.read_selected("/api/v1/admin/agents", "agents", "List agents", selection)

    @keyword("Get Agents", tags=["agents"])
    @selecting(*AGENT_FILTERS)
    def get_agents(self, selection: Selection) -> list[dict[str, Any]]:
        """The agents registered with the Control Plane, filtered by ``platform`` and ``status``.

        Example:
        | ${agents} = | Get Agents | platform=kubernetes | status=online |
        """
        return self._listed(selection)

    @keyword("Get Agent Ids", tags=["agents", "assertion"])
    @getter
    @selecting(*AGENT_FILTERS)
    def get_agent_ids(self, *, check: Check, selection: Selection) -> list[str]:
        """The sorted ``agentId`` list of `Get Agents`; can assert (``contains``, ``==``...).

        Example:
        | Get Agent Ids | contains | k8s-local | status=online | timeout=20s |
        """

        def probe() -> list[str]:
            return sorted_values(self._listed(selection), "agentId")

        return check(probe, "Agent ids")

    @keyword("Get Agent", tags=["agents"])
    def get_agent(
        self, agent_id: str, replica: Any = None, as_user: str | None = None, alias: str | None = None
    ) -> dict[str, Any]:
        """One agent: ``agentId``, ``platform``, ``status``, ``capacity``, ``lastHeartbeat``, ``metadata``.

        Which API replica holds the agent's WebSocket is not part of it: the platform keeps that in
        its agent hub (Redis ``agent:<agentId>:pod``, a pod name).

        Example:
        | ${agent} = | Get Agent | docker-local |
        """
        return self.ctx.read(f"/api/v1/admin/agents/{agent_id}", f"Get agent '{agent_id}'", replica, as_user, alias)

    @keyword("Get Agent Status", tags=["agents", "assertion"])
    @getter
    @selecting()
    def get_agent_status(self, agent_id: str, *, check: Check, selection: Selection) -> str:
        """The agent's ``status`` (``online``/``offline``/``draining``); can assert.

        Example:
        | Get Agent Status | k8s-local | == | online | timeout=30s | replica=api-2 |
        """

        return self._agent_field(agent_id, lambda agent: str(agent.get("status")), f"Status of agent {agent_id}",
                                 check, selection)

    def _agent_field(
        self, agent_id: str, pick: Callable[[dict[str, Any]], str], label: str, check: Check, selection: Selection,
    ) -> str:
        """What ``pick`` reads from the agent; can assert."""

        def probe() -> str:
            return pick(self.get_agent(agent_id, **selection.reach))

        return check(probe, label)
