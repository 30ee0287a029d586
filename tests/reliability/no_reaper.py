"""Breaks the kit on purpose: nothing is registered with the watcher (:mod:`kitcore.reaper`),
as when a run is killed together with its watcher. Loaded into a child run (``-p`` of pytest, or an
import) to prove that a check fails when the kit leaves its servers behind, and to plant leftovers."""

from __future__ import annotations

from typing import Any

from environments.local import reaper
from kitcore import reaper as core


def _nothing(kind: str, **fields: Any) -> int:
    return 0


core.guard = reaper.guard = _nothing  # environments.local.reaper holds its own reference
