"""A small WebSocket -> TCP bridge for tests (noVNC style: subprotocol ``binary``, binary frames).

It can make the WebSocket side hostile on purpose, to prove a client glues frames correctly:

- ``max_piece=N`` cuts the server's bytes into random pieces of 1..N bytes, one frame each, so RFB
  messages are split at arbitrary byte boundaries;
- ``coalesce=S`` holds the server's bytes for S seconds and sends them as one frame, so one frame
  carries several RFB messages.

``tls=(certfile, keyfile)`` serves ``wss://``; ``text_frames=True`` sends text frames (a broken peer).
A ``token`` makes it demand ``?token=...`` or an ``Authorization: Bearer ...`` header (401 otherwise).
It runs its own asyncio loop in a thread: ``with WsBridge(port=5901) as bridge: bridge.url``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import threading
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web


@dataclass
class WsBridge:
    target_port: int
    target_host: str = "127.0.0.1"
    host: str = "127.0.0.1"
    token: str | None = field(default=None, repr=False)
    max_piece: int | None = None
    coalesce: float = 0.0
    seed: int = 1
    tls: tuple[str, str] | None = None
    text_frames: bool = False
    subprotocols: tuple[str, ...] = ("binary",)  # () answers the upgrade without choosing one
    port: int = 0
    frames_sent: int = 0
    bytes_sent: int = 0
    connections: int = 0
    _loop: asyncio.AbstractEventLoop | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _runner: web.AppRunner | None = field(default=None, repr=False)
    _open: set = field(default_factory=set, repr=False)

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}/websockify"

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> WsBridge:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="ws-bridge", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError("the WebSocket bridge did not start in time")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        with contextlib.suppress(Exception):
            future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> WsBridge:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        context = None
        if self.tls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*self.tls)
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=context)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def _shutdown(self) -> None:
        for ws, writer in list(self._open):
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 1)
        if self._runner:
            await self._runner.cleanup()

    # -- one browser-like connection -------------------------------------------------------------
    def _authorised(self, request: web.Request) -> bool:
        if not self.token:
            return True
        header = request.headers.get("Authorization", "")
        return request.query.get("token") == self.token or header == f"Bearer {self.token}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not self._authorised(request):
            raise web.HTTPUnauthorized(text="missing or wrong token")
        ws = web.WebSocketResponse(protocols=self.subprotocols, max_msg_size=0)
        await ws.prepare(request)
        self.connections += 1
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.target_host, self.target_port), 5)
        except (OSError, TimeoutError):
            await ws.close(code=1011, message=b"backend unreachable")
            return ws
        rng = random.Random(self.seed + self.connections)
        upstream = asyncio.create_task(self._to_server(ws, writer))
        self._open.add((ws, writer))
        try:
            await self._to_browser(ws, reader, rng)
        finally:
            self._open.discard((ws, writer))
            upstream.cancel()
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
            await ws.close()
        return ws

    async def _to_server(self, ws: web.WebSocketResponse, writer: asyncio.StreamWriter) -> None:
        async for message in ws:
            if message.type == WSMsgType.BINARY:
                writer.write(message.data)
                await writer.drain()
            elif message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                break
        writer.close()

    async def _to_browser(self, ws: web.WebSocketResponse, reader: asyncio.StreamReader,
                          rng: random.Random) -> None:
        while not ws.closed:
            data = await reader.read(65536)
            if not data:
                return
            if self.coalesce:
                end = asyncio.get_running_loop().time() + self.coalesce
                while (left := end - asyncio.get_running_loop().time()) > 0:
                    try:
                        more = await asyncio.wait_for(reader.read(65536), left)
                    except TimeoutError:
                        break
                    if not more:
                        break
                    data += more
            for piece in self._pieces(data, rng):
                if self.text_frames:
                    await ws.send_str(piece.decode("latin-1"))
                else:
                    await ws.send_bytes(piece)
                self.frames_sent += 1
                self.bytes_sent += len(piece)

    def _pieces(self, data: bytes, rng: random.Random) -> list[bytes]:
        if not self.max_piece:
            return [data]
        pieces, start = [], 0
        while start < len(data):
            size = rng.randint(1, self.max_piece)
            pieces.append(data[start:start + size])
            start += size
        return pieces
