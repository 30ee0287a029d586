"""PlatformKit: the platform contract (REST + VNC WebSocket) as Robot Framework keywords.

= Connections =
`Connect To Platform` opens a connection to one or several API replicas (``alias=`` names it;
the last opened is the current one; `Switch Platform Connection`, `Close All Platform Connections`).
Every keyword takes ``replica=``: a replica name (``api-2``), a 1-based index or a URL. Without it,
calls go to the current replica (`Use API Replica`), or to each in turn with ``round_robin=True``.
Every call has a timeout (``timeout=`` of `Connect To Platform`).

= Users =
`Log In As` keeps a token per user and makes that user the acting one; `As User` switches; every
keyword also takes ``as_user=`` for one call. Passwords are ``Secret`` values; tokens and passwords
never appear in the log (``Authorization`` is never logged, secret body fields show ``***``).

= Assertions =
| Get Session State | ${name} | == | running | timeout=30s |
| Get Session Count | == | 3 | message=alice should have 3 sessions, not {value} | user=alice |

= Waits =
Waits (`Wait Until Session Is`) poll until their ``timeout`` and, on failure, say what they last
saw, how many tries, and the time spent against the budget.

= Errors =
A refused call fails with the replica, the acting user, the status, the platform's own words and
a fix. Keywords that may be refused on purpose take ``expect_status=`` (e.g. ``403``): the status
is then checked and the answer body returned.

= Protocol =
`Message Should Follow The Contract`, `Hub Message Should Follow The Contract` and `Command Record
Should Show The Agent's Answers` check the agent protocol's messages where a scenario sees them (a
command forwarded over Redis, a command's record of the agent's ack and complete).

= The platform's records =
What the platform keeps in its database and its API does not show, each read by a keyword of its own
(so no suite or resource writes SQL): `Get Command Records Of Session`, `Get Command Record`,
`Get Command Status` and `Wait Until Command Has Ended` (the commands it sent to its agents),
`Get Commands Carried Out Twice`, `Get Agent Of Session` and `Get Agent Heartbeat Age In Seconds`.
They read through DatabaseKit, imported beside PlatformKit: open the platform's database with its
`Connect To PostgreSQL` and give that connection's alias as ``database=`` (default: DatabaseKit's
current connection).

= Cleanup =
Sessions created with `Create Session From Template` are terminated at the end of the test (or of the suite when
created in a suite setup), unless a test terminated them already.
"""

from __future__ import annotations

from kitcore import CleanupListener
from kitcore.library import KitLibrary
from PlatformKit.context import PlatformContext
from PlatformKit.database import SharedDatabase
from PlatformKit.keywords import (
    AgentKeywords,
    AuthKeywords,
    ConnectionKeywords,
    PlatformRecordKeywords,
    ProtocolKeywords,
    SessionKeywords,
    TemplateKeywords,
    UserKeywords,
    VncKeywords,
)

__version__ = "0.1.0"


class PlatformKit(KitLibrary):
    def __init__(self, timeout: str = "10s") -> None:
        """``timeout`` is the default for connections opened without one."""
        self.cleanup = CleanupListener("PlatformKit")
        self.ctx = PlatformContext(self.cleanup)
        self.ctx.default_timeout = timeout
        libraries = [
            ConnectionKeywords(self.ctx),
            AuthKeywords(self.ctx),
            UserKeywords(self.ctx),
            SessionKeywords(self.ctx),
            AgentKeywords(self.ctx),
            TemplateKeywords(self.ctx),
            VncKeywords(self.ctx),
            ProtocolKeywords(self.ctx),
            PlatformRecordKeywords(SharedDatabase()),
        ]
        self.offer(libraries, self.cleanup)
