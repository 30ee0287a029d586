"""RedisKit: Redis keywords for the StreamSpace acceptance kit (redis-py).

= Connections =
`Connect To Redis Server` opens a connection (``alias=`` names it); the last one opened or switched
to with `Switch Redis Connection` is used by every keyword unless it is given ``alias=``.
The client never retries on its own (unless ``retries=`` asks it to), so a timeout shows when
it happens. Passwords are accepted as ``Secret`` and never logged.

= Assertions =
| Get Value Of Key | agent:k8s-local:pod | == | api-2 | timeout=10s |

= Waits =
`Wait Until Key Exists`, `Wait Until Key Is Gone`, `Wait Until Key Has Value` and
`Wait Until Message Received` take ``timeout=`` and ``poll=``.

= Pub/sub =
`Subscribe To Channels` / `Subscribe To Patterns` collect messages in the background, under a
subscription name; `Wait Until Message Received` finds one by channel, text (regex) or JSON
fields, e.g. the agent hub's ``pod:<name>:commands`` envelopes.

= Cleanup =
Keys set with ``cleanup=True``, subscriptions and client pauses are undone at the end of the
test (or of the suite, when made in a suite setup), even when it fails.

= Fault actions =
`Pause Redis Clients` and `Disconnect Redis Clients` act only on servers allow-listed as test
targets (library argument ``test_targets`` or ``REDISKIT_TEST_TARGETS``; loopback is allowed
by default).
"""

from __future__ import annotations

from kitcore.guard import LOOPBACK_TARGETS
from kitcore.library import KitLibrary
from RedisKit.context import RedisContext
from RedisKit.keywords.connection import ConnectionKeywords
from RedisKit.keywords.keys import KeyKeywords
from RedisKit.keywords.pubsub import PubSubKeywords
from RedisKit.keywords.server import ServerKeywords
from RedisKit.keywords.structures import StructureKeywords

__version__ = "0.1.0"


class RedisKit(KitLibrary):
    def __init__(self, test_targets: str = LOOPBACK_TARGETS) -> None:
        """``test_targets``: comma-separated ``host:port`` globs that fault actions may touch."""
        self.assemble(RedisContext(test_targets),
                      [ConnectionKeywords, KeyKeywords, StructureKeywords, PubSubKeywords, ServerKeywords])


__all__ = ["RedisKit"]
