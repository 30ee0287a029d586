"""Links: one TCP relay per (client, server) edge, so a partition can cut exactly two components.

Every component reaches the backends and API replicas it depends on through its own link. A cut
link stops moving bytes in both directions (open connections stall with their data kept in the
kernel's buffers, new connections are accepted and held): what a network partition looks like to
the two ends. Healing resumes the flow, so TCP streams stay intact as after a real partition.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

CHUNK = 65536


@dataclass
class Link:
    client: str
    server: str
    target_host: str
    target_port: int
    listen_host: str
    listen_port: int = 0
    _open: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    _server: asyncio.base_events.Server | None = field(default=None, repr=False)
    _tasks: set[asyncio.Task] = field(default_factory=set, repr=False)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set, repr=False)

    @property
    def cut(self) -> bool:
        return not self._open.is_set()

    @property
    def address(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"

    def joins(self, a: str, b: str) -> bool:
        return {self.client, self.server} == {a, b} or (
            _matches(self.client, a) and _matches(self.server, b)) or (
            _matches(self.client, b) and _matches(self.server, a))

    async def start(self) -> Link:
        self._open.set()
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port, backlog=256)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        return self

    def set_cut(self, cut: bool) -> None:
        if cut:
            self._open.clear()
        else:
            self._open.set()

    async def close(self) -> None:
        if self._server:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        up_writer = None
        try:
            await self._open.wait()
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(self.target_host, self.target_port), 5)
            except (TimeoutError, OSError):
                return
            self._writers.add(up_writer)
            # when one side closes, close both: a process that dies closes its sockets, and the
            # peer must see that at once (a half-open relay would hide a crash)
            pipes = {asyncio.ensure_future(self._pipe(reader, up_writer)),
                     asyncio.ensure_future(self._pipe(up_reader, writer))}
            _, pending = await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            for pipe in pending:
                pipe.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    self._writers.discard(w)
                    w.close()
            self._tasks.discard(task)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await self._open.wait()
                data = await reader.read(CHUNK)
                if not data:
                    break
                await self._open.wait()
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError, asyncio.CancelledError):
            pass


def _matches(name: str, pattern: str) -> bool:
    """``k8s-agent`` matches every ``k8s-agent-*`` replica; exact names match themselves."""
    return name == pattern or name.startswith(pattern + "-")


class LinkTable:
    """All the links of a stack, created on demand and cut/healed by component names."""

    def __init__(self, listen_host: str = "127.0.9.1") -> None:
        self.listen_host = listen_host
        self.links: list[Link] = []

    async def add(self, client: str, server: str, host: str, port: int) -> Link:
        link = await Link(client, server, host, port, self.listen_host).start()
        self.links.append(link)
        return link

    def partition(self, a: str, b: str) -> list[Link]:
        hit = [link for link in self.links if link.joins(a, b)]
        for link in hit:
            link.set_cut(True)
        return hit

    def heal(self) -> None:
        for link in self.links:
            link.set_cut(False)

    def cuts(self) -> list[dict[str, str]]:
        return [{"a": link.client, "b": link.server} for link in self.links if link.cut]

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links), return_exceptions=True)
