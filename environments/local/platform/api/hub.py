"""The agent hub: agents' WebSockets held by this replica, Redis keys, pub/sub, and the VNC relay.

Redis (hub data in DB ``hubRedisDb``, 1 by default, docs/contract.md §3):

- ``agent:<agentId>:pod`` = this replica's name and ``agent:<agentId>:connected`` = ``"true"``, both with
  a 5 min TTL set on connect and refreshed by every heartbeat. They are removed on disconnect only if
  ``agent:<agentId>:pod`` still names this replica (compare-and-delete in Lua): another replica may
  already hold a newer connection of the same agent.
- channel ``pod:<podName>:commands`` carries ``{"agentId", "message": "<envelope JSON>"}``: a command for
  an agent whose WebSocket another replica holds. The receiving replica claims the command in the
  database (``pending -> sent``) before it forwards it, so a command is never delivered twice.
- channel ``pod:<podName>:vnc`` carries ``{"to": "agent"|"browser", "agentId", "streamId",
  "replyTo": "<podName>", "message": "<envelope JSON>"}`` in both directions of a cross-replica VNC
  tunnel; ``replyTo`` is the replica that published it. ``to: agent`` (``vnc_open`` / ``vnc_data`` /
  ``vnc_close``): the receiving replica forwards the message to its local agent and remembers that the
  stream's answers go back to ``replyTo``; if the agent is not connected there it answers ``vnc_error``.
  ``to: browser`` (``vnc_ready`` / ``vnc_data`` / ``vnc_error`` / ``vnc_close`` from the agent): the
  receiving replica hands it to the browser WebSocket of ``streamId`` (binary RFB bytes).

Redis down at start: the replica runs alone (single-replica mode) and a background loop retries with
the configured backoff; when Redis is back the subscription is made again and the keys of the local
agents are re-created at once (and by every heartbeat after that). Commands never depend on Redis:
they are rows in PostgreSQL, and whichever replica holds the agent's WebSocket delivers the pending
ones (pub/sub is only the fast path), so nothing is lost while Redis is away.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
from aiohttp import web
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from environments.local.platform.common.config import StackConfig
from environments.local.platform.common.envelope import FrameError, make_envelope, parse_frame

KEY_TTL = 300
log = logging.getLogger("streamspace.hub")
_COMPARE_AND_DELETE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  return 1
end
return 0
"""


def hub_url(url: str, db: int) -> str:
    """``url`` pointed at database ``db`` (the hub keeps its data in DB 1, whatever the URL says)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


@dataclass
class AgentConnection:
    agent_id: str
    ws: web.WebSocketResponse
    last_seen: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def send(self, text: str) -> bool:
        if self.ws.closed:
            return False
        try:
            async with self.lock:
                await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            return False
        return True


@dataclass
class BrowserStream:
    stream_id: str
    session_id: str
    agent_id: str
    ws: web.WebSocketResponse
    via_pod: str | None  # None: the agent is local
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    error: str | None = None


class Hub:
    def __init__(self, name: str, redis_url: str | None, config: StackConfig) -> None:
        self.name = name
        self.config = config
        self.redis_url = hub_url(redis_url, config.hub_redis_db) if redis_url else None
        self.local: dict[str, AgentConnection] = {}
        self.browsers: dict[str, BrowserStream] = {}
        self.relays: dict[str, tuple[str, str]] = {}
        self.redis: aioredis.Redis | None = None
        self.redis_ok = False
        self.on_remote_command: Callable[[str, str], Awaitable[None]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[Any]] = set()
        self._refreshing: set[str] = set()
        self._stopping = False

    # -- life cycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if self.redis_url is None:
            log.warning("no Redis URL: single-replica mode")
            return
        # one retry: a pooled connection left over from before a Redis restart fails once, then reconnects
        self.redis = aioredis.Redis.from_url(self.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0,
                                             retry=Retry(NoBackoff(), 1), decode_responses=True)
        self._tasks.append(asyncio.create_task(self._subscriber(), name="hub-subscriber"))

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for conn in list(self.local.values()):
            await self.clear_keys(conn.agent_id)
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"API replica shutting down")
        if self.redis is not None:
            with contextlib.suppress(Exception):
                await self.redis.aclose()

    # -- Redis keys ------------------------------------------------------------------------------
    def _redis_failed(self, what: str, error: Exception) -> None:
        """A Redis call failed. Only the subscriber decides whether Redis is up (``redis_ok``)."""
        log.debug("Redis call failed (%s: %s)", what, error)

    def refresh_keys(self, agent_id: str) -> None:
        """Set the agent's keys in the background (a heartbeat never waits for Redis)."""
        if self.redis is None or agent_id in self._refreshing:
            return
        self._refreshing.add(agent_id)
        task = self._spawn(self.set_keys(agent_id))
        task.add_done_callback(lambda _: self._refreshing.discard(agent_id))

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def set_keys(self, agent_id: str) -> None:
        if self.redis is None or agent_id not in self.local:
            return
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(f"agent:{agent_id}:pod", self.name, ex=KEY_TTL)
                pipe.set(f"agent:{agent_id}:connected", "true", ex=KEY_TTL)
                await pipe.execute()
        except (RedisError, OSError) as error:
            self._redis_failed("set keys", error)

    async def clear_keys(self, agent_id: str) -> None:
        if self.redis is None:
            return
        try:
            await self.redis.eval(_COMPARE_AND_DELETE, 2, f"agent:{agent_id}:pod", f"agent:{agent_id}:connected",
                                  self.name)
        except (RedisError, OSError) as error:
            self._redis_failed("clear keys", error)

    async def pod_of(self, agent_id: str) -> str | None:
        """The replica holding the agent's WebSocket: this one, another (from Redis), or None."""
        if agent_id in self.local:
            return self.name
        if self.redis is None or not self.redis_ok:
            return None
        try:
            pod = await self.redis.get(f"agent:{agent_id}:pod")
        except (RedisError, OSError) as error:
            self._redis_failed("get pod", error)
            return None
        return pod if pod and pod != self.name else None

    async def publish(self, channel: str, body: dict[str, Any]) -> int:
        """Publish on a channel; 0 when nobody listens or Redis is down."""
        if self.redis is None or not self.redis_ok:
            return 0
        try:
            return int(await self.redis.publish(channel, json.dumps(body, separators=(",", ":"))))
        except (RedisError, OSError) as error:
            self._redis_failed("publish", error)
            return 0

    # -- local agents ----------------------------------------------------------------------------
    async def attach(self, conn: AgentConnection) -> None:
        old = self.local.get(conn.agent_id)
        self.local[conn.agent_id] = conn
        if old is not None and old is not conn:
            log.info("agent %s connected again: closing its older connection", conn.agent_id)
            self.close_later(old.ws, 4001, "replaced by a newer connection")
        await self.set_keys(conn.agent_id)

    def close_later(self, ws: web.WebSocketResponse, code: int, reason: str) -> None:
        """Close a WebSocket without waiting for the peer (it may be behind a cut link)."""
        self._spawn(ws.close(code=code, message=reason.encode()[:120]))

    async def detach(self, conn: AgentConnection) -> bool:
        """Forget the connection; True if it was the agent's current one (then its keys are removed)."""
        if self.local.get(conn.agent_id) is not conn:
            return False
        del self.local[conn.agent_id]
        await self.clear_keys(conn.agent_id)
        for stream in [s for s in self.browsers.values() if s.agent_id == conn.agent_id and s.via_pod is None]:
            await self._close_browser(stream, "the agent disconnected")
        for stream_id, (agent_id, reply_to) in list(self.relays.items()):
            if agent_id == conn.agent_id:
                self.relays.pop(stream_id, None)
                await self._relay_error(reply_to, agent_id, stream_id, "the agent disconnected")
        return True

    async def send_local(self, agent_id: str, text: str) -> bool:
        conn = self.local.get(agent_id)
        return conn is not None and await conn.send(text)

    # -- subscriber ------------------------------------------------------------------------------
    async def _subscriber(self) -> None:
        backoff = self.config.timings.redis_retry_backoff
        attempt = 0
        channels = (f"pod:{self.name}:commands", f"pod:{self.name}:vnc")
        while not self._stopping:
            client = aioredis.Redis.from_url(self.redis_url, socket_timeout=5.0, socket_connect_timeout=1.0,
                                             retry=Retry(NoBackoff(), 0), decode_responses=True,
                                             health_check_interval=2)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(*channels)
                log.info("Redis reachable: subscribed to %s", ", ".join(channels))
                self.redis_ok = True
                attempt = 0
                for agent_id in list(self.local):  # [repair] re-create the keys at once
                    await self.set_keys(agent_id)
                while not self._stopping:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        # a cut link answers nothing: a PING with a short timeout notices it
                        await self.redis.ping()
                        continue
                    await self._on_message(message["channel"], message["data"])
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                if self.redis_ok or attempt == 0:
                    log.warning("Redis unavailable (%s): cross-replica routing paused, local agents keep working; "
                                "retrying", error)
                self.redis_ok = False
            except Exception:
                self.redis_ok = False
                log.exception("hub subscriber failed; starting it again")
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                with contextlib.suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(backoff[min(attempt, len(backoff) - 1)])
            attempt += 1

    async def _on_message(self, channel: str, data: str) -> None:
        try:
            body = json.loads(data)
            agent_id = str(body["agentId"])
            message = str(body["message"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed message on %s", channel)
            return
        if channel.endswith(":commands"):
            if self.on_remote_command is not None:
                await self.on_remote_command(agent_id, message)
        else:
            await self._on_vnc_relay(str(body.get("to", "agent")), agent_id, str(body.get("streamId", "")),
                                     str(body.get("replyTo", "")), message)

    # -- VNC ---------------------------------------------------------------------------------------
    async def open_stream(self, stream: BrowserStream) -> bool:
        self.browsers[stream.stream_id] = stream
        return await self.to_agent(stream, "vnc_open", {"sessionId": stream.session_id, "streamId": stream.stream_id})

    async def to_agent(self, stream: BrowserStream, type_: str, payload: dict[str, Any]) -> bool:
        text = make_envelope(type_, payload)
        if stream.via_pod is None:
            return await self.send_local(stream.agent_id, text)
        body = {"to": "agent", "agentId": stream.agent_id, "streamId": stream.stream_id, "replyTo": self.name,
                "message": text}
        return await self.publish(f"pod:{stream.via_pod}:vnc", body) > 0

    async def close_stream(self, stream: BrowserStream) -> None:
        if self.browsers.pop(stream.stream_id, None) is not None:
            await self.to_agent(stream, "vnc_close", {"sessionId": stream.session_id, "streamId": stream.stream_id,
                                                      "reason": "browser closed"})

    async def from_agent_vnc(self, agent_id: str, message: dict[str, Any]) -> None:
        """A ``vnc_*`` message from a local agent: to the local browser, or relayed to its replica."""
        stream_id = str(message["payload"].get("streamId", ""))
        stream = self.browsers.get(stream_id)
        if stream is not None:
            await self._to_browser(stream, message)
            return
        relay = self.relays.get(stream_id)
        if relay is None:
            return
        if message["type"] in ("vnc_error", "vnc_close"):
            self.relays.pop(stream_id, None)
        await self.publish(f"pod:{relay[1]}:vnc", {"to": "browser", "agentId": agent_id, "streamId": stream_id,
                                                   "replyTo": self.name,
                                                   "message": json.dumps(message, separators=(",", ":"))})

    async def _on_vnc_relay(self, to: str, agent_id: str, stream_id: str, reply_to: str, text: str) -> None:
        try:
            messages = parse_frame(text)
        except FrameError:
            return
        for message in messages:
            if to == "browser":
                stream = self.browsers.get(stream_id)
                if stream is not None:
                    await self._to_browser(stream, message)
                continue
            if message["type"] == "vnc_close":
                self.relays.pop(stream_id, None)
            elif reply_to:
                self.relays[stream_id] = (agent_id, reply_to)
            if not await self.send_local(agent_id, json.dumps(message, separators=(",", ":"))):
                self.relays.pop(stream_id, None)
                if message["type"] != "vnc_close" and reply_to:
                    await self._relay_error(reply_to, agent_id, stream_id, f"agent {agent_id} is not connected here")

    async def _relay_error(self, pod: str, agent_id: str, stream_id: str, reason: str) -> None:
        text = make_envelope("vnc_error", {"streamId": stream_id, "error": reason})
        await self.publish(f"pod:{pod}:vnc", {"to": "browser", "agentId": agent_id, "streamId": stream_id,
                                              "replyTo": self.name, "message": text})

    async def _to_browser(self, stream: BrowserStream, message: dict[str, Any]) -> None:
        kind, payload = message["type"], message["payload"]
        if kind == "vnc_data":
            try:
                data = base64.b64decode(payload.get("data", ""), validate=True)
            except ValueError:
                await self._close_browser(stream, "the agent sent vnc_data that is not base64")
                return
            with contextlib.suppress(ConnectionError, RuntimeError):
                await stream.ws.send_bytes(data)
        elif kind == "vnc_ready":
            stream.ready.set()
        elif kind in ("vnc_error", "vnc_close"):
            reason = str(payload.get("error") or payload.get("reason") or kind)
            await self._close_browser(stream, reason)

    async def _close_browser(self, stream: BrowserStream, reason: str) -> None:
        stream.error = reason
        self.browsers.pop(stream.stream_id, None)
        stream.ready.set()
        self.close_later(stream.ws, 1011, reason)
