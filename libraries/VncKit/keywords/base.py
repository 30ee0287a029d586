"""What every VncKit keyword class shares: access to the library (connections, cleanup)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kitcore import to_seconds
from VncKit.framebuffer import Region, parse_region
from VncKit.rfb import RfbClient

if TYPE_CHECKING:
    from VncKit import VncKit


class KeywordGroup:
    def __init__(self, library: VncKit) -> None:
        self.library = library

    def client(self, alias: str | None = None) -> RfbClient:
        return self.library.client(alias)

    def seconds(self, value: str | float | None, default: float | None = None) -> float:
        fallback = to_seconds(self.library.default_timeout) if default is None else default
        return to_seconds(value, fallback)

    @staticmethod
    def region(client: RfbClient, value: str | list | None) -> Region:
        return parse_region(value, client.width, client.height)

