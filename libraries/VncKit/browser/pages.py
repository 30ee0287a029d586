"""The viewer page on loopback: a small HTTP server thread serving noVNC and the kit's page."""

from __future__ import annotations

import contextlib
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

from VncKit.errors import VncError

HERE = Path(__file__).resolve().parent
NOVNC_DIR = Path("/usr/share/novnc")  # Debian's novnc package
PAGE = "viewer.html"
OWN_FILES = {"/viewer.html", "/viewer.js"}


class _Handler(SimpleHTTPRequestHandler):
    """``/novnc/...`` from noVNC's directory, the kit's two files from here, nothing else."""

    protocol_version = "HTTP/1.1"  # keep-alive: the browser fetches noVNC's modules over a few connections
    extensions_map: ClassVar[dict[str, str]] = {
        ".html": "text/html", ".js": "text/javascript", ".css": "text/css", "": "application/octet-stream"}

    def __init__(self, *args: object, novnc: Path, **kwargs: object) -> None:
        self.novnc = novnc
        super().__init__(*args, directory=str(HERE), **kwargs)  # type: ignore[arg-type]

    def translate_path(self, path: str) -> str:
        clean = path.split("?", 1)[0].split("#", 1)[0]
        if clean.startswith("/novnc/"):
            target = (self.novnc / clean[len("/novnc/"):]).resolve()
            return str(target) if target.is_relative_to(self.novnc.resolve()) else "/nonexistent"
        return str(HERE / clean.lstrip("/")) if clean in OWN_FILES else "/nonexistent"

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the page's requests are not part of the test's log."""


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the page loads noVNC's modules all at once: a short backlog drops some
    daemon_threads = True


class PageServer:
    """Serves the viewer page at ``http://127.0.0.1:<port>/viewer.html`` until :meth:`stop`."""

    handler: ClassVar[type[_Handler]] = _Handler

    def __init__(self, novnc: Path = NOVNC_DIR) -> None:
        if not (novnc / "core" / "rfb.js").is_file():
            raise VncError(f"noVNC is not installed: {novnc / 'core' / 'rfb.js'} is missing",
                           fix="install Debian's novnc package ('./kit setup' does)")
        self.server = _Server(("127.0.0.1", 0), partial(self.handler, novnc=novnc))
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="vnc-viewer-page", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{PAGE}"

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.server.shutdown()
            self.server.server_close()
        self.thread.join(5)
