"""Kubernetes agent HA: leader election on a ``coordination.k8s.io/v1`` Lease (docs/contract.md §4).

Every replica of one agent shares one AGENT_ID, hence one Lease ``streamspace-agent-<AGENT_ID>``:
exactly one leader. A candidate takes the Lease when it is free or expired
(``renewTime + leaseDurationSeconds`` is past: every replica of the local stack shares one clock,
so a killed leader is replaced within lease duration + retry period), writing with the
``resourceVersion`` it read (a stale one gets 409: the race is lost). The leader renews every
``retryPeriod``; when it cannot renew for ``renewDeadline`` (shorter than the lease) or sees
another holder, it steps down at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime
from typing import Any

from environments.local.platform.agents.kube import ApiException, Kube

log = logging.getLogger("streamspace.agent")

LEADER, FOLLOWER, LOST, ERROR = "leader", "follower", "lost", "error"


def lease_name(agent_id: str) -> str:
    return f"streamspace-agent-{agent_id}"


def micro_time(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    with contextlib.suppress(ValueError):
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


class LeaseElector:
    def __init__(self, kube: Kube, namespace: str, agent_id: str, identity: str, lease_duration: float,
                 renew_deadline: float, retry_period: float, timeout: float) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = lease_name(agent_id)
        self.identity = identity
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self.timeout = max(0.3, min(timeout, renew_deadline / 2))
        self.is_leader = False
        self.observed: tuple[Any, ...] | None = None
        self.observed_at = 0.0
        self.renewed_at = 0.0

    # ------------------------------------------------------------------ one attempt (runs in a thread)
    def _body(self, spec: dict[str, Any], version: str | None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace,
                                    "labels": {"app": "streamspace-agent"}}
        if version:
            metadata["resourceVersion"] = version
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata, "spec": spec}

    def attempt(self) -> str:
        """Try to acquire or renew once: LEADER, FOLLOWER, LOST (another holder) or ERROR."""
        api = self.kube.coordination
        now = datetime.now(UTC)
        duration = max(1, round(self.lease_duration))
        try:
            lease = self.kube.call(api.read_namespaced_lease, self.name, self.namespace, timeout=self.timeout)
        except ApiException as error:
            if error.status != 404:
                log.debug("lease read failed: %s", error.status)
                return ERROR
            spec = {"holderIdentity": self.identity, "leaseDurationSeconds": duration,
                    "acquireTime": micro_time(now), "renewTime": micro_time(now), "leaseTransitions": 0}
            try:
                self.kube.call(api.create_namespaced_lease, self.namespace, self._body(spec, None),
                               timeout=self.timeout)
            except ApiException as again:
                return FOLLOWER if again.status == 409 else ERROR
            except Exception:  # noqa: BLE001 - network trouble is an error result, never a crash
                return ERROR
            self.renewed_at = time.monotonic()
            return LEADER
        except Exception as error:  # noqa: BLE001 - network trouble is an error result, never a crash
            log.debug("lease read failed: %s", error)
            return ERROR
        spec = dict(lease.get("spec") or {})
        holder = spec.get("holderIdentity") or ""
        record = (holder, spec.get("renewTime"), spec.get("acquireTime"), spec.get("leaseTransitions"))
        monotonic = time.monotonic()
        if record != self.observed:
            self.observed, self.observed_at = record, monotonic
        held_for = float(spec.get("leaseDurationSeconds") or self.lease_duration)
        if holder and holder != self.identity and self._still_held(spec, now, monotonic, held_for):
            return LOST if self.is_leader else FOLLOWER
        if holder == self.identity:
            acquire, transitions = spec.get("acquireTime") or micro_time(now), spec.get("leaseTransitions") or 0
        else:
            acquire, transitions = micro_time(now), int(spec.get("leaseTransitions") or 0) + 1
        new_spec = {"holderIdentity": self.identity, "leaseDurationSeconds": duration, "acquireTime": acquire,
                    "renewTime": micro_time(now), "leaseTransitions": transitions}
        version = (lease.get("metadata") or {}).get("resourceVersion")
        try:
            self.kube.call(api.replace_namespaced_lease, self.name, self.namespace, self._body(new_spec, version),
                           timeout=self.timeout)
        except ApiException as error:
            if error.status == 409:
                return FOLLOWER if not self.is_leader else ERROR
            return ERROR
        except Exception:  # noqa: BLE001 - network trouble is an error result, never a crash
            return ERROR
        if holder != self.identity:
            log.info("took lease %s from '%s' (transition %d)", self.name, holder or "nobody", transitions)
        self.renewed_at = time.monotonic()
        return LEADER

    def _still_held(self, spec: dict[str, Any], now: datetime, monotonic: float, held_for: float) -> bool:
        """The Lease's own rule: held until ``renewTime + leaseDurationSeconds``. Without a readable
        renewTime, client-go's rule: held until the record has not changed for the lease duration."""
        renewed = parse_time(spec.get("renewTime"))
        if renewed is not None:
            return (now - renewed).total_seconds() < held_for
        return monotonic - self.observed_at < held_for

    async def _attempt(self, limit: float | None = None) -> str:
        """One attempt, given up (ERROR) after ``limit`` seconds at most."""
        bound = self.timeout * 2 + 1 if limit is None else max(0.05, min(self.timeout * 2 + 1, limit))
        try:
            return await asyncio.wait_for(asyncio.to_thread(self.attempt), bound)
        except TimeoutError:
            return ERROR

    # ------------------------------------------------------------------ elector interface
    async def campaign(self, stop: asyncio.Event) -> bool:
        while not stop.is_set():
            if await self._attempt() == LEADER:
                self.is_leader = True
                log.info("leading: lease %s/%s held by %s", self.namespace, self.name, self.identity)
                return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.retry_period)
        return False

    async def hold(self) -> None:
        while True:
            await asyncio.sleep(self.retry_period)
            # a renewal that hangs (the API cut off) must not keep this replica leading past its renew deadline
            result = await self._attempt(self.renew_deadline - (time.monotonic() - self.renewed_at))
            if result == LEADER:
                continue
            if result in (LOST, FOLLOWER):
                log.warning("lease %s now held by another replica: stepping down", self.name)
                self.is_leader = False
                return
            if time.monotonic() - self.renewed_at > self.renew_deadline:
                log.warning("lease %s not renewed for %.1f s (renew deadline %g s): stepping down",
                            self.name, time.monotonic() - self.renewed_at, self.renew_deadline)
                self.is_leader = False
                return

    async def confirm(self) -> bool:
        def check() -> bool:
            lease = self.kube.call(self.kube.coordination.read_namespaced_lease, self.name, self.namespace,
                                   timeout=self.timeout)
            spec = lease.get("spec") or {}
            renewed = parse_time(spec.get("renewTime"))
            fresh = renewed is not None and (datetime.now(UTC) - renewed).total_seconds() < float(
                spec.get("leaseDurationSeconds") or self.lease_duration)
            return spec.get("holderIdentity") == self.identity and fresh

        return await asyncio.wait_for(asyncio.to_thread(check), self.timeout * 2 + 1)

    async def release(self) -> None:
        """Graceful stop only: hand the lease back so a follower takes over at its next retry."""
        if not self.is_leader:
            return
        self.is_leader = False

        def give_back() -> None:
            api = self.kube.coordination
            lease = self.kube.call(api.read_namespaced_lease, self.name, self.namespace, timeout=self.timeout)
            spec = dict(lease.get("spec") or {})
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update({"holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": micro_time()})
            self.kube.call(api.replace_namespaced_lease, self.name, self.namespace,
                           self._body(spec, (lease.get("metadata") or {}).get("resourceVersion")),
                           timeout=self.timeout)

        try:
            await asyncio.wait_for(asyncio.to_thread(give_back), self.timeout * 3 + 1)
            log.info("released lease %s", self.name)
        except Exception as error:  # noqa: BLE001 - best effort on the way out
            log.warning("could not release lease %s: %s", self.name, error)
