"""ProbesKit: background probes that measure what a fault did to the service.

Probes run in daemon threads with a bounded loop (``max_duration``) and are stopped at the
end of the test that started them. Each report gives figures that are zero when nothing
went wrong:

| probe | figures |
| availability | ``downtime``, ``longest_downtime`` = ``rto``, ``outages``, ``errors``, per replica |
| session state | ``left_steady`` (sessions that ever left ``running``), ``left_count`` |
| command delivery | ``lost`` = ``rpo``, ``duplicates``, ``unexpected``, delivery delays |
| stream | ``max_gap``, ``gaps_over_threshold``, ``disconnects`` |
| VNC frames | ``frames``, ``max_gap`` (the stream's downtime), ``reconnects`` |

Resolution is the probe's ``interval`` (reports give the ``resolution`` measured: the widest
time between two observations): a downtime window runs from the first failed check to the
first good one. Every report says when it watched (``watched_from`` / ``watched_until``, on the
clock of ``Start A Stopwatch``).

= Verdicts =
``Keep Probes Watching For`` lets probes observe a settle time; ``Probe Should Have Watched``
fails when a probe did not cover the whole fault and recovery; ``Replica Should Have Kept
Answering``, ``Replica Outage Should Be At Most``, ``Service Downtime Should Be At Most``,
``Sessions Should Have Stayed Running`` and ``Stream Downtime Should Be At Most`` name the
broken promise with its figures. ``API Should Answer With A Clear Error`` (a 5xx with a message
in time, while a backend is gone) and ``API Should Answer`` time single requests.

= Assertions =
| Get Probe Figure | api | longest_downtime | <= | ${RTO_BUDGET} |

= From Python =
Other libraries register completion sources for the command delivery probe:
``BuiltIn().get_library_instance("ProbesKit").register_completion_source("db", fn)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kitcore import CleanupListener
from kitcore.library import KitLibrary
from ProbesKit.keywords.probes import ProbeKeywords
from ProbesKit.keywords.verdicts import AnswerKeywords, VerdictKeywords
from ProbesKit.registry import ProbeRegistry

__version__ = "0.1.0"


class ProbesKit(KitLibrary):
    def __init__(self) -> None:
        self.listener = CleanupListener("ProbesKit")
        self.registry = ProbeRegistry(self.listener)
        self._probes = ProbeKeywords(self.registry)
        self.offer([self._probes, VerdictKeywords(self.registry), AnswerKeywords()], self.listener)

    def register_completion_source(self, name: str, source: Callable[[], Any]) -> None:
        """Make ``source`` (returns every completion seen so far) usable as ``source=name``."""
        self._probes.sources[name] = source
