"""VncKit: Robot Framework keywords that speak RFB (VNC) to a desktop, over TCP or WebSocket.

= Connections =
`Connect To VNC` opens a connection (``host:port``, ``vnc://host:port``, ``ws://...`` or ``wss://...``),
runs the whole RFB handshake and fetches the first full frame. Every keyword takes ``alias=``;
without it the last opened (or switched to) connection is used. Connections opened in a test are
closed at the end of that test, those opened in a suite setup at the end of the suite.

= WebSocket =
Over ``ws://``/``wss://`` VncKit behaves as noVNC: it offers the subprotocol ``binary`` and, as a
browser does, fails when the server chooses none or one it was not offered; raw RFB bytes travel
in binary frames (split anywhere, several messages per frame). A ``token=`` goes into the query string
(``?token=``) or, with ``token_header=Authorization``, into an ``Authorization: Bearer`` header.

= Framebuffer =
VncKit keeps the desktop as last received (RGB). It asks every server for 32-bit true colour and
declares only the encodings it decodes. By default it asks for what a browser (noVNC) asks for:
CopyRect, Tight, ZRLE, Hextile and Raw, JPEG quality 6 and compression level 2, plus the
DesktopSize and LastRect pseudo-encodings. ``encodings=``, ``jpeg_quality=`` and
``compress_level=`` change that for the library (import options) or for one connection
(`Connect To VNC`). Tight's JPEG rectangles are lossy: ``jpeg_quality=${NONE}`` keeps Tight
lossless. `Get Used Encodings` tells what the server actually sent.

Like a browser's viewer, VncKit reads the server all the time and keeps an incremental update
request pending: the next one goes out as soon as an update arrives (x11vnc holds input back while
none is pending). Keywords still see the screen one update at a time, so input sent just before
`Wait Until Screen Changes` counts; input keywords first take what has already arrived.
Regions are written ``x,y,width,height``; colours ``#rrggbb``, ``r,g,b`` or a basic name.

= Assertions =
| `Get RFB Protocol Version` | == | 3.8 |
| `Get Desktop Size` | == | 800x600 |

= Typed text =
`Typed Text Should Appear` proves typed keys reached the desktop as text, not just as changed pixels:
each key must change a place no earlier key changed, and what was typed must stay on the screen. A
blinking cursor, a clock or an animation (the same pixels, coming and going) fails it.

= Measurements =
All durations are returned in **seconds** (floats) and logged in milliseconds;
throughput in **bytes per second**. Several samples give their median.

= Errors =
Failures name the cause and the fix: connection refused, wrong password (with the server's reason),
not an RFB server, a stalled server and a connection closed mid-message each have their own message,
and every read has a deadline, so nothing hangs past the connection's ``timeout``.
Passwords and tokens are never logged.
"""

from __future__ import annotations

from kitcore import CleanupListener, Connections
from kitcore.library import KitLibrary
from VncKit.encodings import BROWSER_COMPRESS_LEVEL, BROWSER_ENCODINGS, BROWSER_JPEG_QUALITY, choose_encodings
from VncKit.keywords.browser import BrowserKeywords
from VncKit.keywords.connection import ConnectionKeywords
from VncKit.keywords.echo import EchoKeywords
from VncKit.keywords.framebuffer import FramebufferKeywords
from VncKit.keywords.handshake import HandshakeKeywords
from VncKit.keywords.input import InputKeywords
from VncKit.keywords.measurements import MeasurementKeywords
from VncKit.rfb import RfbClient

__version__ = "0.1.0"


class VncKit(KitLibrary):
    def __init__(self, timeout: str = "10s", encodings: str = BROWSER_ENCODINGS,
                 jpeg_quality: str | None = str(BROWSER_JPEG_QUALITY),
                 compress_level: str | None = str(BROWSER_COMPRESS_LEVEL)) -> None:
        """``timeout`` is the default for connecting and for every read of a connection.

        ``encodings`` (most wanted first), ``jpeg_quality`` (0-9, or ``None`` for lossless Tight)
        and ``compress_level`` (0-9, or ``None``) are what every connection asks for unless
        `Connect To VNC` says otherwise. The defaults are what a browser (noVNC) asks for.

        Example:
        | Library | VncKit | timeout=5s | encodings=ZRLE,Raw |
        """
        choose_encodings(encodings, jpeg_quality, compress_level)  # fails at import on a bad option
        self.default_timeout = timeout
        self.encodings = encodings
        self.jpeg_quality = jpeg_quality
        self.compress_level = compress_level
        self.connections: Connections[RfbClient] = Connections("VNC", "Connect To VNC", lambda c: c.close())
        self.cleanup = CleanupListener("VncKit")
        self.offer([
            ConnectionKeywords(self), HandshakeKeywords(self), FramebufferKeywords(self),
            InputKeywords(self), EchoKeywords(self), MeasurementKeywords(self), BrowserKeywords(self),
        ], self.cleanup)

    def client(self, alias: str | None = None) -> RfbClient:
        """The connection named ``alias`` (or the current one); fails clearly if it was closed."""
        from VncKit.errors import VncError

        client = self.connections.get(alias)
        if client.closed:
            raise VncError(f"The VNC connection to {client.description} is closed",
                           fix="open it again with 'Connect To VNC'")
        return client


__all__ = ["VncKit"]
