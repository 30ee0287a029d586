"""DatabaseKit: PostgreSQL keywords for the StreamSpace acceptance kit (psycopg 3).

= Connections =
`Connect To PostgreSQL` opens a connection (``alias=`` names it); the last one opened or switched
to with `Switch Database Connection` is used unless a keyword gets ``alias=``. Every statement
runs under a statement timeout (30 s unless ``statement_timeout=`` says otherwise, or a
keyword's ``timeout=`` overrides it for one call) and commits at once. A statement that gets no
answer 5 s after its timeout (a frozen or unreachable server, which cannot enforce the timeout)
is cancelled and its connection closed, so a keyword never hangs; the next keyword reconnects.
Passwords are accepted as ``Secret`` and never logged.

= Queries =
`Get Query Rows` returns rows as dictionaries (or tuples) and logs them as a compact table.
Called from Python outside a Robot Framework run, the keywords log through Python logging (the
``RobotFramework`` logger) and build no message that logger would drop.
`Execute SQL` and `Execute SQL File` change data; `Get Row Count`, `Query Value Should Be` and
`Query Result Should Be` check it (see `Assertions`).

= Assertions =
| Get Row Count | agent_commands | == | 0 | timeout=10s |
| Query Value Should Be | SELECT state FROM sessions WHERE name = %s | == | running | parameters=${{['s1']}} |

= The platform's records =
What a platform keeps in its database is read by PlatformKit's keywords (`Get Command Record`...),
through a connection opened here (their ``database=`` is its alias): this library knows PostgreSQL,
not any platform's tables. `Database Should Answer` checks that a database answers at all.

= Isolation and cleanup =
`Create Test Database` and `Create Test Schema` make throwaway places that the library removes
at the end of the test (or suite), even when it fails. `Create Test Database` with ``copy_of=``
fills the new database with a copy of another one (schema and rows, by ``pg_dump``/``pg_restore``),
e.g. of the database a running platform uses, which is only read.

= Schema and data =
`Get Schema Snapshot` returns tables, columns, indexes and constraints as plain dictionaries;
`Schema Snapshots Should Be Equal` prints one line per difference. `Get Table Checksums` gives per
table a row count and an order-independent checksum; `Table Checksums Should Be Equal` compares.

= Migrations =
`Read Migrations` reads ``NNN_<name>.up.sql`` / ``.down.sql`` and ``NNN_<name>.sql`` /
``NNN_<name>_rollback.sql``. The version table is golang-migrate's ``schema_migrations(version,
dirty)``. Each step runs in its own transaction and is timed; a failing step is rolled back and
named (file, statement, line). Steps that cannot run in a transaction (``CREATE INDEX
CONCURRENTLY``) run outside one and leave the version dirty if they fail halfway.
`Fresh Install Should Succeed`, `Incremental Migration Should Preserve Data` and
`Rollback Should Restore Schema And Data` are whole scenarios in one keyword, starting from an
empty database.

= Migrations over a base schema =
A product whose program creates its schema at start keeps its migrations as changes *over* that
base schema. `Get Migration Folder` finds the folder (``layout=updown`` or ``layout=rollback``
declares its naming), `Create Test Database` with ``copy_of=`` makes the base, `Write Seed Data`
puts rows in it, and then `Migrations Should Apply In Order`, `Migrating Up Should Keep Every Row`,
`Every Migration Should Go Down And Up Again` (one at a time, every defect found under its file)
and `All Migrations Should Go Down And Up Again` check them over whatever the database holds.
Rows are compared through their primary keys: a migration may add tables, columns and rows and
fill empty values, never lose a table, column, row or value; values of columns that look secret
are never printed.

= Safety =
`Migrate Down`, `Force Schema Version` and rollback scenarios act only on databases allow-listed
as test targets (library argument ``test_targets`` or ``DATABASEKIT_TEST_TARGETS``, globs on
``host:port/dbname``; loopback servers are allowed by default).
"""

from __future__ import annotations

from DatabaseKit.context import DbContext
from DatabaseKit.keywords.connection import ConnectionKeywords
from DatabaseKit.keywords.isolation import IsolationKeywords
from DatabaseKit.keywords.migrations import MigrationKeywords
from DatabaseKit.keywords.query import QueryKeywords
from DatabaseKit.keywords.roundtrip import RoundTripKeywords
from DatabaseKit.keywords.scenarios import ScenarioKeywords
from DatabaseKit.keywords.schema import SchemaKeywords
from kitcore.guard import LOOPBACK_TARGETS
from kitcore.library import KitLibrary

__version__ = "0.1.0"


class DatabaseKit(KitLibrary):
    def __init__(self, test_targets: str = LOOPBACK_TARGETS) -> None:
        """``test_targets``: comma-separated ``host:port/dbname`` globs that destructive keywords may touch."""
        self.assemble(DbContext(test_targets), [ConnectionKeywords, QueryKeywords, IsolationKeywords, SchemaKeywords,
                                                MigrationKeywords, ScenarioKeywords, RoundTripKeywords])


__all__ = ["DatabaseKit"]
