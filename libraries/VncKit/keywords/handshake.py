"""What the handshake told: protocol version, security types, desktop size, pixel format, name."""

from __future__ import annotations

from typing import Any

from robot.api.deco import keyword

from kitcore import AssertionOperator, get_and_assert
from VncKit.keywords.base import KeywordGroup, as_operator
from VncKit.rfb import security_name


class HandshakeKeywords(KeywordGroup):
    @keyword("Get RFB Protocol Version", tags=["handshake", "getter"])
    def get_rfb_protocol_version(self, operator: AssertionOperator | None = None, expected: Any = None,
                                 alias: str | None = None) -> str:
        """The RFB version both sides agreed on: ``3.3``, ``3.7`` or ``3.8`` (optionally asserted).

        The version the server announced is logged too (TigerVNC announces 3.8 and accepts 3.3/3.7).

        Example:
        | Get RFB Protocol Version | == | 3.8 |
        """
        client = self.client(alias)
        return get_and_assert(lambda: client.version, as_operator(operator), expected,
                              f"RFB version (server announced {client.server_version})")

    @keyword("Get Offered Security Types", tags=["handshake", "getter"])
    def get_offered_security_types(self, operator: AssertionOperator | None = None, expected: Any = None,
                                   alias: str | None = None) -> list[str]:
        """The security types the server offered, by name (``None``, ``VncAuth``, ``VeNCrypt``...).

        With RFB 3.3 the server imposes one type, which is the whole list.

        Example:
        | Get Offered Security Types | contains | VncAuth |
        """
        client = self.client(alias)
        names = [security_name(t) for t in client.security_types]
        return get_and_assert(lambda: names, as_operator(operator), expected, "Offered security types")

    @keyword("Get Desktop Size", tags=["handshake", "getter"])
    def get_desktop_size(self, operator: AssertionOperator | None = None, expected: Any = None,
                         alias: str | None = None) -> tuple[int, int]:
        """The desktop's ``(width, height)`` in pixels; asserted as text ``WIDTHxHEIGHT``.

        Example:
        | ${width} | ${height} = | Get Desktop Size |
        | Get Desktop Size | == | 800x600 |
        """
        client = self.client(alias)
        get_and_assert(lambda: f"{client.width}x{client.height}", as_operator(operator), expected, "Desktop size")
        return (client.width, client.height)

    @keyword("Get Pixel Format", tags=["handshake", "getter"])
    def get_pixel_format(self, operator: AssertionOperator | None = None, expected: Any = None,
                         alias: str | None = None) -> dict[str, int | bool]:
        """The server's native pixel format from ServerInit, as a dictionary.

        Keys: ``bits_per_pixel``, ``depth``, ``big_endian``, ``true_colour``, ``red_max``,
        ``green_max``, ``blue_max``, ``red_shift``, ``green_shift``, ``blue_shift``.
        (VncKit then asks the server for 32-bit true colour, whatever this is.)

        Example:
        | Get Pixel Format | validate | value['depth'] == 24 |
        """
        client = self.client(alias)
        return get_and_assert(lambda: dict(client.server_pixel_format), as_operator(operator), expected, "Pixel format")

    @keyword("Get Desktop Name", tags=["handshake", "getter"])
    def get_desktop_name(self, operator: AssertionOperator | None = None, expected: Any = None,
                         alias: str | None = None) -> str:
        """The desktop name from ServerInit.

        Example:
        | Get Desktop Name | contains | session |
        """
        client = self.client(alias)
        return get_and_assert(lambda: client.name, as_operator(operator), expected, "Desktop name")
