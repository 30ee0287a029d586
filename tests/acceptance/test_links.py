"""Links relay bytes, stall both ways when cut, resume intact when healed, and pass on a crash."""

from __future__ import annotations

import asyncio

import pytest

from environments.local.links import LinkTable


async def _echo_server() -> asyncio.base_events.Server:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(echo, "127.0.0.1", 0)


async def _roundtrip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes, timeout: float) -> bytes:
    writer.write(data)
    await writer.drain()
    return await asyncio.wait_for(reader.readexactly(len(data)), timeout)


def test_link_relays_cuts_and_heals() -> None:
    async def scenario() -> None:
        server = await _echo_server()
        table = LinkTable("127.0.0.1")
        link = await table.add("api-1", "redis", "127.0.0.1", server.sockets[0].getsockname()[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", link.listen_port)
        assert await _roundtrip(reader, writer, b"ping", 2) == b"ping"

        assert table.partition("redis", "api") == [link]  # names match replicas by prefix, either order
        assert table.cuts() == [{"a": "api-1", "b": "redis"}]
        with pytest.raises(asyncio.TimeoutError):
            await _roundtrip(reader, writer, b"lost?", 0.5)

        table.heal()
        assert await asyncio.wait_for(reader.readexactly(5), 2) == b"lost?"  # nothing lost, as after a real cut
        assert await _roundtrip(reader, writer, b"again", 2) == b"again"
        writer.close()
        await table.close()
        server.close()

    asyncio.run(scenario())


def test_partition_between_unrelated_components_cuts_nothing() -> None:
    async def scenario() -> None:
        table = LinkTable("127.0.0.1")
        await table.add("api-1", "redis", "127.0.0.1", 9)
        assert table.partition("api-2", "redis") == []
        assert table.cuts() == []
        await table.close()

    asyncio.run(scenario())


def test_server_crash_closes_the_client_side_at_once() -> None:
    async def scenario() -> None:
        accepted: list[asyncio.StreamWriter] = []

        async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            accepted.append(writer)
            await reader.read()

        server = await asyncio.start_server(hold, "127.0.0.1", 0)
        table = LinkTable("127.0.0.1")
        link = await table.add("agent", "api-1", "127.0.0.1", server.sockets[0].getsockname()[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", link.listen_port)
        for _ in range(50):
            if accepted:
                break
            await asyncio.sleep(0.02)
        accepted[0].transport.abort()  # the server side dies
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
        await table.close()
        server.close()

    asyncio.run(scenario())


def test_links_count_the_connections_open_through_them() -> None:
    """Who really talks to whom: a connection through a link counts while it is open, and only then."""
    async def scenario() -> None:
        server = await _echo_server()
        table = LinkTable("127.0.0.1")
        port = server.sockets[0].getsockname()[1]
        link = await table.add_service("k8s-agent-b", "api", [("api-1", "127.0.0.1", port)])
        assert table.connections() == []
        reader, writer = await asyncio.open_connection("127.0.0.1", link.listen_port)
        assert await _roundtrip(reader, writer, b"hello", 2) == b"hello"
        assert table.connections() == [{"client": "k8s-agent-b", "server": "api-1", "open": 1}]
        writer.close()
        await writer.wait_closed()
        for _ in range(100):  # the relay notices the close on its next read
            if not table.connections():
                break
            await asyncio.sleep(0.01)
        assert table.connections() == []
        await table.close()
        server.close()

    asyncio.run(scenario())
