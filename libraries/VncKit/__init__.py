"""VncKit: Robot Framework keywords that speak RFB (VNC) to a desktop, over TCP or WebSocket.

= Connections =
`Connect To VNC` opens a connection (``host:port``, ``vnc://host:port``, ``ws://...`` or ``wss://...``),
runs the whole RFB handshake and fetches the first full frame. Every keyword takes ``alias=``;
without it the last opened (or switched to) connection is used. Connections opened in a test are
closed at the end of that test, those opened in a suite setup at the end of the suite.

= WebSocket =
Over ``ws://``/``wss://`` VncKit behaves as noVNC: subprotocol ``binary``, raw RFB bytes in binary
frames (split anywhere, several messages per frame). A ``token=`` goes into the query string
(``?token=``) or, with ``token_header=Authorization``, into an ``Authorization: Bearer`` header.

= Framebuffer =
VncKit keeps the desktop as last received (RGB). It asks every server for 32-bit true colour and
declares only the encodings it decodes: Raw, CopyRect and the DesktopSize pseudo-encoding.
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

from robotlibcore import DynamicCore

from kitcore import CleanupListener, Connections, document_getters
from VncKit.keywords.connection import ConnectionKeywords
from VncKit.keywords.echo import EchoKeywords
from VncKit.keywords.framebuffer import FramebufferKeywords
from VncKit.keywords.handshake import HandshakeKeywords
from VncKit.keywords.input import InputKeywords
from VncKit.keywords.measurements import MeasurementKeywords
from VncKit.rfb import RfbClient

__version__ = "0.1.0"


class VncKit(DynamicCore):
    __doc__ = document_getters(__doc__)

    ROBOT_LIBRARY_SCOPE = "GLOBAL"
    ROBOT_LIBRARY_VERSION = __version__
    ROBOT_LIBRARY_DOC_FORMAT = "ROBOT"

    def __init__(self, timeout: str = "10s") -> None:
        """``timeout`` is the default for connecting and for every read of a connection."""
        self.default_timeout = timeout
        self.connections: Connections[RfbClient] = Connections("VNC", "Connect To VNC", lambda c: c.close())
        self.cleanup = CleanupListener("VncKit")
        self.ROBOT_LIBRARY_LISTENER = self.cleanup
        DynamicCore.__init__(self, [
            ConnectionKeywords(self), HandshakeKeywords(self), FramebufferKeywords(self),
            InputKeywords(self), EchoKeywords(self), MeasurementKeywords(self),
        ])

    def client(self, alias: str | None = None) -> RfbClient:
        """The connection named ``alias`` (or the current one); fails clearly if it was closed."""
        from VncKit.errors import VncError

        client = self.connections.get(alias)
        if client.closed:
            raise VncError(f"The VNC connection to {client.description} is closed",
                           fix="open it again with 'Connect To VNC'")
        return client


__all__ = ["VncKit"]
