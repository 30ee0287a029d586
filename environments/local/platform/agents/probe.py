"""Is a VNC server really there? It must greet with an RFB protocol version."""

from __future__ import annotations

import asyncio
import contextlib
import time


async def vnc_greeting(host: str, port: int, timeout: float = 1.0) -> bytes | None:
    """The 12-byte RFB greeting (``RFB 003.008\\n``), or None when nothing greets in time."""
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        greeting = await asyncio.wait_for(reader.readexactly(12), timeout)
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return None
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.5)
    return greeting if greeting.startswith(b"RFB ") else None


async def wait_vnc_greets(host: str, port: int, timeout: float, poll: float = 0.2) -> bytes:
    """Wait until the VNC server at host:port greets; TimeoutError naming the address otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        greeting = await vnc_greeting(host, port, min(1.0, max(0.2, deadline - time.monotonic())))
        if greeting:
            return greeting
        if time.monotonic() > deadline:
            raise TimeoutError(f"the VNC server at {host}:{port} did not greet within {timeout:g} s")
        await asyncio.sleep(poll)
