"""LoadKit: load runs, concurrency steps, the failure point, and resource use during them.

= Operations =
Robot keywords are not thread safe, so load runs repeat *operations*: HTTP requests
(``Define HTTP Operation``, or ``GET http://...`` written inline; tokens as ``Secret``) and
Python callables other libraries register with ``LoadKit.register_operation(name, fn)``.

= Figures =
Each run gives count, success and error rates, throughput, latency p50/p95/p99/max, and the
generator's own CPU use (``client_cpu_percent``; a warning when it nears one core, so a slow
generator is never mistaken for a slow server). Plots (matplotlib, Agg) are embedded in
log.html and saved next to it.

= Assertions =
| Get Load Figure | p95_ms | < | 200 |
"""

from __future__ import annotations

from robotlibcore import DynamicCore

from kitcore import CleanupListener, document_getters
from LoadKit.keywords.load import LoadKeywords
from LoadKit.keywords.resources import ResourceKeywords
from LoadKit.operations import HttpOperation, register_operation

__version__ = "0.1.0"
__all__ = ["HttpOperation", "LoadKit", "register_operation"]


class LoadKit(DynamicCore):
    __doc__ = document_getters(__doc__)

    ROBOT_LIBRARY_SCOPE = "GLOBAL"
    ROBOT_LIBRARY_VERSION = __version__

    def __init__(self) -> None:
        self.listener = CleanupListener("LoadKit")
        self.ROBOT_LIBRARY_LISTENER = self.listener
        super().__init__([LoadKeywords(), ResourceKeywords(self.listener)])

    @staticmethod
    def register_operation(name: str, operation: object) -> None:
        """Make a Python callable runnable as ``Run Load  name``."""
        register_operation(name, operation)  # type: ignore[arg-type]
