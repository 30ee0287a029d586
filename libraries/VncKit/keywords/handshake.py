"""What the handshake told: protocol version, security types, desktop size, pixel format, name."""

from __future__ import annotations

from robot.api.deco import keyword

from kitcore import Check, getter
from VncKit.keywords.base import KeywordGroup
from VncKit.rfb import security_name


class HandshakeKeywords(KeywordGroup):
    @keyword("Get RFB Protocol Version", tags=["handshake", "getter"])
    @getter
    def get_rfb_protocol_version(self, *, check: Check, alias: str | None = None) -> str:
        """The RFB version both sides agreed on: ``3.3``, ``3.7`` or ``3.8`` (optionally asserted).

        The version the server announced is logged too (TigerVNC announces 3.8 and accepts 3.3/3.7).

        Example:
        | Get RFB Protocol Version | == | 3.8 |
        """
        client = self.client(alias)
        return check(lambda: client.version, f"RFB version (server announced {client.server_version})")

    @keyword("Get Offered Security Types", tags=["handshake", "getter"])
    @getter
    def get_offered_security_types(self, *, check: Check, alias: str | None = None) -> list[str]:
        """The security types the server offered, by name (``None``, ``VncAuth``, ``VeNCrypt``...).

        With RFB 3.3 the server imposes one type, which is the whole list.

        Example:
        | Get Offered Security Types | contains | VncAuth |
        """
        client = self.client(alias)
        names = [security_name(t) for t in client.security_types]
        return check(lambda: names, "Offered security types")

    @keyword("Get Desktop Size", tags=["handshake", "getter"])
    @getter
    def get_desktop_size(self, *, check: Check, alias: str | None = None) -> tuple[int, int]:
        """The desktop's ``(width, height)`` in pixels; asserted as text ``WIDTHxHEIGHT``.

        Example:
        | ${width} | ${height} = | Get Desktop Size |
        | Get Desktop Size | == | 800x600 |
        """
        client = self.client(alias)
        check(lambda: f"{client.width}x{client.height}", "Desktop size")
        return (client.width, client.height)

    @keyword("Get Pixel Format", tags=["handshake", "getter"])
    @getter
    def get_pixel_format(self, *, check: Check, alias: str | None = None) -> dict[str, int | bool]:
        """The server's native pixel format from ServerInit, as a dictionary.

        Keys: ``bits_per_pixel``, ``depth``, ``big_endian``, ``true_colour``, ``red_max``,
        ``green_max``, ``blue_max``, ``red_shift``, ``green_shift``, ``blue_shift``.
        (VncKit then asks the server for 32-bit true colour, whatever this is.)

        Example:
        | Get Pixel Format | validate | value['depth'] == 24 |
        """
        client = self.client(alias)
        return check(lambda: dict(client.server_pixel_format), "Pixel format")

    @keyword("Get Desktop Name", tags=["handshake", "getter"])
    @getter
    def get_desktop_name(self, *, check: Check, alias: str | None = None) -> str:
        """The desktop name from ServerInit.

        Example:
        | Get Desktop Name | contains | session |
        """
        client = self.client(alias)
        return check(lambda: client.name, "Desktop name")
