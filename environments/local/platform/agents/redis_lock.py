"""Docker agent HA: a leader lock in Redis (docs/contract.md §5).

``SET streamspace:agent:leader:<agentId> <instance> NX PX <lease>`` takes the lock; renewal and
release are compare-and-set Lua scripts, so a replica never extends or deletes a lock it lost.
The leader renews every third of the lease; when it cannot renew before its lease would run out
(Redis unreachable, or another holder) it stops working at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import redis.asyncio as aioredis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

log = logging.getLogger("streamspace.agent")

RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


def lock_key(agent_id: str) -> str:
    return f"streamspace:agent:leader:{agent_id}"


class RedisLeaderLock:
    def __init__(self, redis_url: str, agent_id: str, instance: str, lease: float, retry: float,
                 timeout: float) -> None:
        self.key = lock_key(agent_id)
        self.instance = instance
        self.lease = lease
        self.retry = retry
        self.timeout = min(timeout, max(lease / 3, 0.2))
        self.client = aioredis.Redis.from_url(redis_url, socket_timeout=self.timeout,
                                              socket_connect_timeout=self.timeout,
                                              retry=Retry(NoBackoff(), 0), decode_responses=True)
        self.is_leader = False
        self.acquired_at = 0.0
        self.renewed_at = 0.0

    @property
    def lease_ms(self) -> int:
        return int(self.lease * 1000)

    async def try_acquire(self) -> bool:
        try:
            ok = await asyncio.wait_for(self.client.set(self.key, self.instance, nx=True, px=self.lease_ms),
                                        self.timeout + 0.5)
            if not ok:
                # a restarted leader with the same instance name takes its own lock back
                ok = bool(await asyncio.wait_for(self.client.eval(RENEW, 1, self.key, self.instance,
                                                                  self.lease_ms), self.timeout + 0.5))
        except (RedisError, OSError, TimeoutError) as error:
            log.debug("leader lock attempt failed: %s", error)
            return False
        if ok:
            self.renewed_at = self.acquired_at = time.monotonic()
        return bool(ok)

    async def campaign(self, stop: asyncio.Event) -> bool:
        while not stop.is_set():
            if await self.try_acquire():
                self.is_leader = True
                log.info("acquired leader lock %s as %s", self.key, self.instance)
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry)
        return False

    async def hold(self) -> None:
        interval = self.lease / 3
        while True:
            await asyncio.sleep(interval)
            started = time.monotonic()
            try:
                renewed = await asyncio.wait_for(self.client.eval(RENEW, 1, self.key, self.instance, self.lease_ms),
                                                 self.timeout + 0.5)
            except (RedisError, OSError, TimeoutError) as error:
                # keep the lock only while it cannot have expired yet (a margin of one interval)
                if time.monotonic() - self.renewed_at > self.lease - interval:
                    log.warning("leader lock not renewed for %.1f s (%s): stepping down",
                                time.monotonic() - self.renewed_at, error)
                    self.is_leader = False
                    return
                continue
            if not renewed:
                log.warning("leader lock %s is held by another instance: stepping down", self.key)
                self.is_leader = False
                return
            self.renewed_at = started

    async def confirm(self) -> bool:
        holder = await asyncio.wait_for(self.client.get(self.key), self.timeout + 0.5)
        return holder == self.instance

    async def release(self) -> None:
        try:
            await asyncio.wait_for(self.client.eval(RELEASE, 1, self.key, self.instance), self.timeout + 0.5)
            log.info("released leader lock %s", self.key)
        except (RedisError, OSError, TimeoutError) as error:
            log.warning("could not release leader lock: %s", error)
        finally:
            self.is_leader = False

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.aclose()
