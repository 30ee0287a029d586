"""EnvironmentKit: the chosen test environment's topology, endpoints and credentials.

One variable picks the environment: ``${ENVIRONMENT}`` (``local`` by default; ``kind`` and
``compose`` drivers plug in later). ``Start Test Environment`` brings it up -- or attaches to a
stack already running when ``${ENVIRONMENT_TOPOLOGY_FILE}`` or ``KIT_TOPOLOGY`` names its
topology -- and the library stops what it started at the end of that suite.

= Credentials =
``Get Credentials`` returns passwords and keys as Robot Framework ``Secret`` values, so they
never reach log.html or output.xml. ``Get Topology`` shows every credential as ``***``.

= Known defects =
An environment's variable file may name a catalogue of its product's known defects
(``${KNOWN_DEFECTS}``, a YAML file): when a test fails with a message that matches one, the
defect (in a tester's words, with where it is in the product's source) is appended to the
test's message and the test is tagged ``defect:<id>``. The test still fails.

= Assertions =
| Get Agent Leader | kubernetes | != | ${old} | timeout=30s |

= Drivers =
Each environment is a driver (``EnvironmentKit.drivers.EnvironmentDriver``): start, stop,
topology, kill/stop/start/restart a component, partition and heal. ChaosKit applies its faults
through the same driver, so suites never say how a fault is made.
"""

from __future__ import annotations

from EnvironmentKit.defects import KnownDefectsListener
from EnvironmentKit.drivers import EnvironmentDriver, register_driver
from EnvironmentKit.keywords.endpoints import EndpointKeywords
from EnvironmentKit.keywords.lifecycle import LifecycleKeywords
from EnvironmentKit.state import require_driver
from EnvironmentKit.topology import Topology
from kitcore import CleanupListener
from kitcore.library import KitLibrary

__version__ = "0.1.0"
__all__ = ["EnvironmentDriver", "EnvironmentKit", "Topology", "register_driver", "require_driver"]


class EnvironmentKit(KitLibrary):
    def __init__(self, environment: str | None = None, start_timeout: str = "3 min") -> None:
        self.listener = CleanupListener("EnvironmentKit")
        self.defects = KnownDefectsListener()
        self.offer([LifecycleKeywords(self.listener, environment, start_timeout),
                          EndpointKeywords(self.defects)], self.listener, self.defects)
