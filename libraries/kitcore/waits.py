"""Waits with a time budget: poll, keep only the last try, and explain a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from robot.errors import ExecutionFailed, ExecutionStatus
from robot.utils import timestr_to_secs

from kitcore.errors import WaitTimeout

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
DEFAULT_POLL = 0.2


def to_seconds(value: float | int | str | None, default: float = DEFAULT_TIMEOUT) -> float:
    """Convert ``1 min 30 s``, ``500ms``, ``2.5`` or ``None`` to seconds."""
    if value is None or value == "":
        return default
    if isinstance(value, (int, float)):
        return float(value)
    return float(timestr_to_secs(value))


def stop_asked() -> bool:
    """Whether Robot Framework got Ctrl-C or SIGTERM (outside a teardown, where it lets keywords run). Its handler
    raises in whatever Python code runs at that moment, and does not when no keyword seems to run (a keyword
    another keyword ran has just ended): a long wait would then run on to its timeout. Each turn asks again."""
    from robot.running.context import EXECUTION_CONTEXTS
    from robot.running.signalhandler import STOP_SIGNAL_MONITOR

    context = EXECUTION_CONTEXTS.current
    return getattr(STOP_SIGNAL_MONITOR, "_signal_count", 0) > 0 and not (context is not None and context.in_teardown)


@dataclass
class Outcome(Generic[T]):
    """What a finished wait saw: the value, tries and elapsed seconds."""

    value: T
    tries: int
    elapsed: float


@dataclass
class Wait:
    """Poll ``probe`` until ``accept`` says yes or ``timeout`` runs out.

    ``probe`` may raise; the exception counts as "not yet" and is reported as the
    last thing seen. ``describe`` turns a probed value into the text shown on failure.
    """

    what: str
    timeout: float = DEFAULT_TIMEOUT
    poll: float = DEFAULT_POLL
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def until(
        self,
        probe: Callable[[], T],
        accept: Callable[[T], bool] = bool,
        describe: Callable[[T], str] = repr,
    ) -> Outcome[T]:
        start = self.clock()
        deadline = start + self.timeout
        tries = 0
        last = "nothing yet"
        while True:
            tries += 1
            try:
                value = probe()
            except ExecutionStatus:
                raise  # Robot Framework stopping the run (Ctrl-C, SIGTERM) is never "not yet"
            except Exception as error:  # noqa: BLE001 - any failure of a probe is "not yet"
                last = f"{type(error).__name__}: {error}"
            else:
                if accept(value):
                    return Outcome(value, tries, self.clock() - start)
                last = describe(value)
            now = self.clock()
            if now >= deadline:
                raise WaitTimeout(self.what, last, tries, now - start, self.timeout)
            if stop_asked():
                raise ExecutionFailed("Execution terminated by signal", exit=True)
            time.sleep(max(0.0, min(self.poll, deadline - now)))
