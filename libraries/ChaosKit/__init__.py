"""ChaosKit: faults on the test environment, each logged on a timeline and undone by itself.

= Safety =
Every action checks that its target is disposable: the ``local`` environment is a test
target; on other environments a component must be allow-listed as ``<environment>/<component>``
patterns (import argument ``test_targets`` or ``$CHAOS_TEST_TARGETS``, e.g. ``kind/api-*``).

= Undo =
Each action registers its own undo, run at the end of the test even when the test fails
(``Heal Everything`` runs them at once). ``Get Chaos Timeline`` lists what was done and when
it was undone.

= Randomness =
``Kill Random API Replica`` is seeded (``seed=``, ``${CHAOS_SEED}``) and logs its choice.
"""

from __future__ import annotations

from ChaosKit.core import GUARD_ENV_VAR, ChaosCore
from ChaosKit.keywords.faults import FaultKeywords
from ChaosKit.keywords.timeline import TimelineKeywords
from kitcore import CleanupListener, TargetGuard
from kitcore.library import KitLibrary

__version__ = "0.1.0"


class ChaosKit(KitLibrary):
    """Keywords that break the test environment on purpose -- and put it back."""

    HAS_GETTERS = False

    def __init__(self, test_targets: str = "") -> None:
        self.listener = CleanupListener("ChaosKit")
        guard = TargetGuard("ChaosKit", GUARD_ENV_VAR, test_targets.split(","))
        self.core = ChaosCore(self.listener, guard)
        self.offer([FaultKeywords(self.core), TimelineKeywords(self.core)], self.listener)
