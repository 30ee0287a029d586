"""The chaos timeline: what was done to which component, when, and when it was undone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from time import monotonic
from typing import Any


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class ChaosEvent:
    """One chaos action; ``undo`` restores what it changed (None when nothing is left to undo)."""

    number: int
    action: str
    target: str
    time: str = field(default_factory=now_iso)
    monotonic: float = field(default_factory=monotonic)
    details: str = ""
    undone_at: str | None = None
    undo: Callable[[], object] | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return f"chaos-{self.number}"

    @property
    def pending(self) -> bool:
        return self.undo is not None and self.undone_at is None

    def as_dict(self) -> dict[str, Any]:
        return {"time": self.time, "at": self.monotonic, "action": self.action, "target": self.target,
                "undoneAt": self.undone_at, "details": self.details}


class Timeline:
    """A thread-safe, ordered list of chaos events (timers may undo from another thread)."""

    def __init__(self) -> None:
        self._events: list[ChaosEvent] = []
        self._lock = threading.RLock()

    def add(self, action: str, target: str, details: str = "") -> ChaosEvent:
        with self._lock:
            event = ChaosEvent(len(self._events) + 1, action, target, details=details)
            self._events.append(event)
            return event

    def events(self) -> list[ChaosEvent]:
        with self._lock:
            return list(self._events)

    def pending(self, action: str | None = None, target: str | None = None) -> list[ChaosEvent]:
        with self._lock:
            return [e for e in self._events if e.pending and action in (None, e.action)
                    and target in (None, e.target)]

    def run_undo(self, event: ChaosEvent) -> bool:
        """Undo ``event`` once; True when this call did it."""
        with self._lock:
            if not event.pending:
                return False
            undo = event.undo
        assert undo is not None
        undo()
        with self._lock:
            event.undone_at = now_iso()
        return True

    def mark_undone(self, event: ChaosEvent) -> None:
        with self._lock:
            if event.undone_at is None:
                event.undone_at = now_iso()
