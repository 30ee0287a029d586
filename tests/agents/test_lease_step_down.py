"""A leader whose Lease renewals hang (the Kubernetes API cut off) steps down by its renew deadline, before
the Lease can expire and another replica take it: never two leaders at once."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace
from typing import Any

from environments.local.platform.agents.lease import LeaseElector

LEASE, RENEW, RETRY = 3.0, 2.0, 0.5


class HangingKube:
    """A Kubernetes API behind a cut link: every call hangs (until the test ends)."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.coordination = SimpleNamespace(read_namespaced_lease=None, replace_namespaced_lease=None)

    def call(self, _function: Any, *_args: Any, timeout: float = 0.0) -> Any:
        self.released.wait(30)
        raise ConnectionError("the link was cut")


def test_a_leader_cut_off_from_the_api_steps_down_by_its_renew_deadline() -> None:
    kube = HangingKube()
    elector = LeaseElector(kube, "streamspace", "k8s-local", "k8s-agent-a", LEASE, RENEW, RETRY,  # type: ignore[arg-type]
                           timeout=5.0)
    elector.is_leader = True
    elector.renewed_at = time.monotonic()  # the last renewal that went through

    async def hold() -> float:
        try:
            await asyncio.wait_for(elector.hold(), 10)
            return time.monotonic() - elector.renewed_at
        finally:
            kube.released.set()  # the hanging calls end, so the event loop can close

    started = time.monotonic()
    stepped_down_after = asyncio.run(hold())
    assert not elector.is_leader
    assert stepped_down_after < RENEW + 0.3, (
        f"stepped down {stepped_down_after:.2f} s after the last renewal: past the renew deadline of {RENEW:g} s "
        f"(the Lease runs out at {LEASE:g} s and another replica may lead then)")
    assert time.monotonic() - started >= RETRY
