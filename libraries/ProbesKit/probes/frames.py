"""A VNC viewer that keeps asking for frames: when framebuffer updates arrived, the longest time
without one, and how often the viewer had to reconnect.

Every tick asks for a small region of the desktop as a full (non-incremental) update, so the
server must answer even when nothing moves on the screen: each answer proves the whole path
(Control Plane, agent, session VNC server) carries frames. A connection that drops, or that
answers nothing for ``stall_after`` seconds, is closed and opened again through the next URL
(another API replica), as a browser that reconnects would.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable
from typing import Any, Protocol

from ProbesKit.probes.base import Probe
from ProbesKit.probes.windows import longest_gap

REGION = (0, 0, 16, 16)


class FrameViewer(Protocol):
    """What the probe needs of a viewer (VncKit's ``RfbClient`` has it)."""

    width: int
    height: int

    def request_update(self, incremental: bool, region: Any = None) -> None: ...

    def next_message(self, deadline: float) -> Any: ...

    def close(self) -> None: ...


Opener = Callable[[str], FrameViewer]


def open_rfb_viewer(token: str | None, timeout: float) -> Opener:
    """An opener of VncKit viewers on ``ws://`` URLs with ``token`` (handshake within ``timeout``)."""

    def opener(url: str) -> FrameViewer:
        from VncKit.rfb import RfbClient
        from VncKit.transport import parse_target

        target = parse_target(url)
        target.token = token
        return RfbClient(target, None, timeout).connect()

    return opener


def _region(viewer: FrameViewer) -> Any:
    from VncKit.framebuffer import Region

    x, y, w, h = REGION
    return Region(x, y, max(1, min(w, viewer.width)), max(1, min(h, viewer.height)))


class FrameProbe(Probe):
    kind = "vnc-frames"

    def __init__(self, name: str, urls: list[str], opener: Opener, interval: float = 0.2,
                 max_duration: float = 600.0, stall_after: float = 2.0, gap_threshold: float = 1.0,
                 region: Callable[[FrameViewer], Any] = _region) -> None:
        super().__init__(name, interval, max_duration)
        if not urls:
            raise ValueError("no URL to watch the stream through")
        self.urls = list(urls)
        self.opener = opener
        self.stall_after = stall_after
        self.gap_threshold = gap_threshold
        self.region = region
        self.viewer: FrameViewer | None = None
        self._turn = itertools.cycle(range(len(self.urls)))
        self.url_index = 0
        self.arrivals: list[float] = []
        self.connects: list[dict[str, Any]] = []
        self.disconnects = 0
        self.last_error = ""
        self._asked_at: float | None = None

    def _connect(self) -> None:
        self.url_index = next(self._turn)
        url = self.urls[self.url_index]
        viewer = self.opener(url)
        with self._lock:
            self.viewer = viewer
            self.connects.append({"at": self.now(), "through": self.url_index + 1})
        self._asked_at = None

    def _drop(self, why: str) -> None:
        viewer, self.viewer = self.viewer, None
        with self._lock:
            self.disconnects += 1
        self.last_error = why
        if viewer is not None:
            with contextlib.suppress(Exception):
                viewer.close()

    def setup(self) -> None:
        self._connect()

    def tick(self) -> None:
        if self.viewer is None:
            try:
                self._connect()
            except Exception as error:  # noqa: BLE001 - the next tick tries the next URL
                self.last_error = f"{type(error).__name__}: {error}"
                return
        assert self.viewer is not None
        try:
            if self._asked_at is None:
                self.viewer.request_update(False, self.region(self.viewer))
                self._asked_at = self.now()
            message = self.viewer.next_message(time.monotonic() + self.interval)
        except Exception as error:  # noqa: BLE001 - closed, reset, out of step: reconnect
            self._drop(f"{type(error).__name__}: {error}")
            return
        if message is not None and hasattr(message, "rects"):
            with self._lock:
                self.arrivals.append(self.now())
            self._asked_at = None
        elif self._asked_at is not None and self.now() - self._asked_at > self.stall_after:
            self._drop(f"no frame for {self.stall_after:g} s after asking")

    def teardown(self) -> None:
        if self.viewer is not None:
            with contextlib.suppress(Exception):
                self.viewer.close()
            self.viewer = None

    def figures(self) -> dict[str, Any]:
        end = self.ended_mono if self.ended_mono is not None else self.now()
        with self._lock:
            arrivals = list(self.arrivals)
            connects = list(self.connects)
            disconnects = self.disconnects
        points = [0.0, *arrivals, end]
        gaps = [(a, b - a) for a, b in itertools.pairwise(points) if b - a > self.gap_threshold]
        return {
            "frames": len(arrivals),
            "max_gap": round(longest_gap(arrivals, 0.0, end), 3),
            "gap_threshold": self.gap_threshold,
            "gaps_over_threshold": len(gaps),
            "gaps": [{"at": self.wall(at), "seconds": round(length, 3)} for at, length in gaps[:20]],
            "resolution": self.interval,
            "disconnects": disconnects,
            "reconnects": max(0, len(connects) - 1),
            "connected_through": [c["through"] for c in connects],
            "last_error": self.last_error,
        }
