"""The errors VncKit raises: each names what failed, the cause and the fix."""

from __future__ import annotations

from kitcore.errors import KitError


class VncError(KitError):
    """Any failure talking RFB to a VNC server."""


class VncRefused(VncError):
    """Nothing accepted the connection (TCP refused, WebSocket upgrade rejected, name unknown)."""


class VncAuthFailed(VncError):
    """The server rejected the password (or wanted one that was not given)."""


class NotRfb(VncError):
    """The peer does not speak RFB (garbage where the version string or a message should be)."""


class VncStalled(VncError):
    """The server sent nothing (or not enough) before the deadline."""


class VncClosed(VncError):
    """The server closed the connection, possibly in the middle of a message."""


class VncProtocolError(VncError):
    """The server sent something RFB does not allow at this point."""
