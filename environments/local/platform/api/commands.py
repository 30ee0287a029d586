"""Durable agent commands (``agent_commands``: pending -> sent -> ack -> completed | failed).

- A command is a row first; delivery comes after the commit. Whichever replica holds the agent's
  WebSocket (``agents.connected_pod``) delivers: on connect, when another replica nudges it over
  ``pod:<podName>:commands``, and every ``commandPoll`` seconds. Delivery claims rows with an atomic
  ``UPDATE ... WHERE status = 'pending' ... FOR UPDATE SKIP LOCKED``, so two replicas never send the
  same command at once.
- A command sent but not acknowledged within ``commandRedeliverAfter`` is sent again; on a new
  connection of the agent every unfinished command (pending, sent, ack) is sent again, because the
  previous connection (or agent leader) may have lost it. Agents therefore see a ``commandId`` again
  at times and must answer it idempotently; here a ``complete`` or ``failed`` for a command that is
  already finished changes nothing.
- A command whose agent stays offline longer than ``commandExpireAfter`` is failed (its session too),
  never silently dropped. ``failed`` with the error ``not leader`` puts the command back to pending.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from environments.local.platform.api.hub import Hub
from environments.local.platform.common.config import StackConfig
from environments.local.platform.common.envelope import make_envelope
from environments.local.platform.db import Pool

log = logging.getLogger("streamspace.commands")

# the state a session must be in for an action's result to apply, and the state the result gives
EXPECTED = {"start_session": ("pending",), "stop_session": ("terminating",),
            "hibernate_session": ("hibernating",), "wake_session": ("waking",)}
RESULT_STATE = {"start_session": "running", "stop_session": "terminated",
                "hibernate_session": "hibernated", "wake_session": "running"}
STATES = ("pending", "running", "hibernating", "hibernated", "waking", "terminating", "terminated", "failed")


def envelope(row: dict[str, Any]) -> str:
    return make_envelope("command", {"commandId": row["command_id"], "action": row["action"],
                                     "payload": row["payload"] or {}})


class Commands:
    def __init__(self, name: str, pool: Pool, hub: Hub, config: StackConfig) -> None:
        self.name = name
        self.pool = pool
        self.hub = hub
        self.timings = config.timings
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._beating: set[str] = set()
        self._unrecorded_since: dict[str, float] = {}
        hub.on_remote_command = self.on_remote_command

    # -- creation and routing --------------------------------------------------------------------
    @staticmethod
    async def create(conn: psycopg.AsyncConnection, agent_id: str, session_id: str, action: str,
                     payload: dict[str, Any]) -> str:
        """Insert a pending command inside the caller's transaction; returns its ``commandId``."""
        while True:
            command_id = f"cmd-{secrets.token_hex(4)}"
            cursor = await conn.execute(
                "INSERT INTO agent_commands (command_id, agent_id, session_id, action, payload) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (command_id) DO NOTHING RETURNING command_id",
                (command_id, agent_id, session_id, action, Jsonb(payload)))
            if await cursor.fetchone():
                return command_id

    async def dispatch(self, agent_id: str, command_id: str) -> None:
        """Fast path after the commit: deliver here, or nudge the replica holding the agent."""
        if agent_id in self.hub.local:
            await self.deliver(agent_id)
            return
        pod = await self.hub.pod_of(agent_id)
        if pod is None:
            return  # kept pending: delivered when the agent connects (any replica)
        row = await self.pool.fetchone("SELECT * FROM agent_commands WHERE command_id = %s", (command_id,))
        if row is None:
            return
        receivers = await self.hub.publish(f"pod:{pod}:commands", {"agentId": agent_id, "message": envelope(row)})
        if receivers == 0:
            log.info("command %s stays pending: replica %s does not listen (it is polled for)", command_id, pod)

    async def on_remote_command(self, agent_id: str, _message: str) -> None:
        if agent_id in self.hub.local:
            await self.deliver(agent_id)

    async def deliver(self, agent_id: str, reconnect: bool = False) -> int:
        """Claim and send this agent's due commands in creation order; returns how many were sent."""
        lock = self._locks.setdefault(agent_id, asyncio.Lock())
        async with lock:
            if agent_id not in self.hub.local:
                return 0
            statuses = ["pending", "sent", "ack"] if reconnect else ["pending"]
            rows = await self.pool.fetch(
                "WITH due AS (SELECT c.id FROM agent_commands c JOIN agents a ON a.agent_id = c.agent_id "
                "  WHERE c.agent_id = %(agent)s AND a.connected_pod = %(me)s AND (c.status = ANY(%(statuses)s) "
                "  OR (c.status = 'sent' AND c.sent_at < now() - make_interval(secs => %(again)s))) "
                "  ORDER BY c.id FOR UPDATE OF c SKIP LOCKED LIMIT 200) "
                "UPDATE agent_commands c SET status = 'sent', sent_at = now(), attempts = c.attempts + 1, "
                "delivered_by = %(me)s FROM due WHERE c.id = due.id RETURNING c.*",
                {"agent": agent_id, "me": self.name, "statuses": statuses,
                 "again": self.timings.command_redeliver_after})
            sent = 0
            for row in sorted(rows, key=lambda r: r["id"]):
                if await self.hub.send_local(agent_id, envelope(row)):
                    sent += 1
                    log.info("sent %s %s to %s", row["command_id"], row["action"], agent_id)
                else:
                    await self.pool.fetch("UPDATE agent_commands SET status = 'pending' WHERE command_id = %s "
                                          "AND status = 'sent' AND delivered_by = %s", (row["command_id"], self.name))
            return sent

    # -- agent answers -------------------------------------------------------------------------
    async def ack(self, agent_id: str, payload: dict[str, Any]) -> None:
        await self.pool.fetch("UPDATE agent_commands SET status = 'ack', acknowledged_at = now() "
                              "WHERE command_id = %s AND agent_id = %s AND status IN ('pending', 'sent')",
                              (str(payload.get("commandId", "")), agent_id))

    async def complete(self, agent_id: str, payload: dict[str, Any]) -> None:
        result = payload.get("result") if isinstance(payload.get("result"), dict) else {}
        row = await self.pool.fetchone(
            "UPDATE agent_commands SET status = 'completed', completed_at = now(), result = %s, "
            "acknowledged_at = COALESCE(acknowledged_at, now()) WHERE command_id = %s AND agent_id = %s "
            "AND status NOT IN ('completed', 'failed') RETURNING session_id, action",
            (Jsonb(result), str(payload.get("commandId", "")), agent_id))
        if row is None or not row["session_id"]:
            return  # unknown or already finished: a repeated answer changes nothing
        state = result.get("state") if result.get("state") in STATES else RESULT_STATE[row["action"]]
        metadata = result.get("platformMetadata") if isinstance(result.get("platformMetadata"), dict) else None
        await self.pool.fetch(
            "UPDATE sessions SET state = %s, status_message = NULL, updated_at = now(), "
            "pod_name = COALESCE(%s, pod_name), url = COALESCE(%s, url), "
            "vnc_ready = CASE WHEN %s::text = 'running' THEN COALESCE(%s, vnc_ready) ELSE FALSE END, "
            "platform_metadata = COALESCE(%s, platform_metadata) WHERE id = %s AND state = ANY(%s)",
            (state, result.get("podName"), result.get("url"), state, _bool(result.get("vncReady")),
             Jsonb(metadata) if metadata is not None else None, row["session_id"], list(EXPECTED[row["action"]])))

    async def failed(self, agent_id: str, payload: dict[str, Any]) -> None:
        command_id, error = str(payload.get("commandId", "")), str(payload.get("error") or "the agent failed")
        if error == "not leader":  # a follower refused it: the leader will get it again
            await self.pool.fetch("UPDATE agent_commands SET status = 'pending' WHERE command_id = %s "
                                  "AND status IN ('sent', 'ack')", (command_id,))
            return
        row = await self.pool.fetchone(
            "UPDATE agent_commands SET status = 'failed', error_message = %s, completed_at = now() "
            "WHERE command_id = %s AND agent_id = %s AND status NOT IN ('completed', 'failed') "
            "RETURNING session_id, action", (error, command_id, agent_id))
        if row is not None and row["session_id"]:
            await self._fail_session(row["session_id"], row["action"], error)

    async def _fail_session(self, session_id: str, action: str, error: str) -> None:
        await self.pool.fetch("UPDATE sessions SET state = 'failed', status_message = %s, vnc_ready = FALSE, "
                              "updated_at = now() WHERE id = %s AND state = ANY(%s)",
                              (error, session_id, list(EXPECTED[action])))

    async def status(self, agent_id: str, payload: dict[str, Any]) -> None:
        session_id = str(payload.get("sessionId", ""))
        metadata = payload.get("platformMetadata") if isinstance(payload.get("platformMetadata"), dict) else None
        pod = (metadata or {}).get("podName") or payload.get("podName")
        failed = payload.get("state") == "failed"
        await self.pool.fetch(
            "UPDATE sessions SET vnc_ready = COALESCE(%s, vnc_ready), platform_metadata = COALESCE(%s, "
            "platform_metadata), pod_name = COALESCE(%s, pod_name), updated_at = now(), "
            "state = CASE WHEN %s AND state NOT IN ('terminated', 'terminating') THEN 'failed' ELSE state END, "
            "status_message = CASE WHEN %s THEN COALESCE(%s, status_message) ELSE status_message END "
            "WHERE id = %s AND agent_id = %s",
            (_bool(payload.get("vncReady")), Jsonb(metadata) if metadata is not None else None, pod, failed, failed,
             payload.get("message"), session_id, agent_id))

    def heartbeat_soon(self, agent_id: str, payload: dict[str, Any]) -> None:
        """Record a heartbeat without holding up the agent's other messages (VNC frames, answers): one
        write per agent at a time; a heartbeat that comes while one is written is the same news.

        A replica that cannot record an agent's heartbeats for ``staleAfter`` lets the agent go (closes
        its connection, 4003): the other replicas already see it as silent, and it reconnects to one
        that reaches the database instead of staying stuck on this one."""
        if agent_id in self._beating:
            return
        self._beating.add(agent_id)
        task = asyncio.create_task(self._beat(agent_id, payload), name=f"heartbeat-{agent_id}")
        self._tasks.append(task)
        task.add_done_callback(self._tasks.remove)

    async def _beat(self, agent_id: str, payload: dict[str, Any]) -> None:
        try:
            await self.heartbeat(agent_id, payload)
            self._unrecorded_since.pop(agent_id, None)
        except psycopg.OperationalError as error:
            since = self._unrecorded_since.setdefault(agent_id, time.monotonic())
            silent = time.monotonic() - since
            log.warning("agent %s: heartbeat not recorded for %.1f s: %s", agent_id, silent, error)
            conn = self.hub.local.get(agent_id)
            if silent >= self.timings.stale_after and conn is not None and not conn.ws.closed:
                log.warning("agent %s: this replica cannot reach the database: letting the agent go", agent_id)
                self._unrecorded_since.pop(agent_id, None)
                self.hub.close_later(conn.ws, 4003, "database unavailable on this replica")
        except Exception:
            log.exception("recording a heartbeat of agent %s failed", agent_id)
        finally:
            self._beating.discard(agent_id)

    async def heartbeat(self, agent_id: str, payload: dict[str, Any]) -> None:
        status = "draining" if payload.get("status") == "draining" else "online"
        capacity = payload.get("capacity") if isinstance(payload.get("capacity"), dict) else None
        await self.pool.fetch("UPDATE agents SET status = %s, last_heartbeat = now(), connected_pod = %s, "
                              "capacity = COALESCE(%s, capacity), updated_at = now() WHERE agent_id = %s",
                              (status, self.name, Jsonb(capacity) if capacity is not None else None, agent_id))
        self.hub.refresh_keys(agent_id)

    # -- background work -------------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._every(self.timings.command_poll, self._poll), name="deliver"),
                       asyncio.create_task(self._every(max(self.timings.stale_after / 3, 0.2), self._sweep),
                                           name="sweep")]

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _every(self, seconds: float, work: Any) -> None:
        while True:
            try:
                await work()
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - a background loop must survive a bad round
                log.warning("%s failed: %s", work.__name__, error)
            await asyncio.sleep(seconds)

    async def _poll(self) -> None:
        for agent_id in list(self.hub.local):
            await self.deliver(agent_id)

    async def _sweep(self) -> None:
        """Mark silent agents offline, close their sockets here, fail commands of agents gone for good."""
        stale = await self.pool.fetch(
            "UPDATE agents SET status = 'offline', connected_pod = NULL, updated_at = now() "
            "WHERE status <> 'offline' AND (last_heartbeat IS NULL OR last_heartbeat < now() - "
            "make_interval(secs => %s)) RETURNING agent_id", (self.timings.stale_after,))
        for row in stale:
            log.info("agent %s marked offline: no heartbeat for %.1f s", row["agent_id"], self.timings.stale_after)
            conn = self.hub.local.get(row["agent_id"])
            if conn is not None:
                self.hub.close_later(conn.ws, 4002, "no heartbeat")
        # An agent cut off from this replica may already heartbeat through another one (so the row above
        # stays fresh): a connection this replica has heard nothing on for staleAfter is dead here.
        now = time.monotonic()
        for agent_id, conn in list(self.hub.local.items()):
            if now - conn.last_seen > self.timings.stale_after and not conn.ws.closed:
                log.info("agent %s: nothing received here for %.1f s: closing this replica's connection",
                         agent_id, now - conn.last_seen)
                self.hub.close_later(conn.ws, 4002, "no heartbeat")
        expired = await self.pool.fetch(
            "UPDATE agent_commands c SET status = 'failed', completed_at = now(), error_message = "
            "'agent ' || c.agent_id || ' offline for more than ' || %s || ' s' FROM agents a "
            "WHERE a.agent_id = c.agent_id AND a.status = 'offline' AND c.status IN ('pending', 'sent', 'ack') "
            "AND (a.last_heartbeat IS NULL OR a.last_heartbeat < now() - make_interval(secs => %s)) "
            "AND c.created_at < now() - make_interval(secs => %s) "
            "RETURNING c.command_id, c.session_id, c.action, c.error_message",
            (str(self.timings.command_expire_after), self.timings.command_expire_after,
             self.timings.command_expire_after))
        for row in expired:
            log.warning("command %s failed: %s", row["command_id"], row["error_message"])
            if row["session_id"]:
                await self._fail_session(row["session_id"], row["action"], row["error_message"])


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None
