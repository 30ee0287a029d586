"""Connect To VNC, switch, close."""

from __future__ import annotations

from robot.api import logger
from robot.api.deco import keyword

from kitcore import SecretLike, reveal
from VncKit.encodings import choose_encodings
from VncKit.keywords.base import KeywordGroup
from VncKit.rfb import RfbClient, security_name
from VncKit.screen import refresh
from VncKit.transport import parse_target


class ConnectionKeywords(KeywordGroup):
    @keyword("Connect To VNC", tags=["connection"])
    def connect_to_vnc(
        self,
        address: str,
        port: int | None = None,
        password: SecretLike = None,
        timeout: str | None = None,
        alias: str | None = None,
        shared: bool = True,
        token: SecretLike = None,
        token_header: str | None = None,
        rfb_version: str = "3.8",
        verify_tls: bool = True,
        first_frame: bool = True,
        encodings: str | None = None,
        jpeg_quality: str | None = "library default",
        compress_level: str | None = "library default",
        subprotocol: str | None = "binary",
    ) -> str:
        """Open an RFB connection, run the whole handshake and (by default) fetch the first full frame.

        ``address`` is ``host:port``, ``host`` with ``port=``, ``vnc://host:port``, or a WebSocket URL
        ``ws://host:port/path`` / ``wss://...`` (subprotocol ``binary``, as noVNC). ``password`` (a
        ``Secret`` or a string) is used for VNC authentication when the server offers it.
        ``timeout`` bounds the connect, the handshake and every later read (default: the library's).
        ``shared=False`` asks the server to disconnect other viewers. ``token`` is sent as
        ``?token=`` in the URL, or in the header named by ``token_header`` (``Authorization`` sends
        ``Bearer <token>``). ``rfb_version`` is the highest version to speak (3.8, 3.7 or 3.3).
        ``verify_tls=False`` accepts a self-signed certificate for ``wss://``.

        ``encodings`` lists the pixel encodings to ask for, most wanted first (default: the
        library's, which is what a browser asks for: ``CopyRect,Tight,ZRLE,Hextile,Raw``).
        ``jpeg_quality`` (0-9) lets Tight send lossy JPEG rectangles; ``${NONE}`` keeps Tight
        lossless. ``compress_level`` (0-9) is the zlib effort asked of Tight and ZRLE servers.
        ``subprotocol`` is the WebSocket subprotocol offered (``binary``, as noVNC); the server
        must choose it, as browsers require. ``subprotocol=${NONE}`` offers none, and then the
        server must choose none.

        Returns the alias (or the connection's index when none is given).

        Example:
        | Connect To VNC | 127.0.0.1:5901 | password=${VNC_PASSWORD} | alias=desk |
        | Connect To VNC | ws://127.0.0.1:8080/api/v1/vnc/${id} | token=${TOKEN} | timeout=5s |
        | Connect To VNC | 127.0.0.1:5901 | encodings=ZRLE | alias=zrle |
        | Connect To VNC | 127.0.0.1:5901 | encodings=Tight | jpeg_quality=${NONE} |
        """
        target = parse_target(address, port)
        target.token = reveal(token)
        target.token_header = token_header
        target.verify_tls = verify_tls
        target.subprotocol = subprotocol or None
        seconds = self.seconds(timeout)
        library = self.library
        asked = choose_encodings(
            encodings or library.encodings,
            library.jpeg_quality if jpeg_quality == "library default" else jpeg_quality,
            library.compress_level if compress_level == "library default" else compress_level,
        )
        client = RfbClient(target, reveal(password), seconds, shared, rfb_version, asked).connect()
        try:
            if first_frame:
                refresh(client)
        except BaseException:
            client.close()
            raise
        key = f"vnc-{id(client)}"
        client.cleanup_key = key
        self.library.cleanup.register(f"VNC connection to {target.display}", client.close, key=key)
        self.library.connections.add(client, alias)
        index = self.library.connections._cache.current_index
        logger.info(
            f"Connected to {target.display}: RFB {client.version} (server offers {client.server_version}), "
            f"security {security_name(client.security)}, {client.width}x{client.height} '{client.name}', "
            f"handshake {client.timings.handshake * 1000:.1f} ms; asked for {', '.join(client.encoding_names)}"
        )
        return alias or str(index)

    @keyword("Switch VNC Connection", tags=["connection"])
    def switch_vnc_connection(self, alias: str) -> None:
        """Make the connection named ``alias`` (or with that index) the current one.

        Example:
        | Switch VNC Connection | desk |
        """
        client = self.library.connections.switch(alias)
        logger.info(f"Current VNC connection: {client.description}")

    @keyword("Close VNC Connection", tags=["connection"])
    def close_vnc_connection(self, alias: str | None = None) -> None:
        """Close the current connection (or the one named ``alias``) cleanly.

        Example:
        | Close VNC Connection |
        """
        client = self.library.connections.get(alias)
        client.close()
        key = client.cleanup_key
        if key:
            self.library.cleanup.forget(key)
        logger.info(f"Closed the VNC connection to {client.description}")

    @keyword("Close All VNC Connections", tags=["connection"])
    def close_all_vnc_connections(self) -> None:
        """Close every open connection (safe to call in any teardown).

        Example:
        | [Teardown] | Close All VNC Connections |
        """
        for client in self.library.connections.all():
            key = client.cleanup_key
            if key:
                self.library.cleanup.forget(key)
        self.library.connections.close_all()
