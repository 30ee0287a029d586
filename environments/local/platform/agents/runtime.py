"""The common agent runtime: one leadership term's connection to the Control Plane (docs/contract.md §2).

An :class:`AgentRuntime` lives while its replica leads. It registers with a Control Plane replica,
holds the WebSocket, sends heartbeats, reconnects with backoff across the API URLs in rotation,
dispatches commands (``ack`` then ``complete``/``failed``; a repeated ``commandId`` never runs twice),
sends ``status`` messages and relays VNC tunnels. Results produced while disconnected wait in an
outbox and go out on the next connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import aiohttp

from environments.local.platform.agents.config import AgentConfig
from environments.local.platform.agents.tunnels import TunnelSet
from environments.local.platform.agents.wire import make_envelope, parse_frame

log = logging.getLogger("streamspace.agent")

ACTIONS = ("start_session", "stop_session", "hibernate_session", "wake_session")
DURABLE = {"complete", "failed", "status"}


class CommandError(Exception):
    """A command could not be carried out; the message goes to the Control Plane as ``error``."""


class Backend(Protocol):
    """What a platform (Kubernetes, Docker) provides to the runtime."""

    platform: str

    def metadata(self) -> dict[str, Any]: ...

    async def reconcile(self) -> list[dict[str, Any]]:
        """Status payloads for every session that exists on the platform."""
        ...

    async def run_command(self, action: str, payload: dict[str, Any]) -> tuple[dict[str, Any], dict | None]:
        """Carry out one command: its ``result`` and, optionally, a ``status`` payload to report."""
        ...

    async def vnc_address(self, session_id: str) -> tuple[str, int]: ...

    async def active_sessions(self) -> int: ...


class Leadership(Protocol):
    is_leader: bool

    async def confirm(self) -> bool:
        """A fresh check that this replica still leads (a store round-trip)."""
        ...


class RegisterRefused(Exception):
    pass


def ws_url(base: str) -> str:
    if base.startswith("https://"):
        return "wss://" + base[len("https://"):]
    if base.startswith("http://"):
        return "ws://" + base[len("http://"):]
    return base


class AgentRuntime:
    def __init__(self, *, agent_id: str, replica: str, api_urls: list[str], agent_key: str,
                 config: AgentConfig, backend: Backend, leadership: Leadership, start_index: int = 0) -> None:
        self.agent_id = agent_id
        self.replica = replica
        self.api_urls = api_urls
        self.agent_key = agent_key
        self.connect_key = agent_key
        self.config = config
        self.backend = backend
        self.leadership = leadership
        self.url_index = start_index
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.http: aiohttp.ClientSession | None = None
        self.halted = False
        self.connected_url: str | None = None
        self.send_lock = asyncio.Lock()
        self.outbox: deque[str] = deque(maxlen=2000)
        self.commands: dict[str, tuple[str, dict[str, Any]] | None] = {}
        self.session_locks: dict[str, asyncio.Lock] = {}
        self.tasks: set[asyncio.Task] = set()
        self.tunnels = TunnelSet(self.send, backend.vnc_address, config.request_timeout)
        self.last_active = 0

    # ------------------------------------------------------------------ connection loop
    async def run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=None, connect=self.config.request_timeout,
                                        sock_connect=self.config.request_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            self.http = http
            self._spawn(self._reconcile())
            attempt = 0
            try:
                while not self.halted:
                    url = self.api_urls[self.url_index % len(self.api_urls)]
                    started = time.monotonic()
                    connected = False
                    try:
                        connected = await self._session(http, url)
                    except RegisterRefused as error:
                        log.error("%s", error)
                    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as error:
                        log.warning("Control Plane %s unreachable: %s", url, error.__class__.__name__ + f" {error}")
                    finally:
                        self.ws = None
                        self.connected_url = None
                        await self.tunnels.close_all("agent connection closed")
                    if self.halted:
                        return
                    if connected and time.monotonic() - started > 1.0:
                        attempt = 0
                    delay = self.config.reconnect_backoff[min(attempt, len(self.config.reconnect_backoff) - 1)]
                    attempt += 1
                    self.url_index += 1
                    log.info("reconnecting in %.1f s to %s", delay,
                             self.api_urls[self.url_index % len(self.api_urls)])
                    await asyncio.sleep(delay)
            finally:
                await self.close()

    async def refuse_unfinished(self, limit: float = 1.0) -> int:
        """Leadership is lost: answer every command not finished yet with ``failed`` ``not leader`` while the
        connection still stands (the Control Plane gives it to the next leader), so no command that reached
        this replica is left without an answer. Bounded by ``limit`` seconds; returns how many were refused."""
        unfinished = [command_id for command_id, done in self.commands.items() if done is None]
        refused = 0
        deadline = time.monotonic() + limit
        for command_id in unfinished:
            answer = ("failed", {"commandId": command_id, "error": "not leader"})
            self.commands[command_id] = answer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(TimeoutError):
                if await asyncio.wait_for(self._send_text(make_envelope(*answer)), remaining):
                    refused += 1
        if unfinished:
            log.warning("leadership lost: refused %d of %d unfinished command(s) with 'not leader'", refused,
                        len(unfinished))
        return refused

    async def halt(self) -> None:
        """Stop working at once (leadership lost or shutdown): nothing is sent or started any more,
        commands and tunnels are cancelled, and the connection is cut by closing the HTTP session's
        connections (not by a WebSocket close from another task, which can leave a pending
        ``receive()`` deaf to cancellation). Every step is bounded."""
        self.halted = True
        for task in list(self.tasks):
            task.cancel()
        self.ws = None
        http = self.http
        if http is not None and not http.closed:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(http.close(), 0.5)
        await self.tunnels.close_all("agent stopped")

    async def close(self) -> None:
        await self.halt()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=1.0)

    async def _register(self, http: aiohttp.ClientSession, url: str) -> None:
        body = {"agentId": self.agent_id, "platform": self.backend.platform, "region": self.config.region,
                "capacity": self.config.capacity, "metadata": {**self.backend.metadata(), "replica": self.replica}}
        async with http.post(f"{url}/api/v1/agents/register", json=body,
                             headers={"X-Agent-API-Key": self.agent_key},
                             timeout=aiohttp.ClientTimeout(total=self.config.request_timeout)) as response:
            if response.status in (401, 403):
                raise RegisterRefused(
                    f"Control Plane {url} refused to register agent {self.agent_id}: HTTP {response.status}. "
                    "Fix: give the agent the bootstrap agent key the Control Plane expects (--agent-key-file)")
            if response.status >= 300:
                raise aiohttp.ClientResponseError(response.request_info, (), status=response.status,
                                                  message=f"register answered {response.status}")
            with contextlib.suppress(Exception):
                data = await response.json(content_type=None)
                key = data.get("apiKey") if isinstance(data, dict) else None
                if isinstance(key, str) and key:
                    self.connect_key = key

    async def _session(self, http: aiohttp.ClientSession, url: str) -> bool:
        await self._register(http, url)
        if self.halted:
            return False
        # WebSocket pings find a stalled connection (a network cut): no pong within heartbeat/2 closes it
        heartbeat = max(2.0 * self.config.heartbeat_interval, 2.0)
        ws = await asyncio.wait_for(http.ws_connect(
            f"{ws_url(url)}/api/v1/agents/connect?agent_id={self.agent_id}",
            headers={"X-Agent-API-Key": self.connect_key}, heartbeat=heartbeat,
            timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=1.0),
            max_msg_size=16 * 1024 * 1024), self.config.request_timeout)
        if self.halted:
            await asyncio.wait_for(ws.close(), 1.0)
            return False
        self.ws = ws
        self.connected_url = url
        log.info("connected to Control Plane %s as agent %s", url, self.agent_id)
        beat = asyncio.create_task(self._heartbeats())
        try:
            await self._flush_outbox()
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    for envelope in parse_frame(message.data):
                        await self._handle(envelope)
                elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
                    break
        finally:
            beat.cancel()
            await asyncio.wait({beat}, timeout=1.0)  # never swallows this task's own cancellation
            if not ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(ws.close(), 1.0)
        log.warning("connection to Control Plane %s closed", url)
        return True

    async def _flush_outbox(self) -> None:
        while self.outbox and self.ws is not None:
            text = self.outbox.popleft()
            if not await self._send_text(text):
                self.outbox.appendleft(text)
                return

    async def _heartbeats(self) -> None:
        while True:
            try:
                self.last_active = await asyncio.wait_for(self.backend.active_sessions(),
                                                          self.config.request_timeout)
            except Exception as error:  # noqa: BLE001 - a failed count must not stop heartbeats
                log.debug("active session count failed: %s", error)
            await self.send("heartbeat", {"status": "online", "activeSessions": self.last_active,
                                          "capacity": self.config.capacity})
            await asyncio.sleep(self.config.heartbeat_interval)

    # ------------------------------------------------------------------ sending
    async def _send_text(self, text: str) -> bool:
        ws = self.ws
        if ws is None or ws.closed or self.halted:
            return False
        try:
            async with self.send_lock:
                await asyncio.wait_for(ws.send_str(text), self.config.request_timeout)
            return True
        except TimeoutError:
            # a frame cut in the middle would corrupt the stream: drop the connection, reconnect
            log.warning("send stalled for %g s: closing the connection", self.config.request_timeout)
            self._spawn(ws.close())
            return False
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as error:
            log.warning("send failed: %s", error)
            return False

    async def send(self, kind: str, payload: dict[str, Any]) -> bool:
        text = make_envelope(kind, payload)
        if await self._send_text(text):
            return True
        if kind in DURABLE:
            self.outbox.append(text)
        return False

    # ------------------------------------------------------------------ receiving
    async def _handle(self, envelope: dict[str, Any]) -> None:
        kind, payload = envelope["type"], envelope["payload"]
        if kind == "command":
            await self._on_command(payload)
        elif kind == "vnc_open":
            self.tunnels.open(payload)
        elif kind == "vnc_data":
            self.tunnels.data(payload)
        elif kind == "vnc_close":
            await self.tunnels.close(payload.get("streamId", ""), "closed by the Control Plane")
        else:
            log.debug("ignored message type %s", kind)

    async def _on_command(self, payload: dict[str, Any]) -> None:
        command_id = payload.get("commandId")
        if not isinstance(command_id, str) or not command_id:
            log.warning("command without commandId ignored")
            return
        if command_id in self.commands:
            done = self.commands[command_id]
            log.info("duplicate command %s: %s", command_id, "answering again" if done else "acknowledging again")
            if done is None:
                await self.send("ack", {"commandId": command_id})
            else:
                await self.send(*done)
            return
        self.commands[command_id] = None
        self._spawn(self._run_command(command_id, payload))

    async def _run_command(self, command_id: str, command: dict[str, Any]) -> None:
        action = command.get("action", "")
        body = command.get("payload") if isinstance(command.get("payload"), dict) else {}
        try:
            still = await asyncio.wait_for(self.leadership.confirm(), self.config.request_timeout)
        except Exception:  # noqa: BLE001 - unreachable store: fall back to what we last knew
            still = self.leadership.is_leader
        if not still:
            self.commands.pop(command_id, None)
            log.warning("command %s refused: not leader", command_id)
            await self.send("failed", {"commandId": command_id, "error": "not leader"})
            return
        await self.send("ack", {"commandId": command_id})
        session_id = str(body.get("sessionId", ""))
        status: dict | None = None
        if action not in ACTIONS:
            final = ("failed", {"commandId": command_id, "error": f"unknown action '{action}'"})
        else:
            lock = self.session_locks.setdefault(session_id, asyncio.Lock())
            try:
                async with lock:
                    log.info("command %s: %s %s", command_id, action, session_id)
                    result, status = await asyncio.wait_for(self.backend.run_command(action, body),
                                                            self.config.start_timeout + 30.0)
                result.setdefault("sessionId", session_id)
                final = ("complete", {"commandId": command_id, "result": result})
            except CommandError as error:
                final = ("failed", {"commandId": command_id, "error": str(error)})
            except TimeoutError:
                final = ("failed", {"commandId": command_id,
                                    "error": f"{action} did not finish within {self.config.start_timeout + 30:g} s"})
            except Exception as error:
                log.exception("command %s failed", command_id)
                final = ("failed", {"commandId": command_id, "error": f"{error.__class__.__name__}: {error}"})
        if self.commands.get(command_id) is not None:
            log.info("command %s: %s not sent, it was refused when leadership was lost", command_id, final[0])
            return
        self.commands[command_id] = final
        if final[0] == "failed":  # the reason in the component log too, not only in the answer
            log.warning("command %s: failed: %s", command_id, final[1]["error"])
        else:
            log.info("command %s: %s", command_id, final[0])
        await self.send(*final)
        if status is not None:
            await self.send("status", status)

    async def _reconcile(self) -> None:
        try:
            statuses = await asyncio.wait_for(self.backend.reconcile(), self.config.start_timeout)
        except Exception as error:  # noqa: BLE001 - reported, the agent keeps working
            log.error("reconcile failed: %s", error)
            return
        log.info("reconcile: %d existing session(s) re-reported", len(statuses))
        for status in statuses:
            await self.send("status", status)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


Sender = Callable[[str, dict[str, Any]], Awaitable[bool]]
