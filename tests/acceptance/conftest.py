"""Fixtures several acceptance modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from DatabaseKit import DatabaseKit


@pytest.fixture
def scratch_database_kit(postgres_server) -> Iterator[DatabaseKit]:
    """DatabaseKit connected to the test PostgreSQL as ``admin``, with a scratch test database made
    (dropped again, with everything the test registered, at the end)."""
    lib = DatabaseKit()
    lib.connect_to_database("127.0.0.1", postgres_server.port, "postgres", dbname="postgres", alias="admin")
    lib.create_test_database()
    try:
        yield lib
    finally:
        lib.ctx.cleanup.run_all()
        lib.close_all_database_connections()
