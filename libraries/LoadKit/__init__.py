"""LoadKit: load runs, concurrency steps, the failure point, and resource use during them.

= Operations =
Robot keywords are not thread safe, so load runs repeat *operations*: HTTP requests
(``Define HTTP Operation``, or ``GET http://...`` written inline; tokens as ``Secret``) and
Python callables other libraries register with ``LoadKit.register_operation(name, fn)``.

= Generators =
By default the load comes from threads of the Robot process (``threads``): right for small loads.
For more, ``locust`` runs the same HTTP operations from a Locust master and worker processes, on
this machine or others; choose it when importing the library or with ``Use Load Generator``:
| Library | LoadKit | engine=locust | workers=2 |
The workers' calls come back to the kit, so a suite reads the same figures either way. Every
process the kit starts (master, workers) stops at the end of the run, and when the run is
interrupted. Tokens travel in the run's plan only; they never reach Locust's logs or CSV files.

= Figures =
Each run gives count, success and error rates, throughput, latency p50/p95/p99/max, and the
generator's own CPU use (``client_cpu_percent``; a warning when it nears one core, so a slow
generator is never mistaken for a slow server). Plots (matplotlib, Agg) are embedded in
log.html and saved next to it.

= Assertions =
| Get Load Figure | p95_ms | < | 200 |
"""

from __future__ import annotations

from kitcore import CleanupListener, to_seconds
from kitcore.library import KitLibrary
from LoadKit.distributed import GeneratorSettings
from LoadKit.keywords.load import LoadKeywords
from LoadKit.keywords.resources import ResourceKeywords
from LoadKit.operations import HttpOperation, register_operation

__version__ = "0.1.0"
__all__ = ["HttpOperation", "LoadKit", "register_operation"]


class LoadKit(KitLibrary):
    def __init__(self, engine: str = "threads", workers: int = 2, local_workers: int | None = None,
                 master_bind: str = "127.0.0.1", master_port: int = 0, worker_timeout: str = "30s") -> None:
        """``engine`` (``threads`` or ``locust``) and the Locust settings are as in ``Use Load Generator``."""
        self.listener = CleanupListener("LoadKit")
        settings = GeneratorSettings(engine, workers, local_workers, master_bind, master_port,
                                     to_seconds(worker_timeout))
        self.offer([LoadKeywords(settings, self.listener), ResourceKeywords(self.listener)], self.listener)

    @staticmethod
    def register_operation(name: str, operation: object) -> None:
        """Make a Python callable runnable as ``Run Load  name``."""
        register_operation(name, operation)  # type: ignore[arg-type]
