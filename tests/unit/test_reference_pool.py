"""The reference platform's database pool answers within its timeout when PostgreSQL does not:
a server that accepts and says nothing, and a query whose cancellation itself hangs (what psycopg
does on a cut link), both end in ``OperationalError`` after ``query_timeout``, never later."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import psycopg
import pytest

from environments.local.platform.db import Pool


def test_a_server_that_never_answers_fails_the_query_within_the_timeout():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        pool = Pool(f"host=127.0.0.1 port={port} user=postgres dbname=x", query_timeout=0.5)

        async def run() -> float:
            started = time.monotonic()
            with pytest.raises(psycopg.OperationalError, match=r"did not answer within 0\.5 s"):
                await pool.fetch("SELECT 1")
            elapsed = time.monotonic() - started
            await pool.close()
            return elapsed

        assert asyncio.run(run()) < 1.5


def test_a_query_whose_cancellation_hangs_does_not_hold_up_the_caller():
    pool = Pool("host=127.0.0.1 port=1 user=postgres dbname=x", query_timeout=0.3)
    finished: list[str] = []

    async def stuck(query: str, params: Any) -> list[dict[str, Any]]:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            await asyncio.sleep(1.0)  # cancelling the query on the server takes long
            finished.append("cancelled")
            raise
        return []

    pool._fetch = stuck  # type: ignore[method-assign]

    async def run() -> float:
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            await pool.fetch("SELECT 1")
        elapsed = time.monotonic() - started
        await asyncio.sleep(1.2)
        return elapsed

    assert asyncio.run(run()) < 0.8
    assert finished == ["cancelled"]  # the abandoned query still ended in the background
