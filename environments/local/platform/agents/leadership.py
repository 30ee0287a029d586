"""Leadership terms: campaign, work while leading, stop at once when leadership is lost.

An elector provides ``campaign(stop)`` (wait until this replica leads, or ``stop`` is set),
``hold()`` (return when leadership is lost), ``confirm()`` (fresh check), ``release()``
(graceful stop only) and ``is_leader``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Protocol

from environments.local.platform.agents.runtime import AgentRuntime

log = logging.getLogger("streamspace.agent")


class Elector(Protocol):
    is_leader: bool

    async def campaign(self, stop: asyncio.Event) -> bool: ...

    async def hold(self) -> None: ...

    async def confirm(self) -> bool: ...

    async def release(self) -> None: ...


async def _cancel(*tasks: asyncio.Task) -> None:
    for task in tasks:
        task.cancel()
    _, pending = await asyncio.wait(tasks, timeout=5.0)
    for task in pending:  # harmless: a halted runtime sends and starts nothing
        log.warning("task %s still finishing 5 s after cancel", task.get_name())


async def lead_forever(elector: Elector, make_runtime: Callable[[], AgentRuntime], stop: asyncio.Event) -> None:
    """Campaign; while leading run a fresh runtime; when leadership is lost stop it and campaign again."""
    try:
        while not stop.is_set():
            if not await elector.campaign(stop):
                break
            log.info("became leader")
            runtime = make_runtime()
            work = asyncio.create_task(runtime.run())
            lost = asyncio.create_task(elector.hold())
            stopper = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait({work, lost, stopper}, return_when=asyncio.FIRST_COMPLETED)
            elector.is_leader = False if lost in done else elector.is_leader
            halting = time.monotonic()
            if lost in done:  # a deposed leader says so for every command it has not finished
                await runtime.refuse_unfinished()
            await runtime.halt()  # first: no more work, the connection is closed
            await _cancel(work, lost, stopper)
            await runtime.close()
            log.info("stopped working in %.2f s", time.monotonic() - halting)
            if work in done and not work.cancelled() and work.exception() is not None:
                log.error("agent runtime failed: %s", work.exception())
                with contextlib.suppress(TimeoutError):  # never a hot loop of crashing terms
                    await asyncio.wait_for(stop.wait(), 1.0)
            if lost in done:
                log.warning("lost leadership: stopped working, campaigning again")
    finally:
        if stop.is_set():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(elector.release(), 3.0)
