"""A buffered reader over a transport, with a hard deadline on every read.

Every read names what it is reading, so a stall or a close says exactly where it happened
("closed after 3 of 16 bytes of the VNC authentication challenge").
"""

from __future__ import annotations

import time

from VncKit.errors import VncClosed, VncStalled
from VncKit.transport import Transport


class Reader:
    def __init__(self, transport: Transport, stall_timeout: float) -> None:
        self.transport = transport
        self.stall_timeout = stall_timeout
        self.buffer = bytearray()
        self.bytes_in = 0
        self.closed = False

    def _fill(self, need: int, deadline: float, what: str) -> None:
        """Receive until ``need`` bytes are buffered; raise on close or when ``deadline`` passes."""
        while len(self.buffer) < need:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._stalled(need, what)
            try:
                chunk = self.transport.recv(min(remaining, self.stall_timeout))
            except TimeoutError:
                raise self._stalled(need, what) from None
            if not chunk:
                self.closed = True
                raise self._closed(need, what)
            self.buffer += chunk
            self.bytes_in += len(chunk)

    def _stalled(self, need: int, what: str) -> VncStalled:
        got = len(self.buffer)
        return VncStalled(
            f"The VNC server over {self.transport.description} stalled",
            f"it sent {got} of the {need} bytes of {what} and then nothing in time",
            "check that the server is alive and not overloaded, or raise the timeout",
        )

    def _closed(self, need: int, what: str) -> VncClosed:
        got = len(self.buffer)
        where = (f"after {got} of the {need} bytes of {what} (closed mid-message)" if got
                 else f"while waiting for {what}")
        return VncClosed(
            f"The VNC server over {self.transport.description} closed the connection",
            where,
            "read the server's log: it may have crashed, refused this client, or been stopped",
        )

    def read(self, count: int, deadline: float, what: str) -> bytes:
        if count <= 0:
            return b""
        self._fill(count, deadline, what)
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def peek(self, count: int, deadline: float, what: str) -> bytes:
        self._fill(count, deadline, what)
        return bytes(self.buffer[:count])

    def wait_for_data(self, deadline: float) -> bool:
        """True once at least one byte is buffered; False when ``deadline`` passes first (no error)."""
        while not self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                chunk = self.transport.recv(min(remaining, self.stall_timeout))
            except TimeoutError:
                continue
            self._take(chunk)
        return True

    def poll(self) -> bool:
        """True when at least one byte is buffered or arrives at once; never waits (beyond a millisecond)."""
        if self.buffer:
            return True
        try:
            chunk = self.transport.recv(0.001)
        except TimeoutError:
            return False
        self._take(chunk)
        return True

    def _take(self, chunk: bytes) -> None:
        """Buffer what arrived; an empty read means the server closed the connection."""
        if not chunk:
            self.closed = True
            raise self._closed(1, "the next server message")
        self.buffer += chunk
        self.bytes_in += len(chunk)
