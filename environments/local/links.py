"""Links: one TCP relay per (client, server) edge, so a partition can cut exactly two components.

Every component reaches the backends and API replicas it depends on through its own link. A cut
link stops moving bytes in both directions (open connections stall with their data kept in the
kernel's buffers, new connections are accepted and held): what a network partition looks like to
the two ends. Healing resumes the flow, so TCP streams stay intact as after a real partition.

A *service* link stands for a Kubernetes Service in front of several replicas (a program that is
given one Control Plane URL, as StreamSpace's agents are): each new connection goes to the next
replica that accepts it, round robin, as kube-proxy spreads connections over ready endpoints. A
cut between the client and one replica stalls the connections that went there, and new ones sent
there hang, as a partition does; a replica that is down refuses, and the connection goes on to
the next one.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

CHUNK = 65536
CONNECT_TIMEOUT = 5.0


@dataclass
class Target:
    """One server behind a link, with its own cut switch."""

    server: str
    host: str
    port: int
    open: asyncio.Event = field(default_factory=asyncio.Event, repr=False)
    connections: int = 0  # relayed connections open to this server right now

    @property
    def cut(self) -> bool:
        return not self.open.is_set()


@dataclass
class Link:
    client: str
    server: str  # the server's name, or the service's for a link to several replicas
    targets: list[Target]
    listen_host: str
    listen_port: int = 0
    _server: asyncio.base_events.Server | None = field(default=None, repr=False)
    _tasks: set[asyncio.Task] = field(default_factory=set, repr=False)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set, repr=False)
    _turn: itertools.count = field(default_factory=itertools.count, repr=False)

    @property
    def cut(self) -> bool:
        return any(target.cut for target in self.targets)

    @property
    def address(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"

    def targets_between(self, a: str, b: str) -> list[Target]:
        return [t for t in self.targets if {self.client, t.server} == {a, b}
                or (_matches(self.client, a) and _matches(t.server, b))
                or (_matches(self.client, b) and _matches(t.server, a))]

    def joins(self, a: str, b: str) -> bool:
        return bool(self.targets_between(a, b))

    async def start(self) -> Link:
        for target in self.targets:
            target.open.set()
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port, backlog=256)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        return self

    def set_cut(self, cut: bool, targets: list[Target] | None = None) -> None:
        for target in targets if targets is not None else self.targets:
            if cut:
                target.open.clear()
            else:
                target.open.set()

    async def close(self) -> None:
        if self._server:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connect(self) -> tuple[Target, asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The next target that accepts, round robin; a cut target holds the connection, as a partition does."""
        start = next(self._turn)
        for offset in range(len(self.targets)):
            target = self.targets[(start + offset) % len(self.targets)]
            await target.open.wait()
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(target.host, target.port), CONNECT_TIMEOUT)
            except (TimeoutError, OSError):
                continue  # down: a Service sends the connection to another ready endpoint
            return target, reader, writer
        return None

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._tasks.add(task)
        self._writers.add(writer)
        up_writer = None
        try:
            connected = await self._connect()
            if connected is None:
                return
            target, up_reader, up_writer = connected
            self._writers.add(up_writer)
            target.connections += 1
            # when one side closes, close both: a process that dies closes its sockets, and the
            # peer must see that at once (a half-open relay would hide a crash)
            pipes = {asyncio.ensure_future(self._pipe(reader, up_writer, target.open)),
                     asyncio.ensure_future(self._pipe(up_reader, writer, target.open))}
            try:
                await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
            finally:
                target.connections -= 1
                for pipe in pipes:
                    pipe.cancel()
                await asyncio.gather(*pipes, return_exceptions=True)
        except asyncio.CancelledError:
            pass  # the stack is stopping: closing both sides below is all there is to do
        finally:
            for w in (writer, up_writer):
                if w is not None:
                    self._writers.discard(w)
                    w.close()
            self._tasks.discard(task)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, flowing: asyncio.Event) -> None:
        try:
            while True:
                await flowing.wait()
                data = await reader.read(CHUNK)
                if not data:
                    break
                await flowing.wait()
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
        return await self.add_service(client, server, [(server, host, port)])

    async def add_service(self, client: str, service: str, servers: list[tuple[str, str, int]]) -> Link:
        """A link from ``client`` to whichever of ``servers`` (name, host, port) accepts, round robin."""
        targets = [Target(name, host, port) for name, host, port in servers]
        link = await Link(client, service, targets, self.listen_host).start()
        self.links.append(link)
        return link

    def partition(self, a: str, b: str) -> list[Link]:
        hit = []
        for link in self.links:
            targets = link.targets_between(a, b)
            if targets:
                link.set_cut(True, targets)
                hit.append(link)
        return hit

    def heal(self) -> None:
        for link in self.links:
            link.set_cut(False)

    def cuts(self) -> list[dict[str, str]]:
        pairs = {(link.client, target.server) for link in self.links for target in link.targets if target.cut}
        return [{"a": a, "b": b} for a, b in sorted(pairs)]

    def connections(self) -> list[dict[str, object]]:
        """The connections open right now through the links, per (client, server) with any open:
        who really talks to whom (e.g. which agent replicas hold a connection to the Control Plane)."""
        counts: dict[tuple[str, str], int] = {}
        for link in self.links:
            for target in link.targets:
                if target.connections:
                    key = (link.client, target.server)
                    counts[key] = counts.get(key, 0) + target.connections
        return [{"client": c, "server": s, "open": n} for (c, s), n in sorted(counts.items())]

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links), return_exceptions=True)
