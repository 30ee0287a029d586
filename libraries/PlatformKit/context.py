"""What the keyword classes share: the connections, the cleanup listener, status handling."""

from __future__ import annotations

from typing import Any

from kitcore import CleanupListener, Connections, KitError
from PlatformKit.client import Platform, Response, fail


class PlatformContext:
    """The library's state: open platform connections and what to clean up."""

    def __init__(self, listener: CleanupListener) -> None:
        self.connections: Connections[Platform] = Connections(
            "platform", "Connect To Platform", lambda platform: platform.http.close()
        )
        self.listener = listener
        self.default_timeout = "10s"

    def platform(self, alias: str | None = None) -> Platform:
        return self.connections.get(alias)


def expect(response: Response, ok: tuple[int, ...], what: str, expect_status: int | None = None, fix: str = "") -> Any:
    """Return the body when the status is one of ``ok`` (or exactly ``expect_status`` when given)."""
    if expect_status is not None:
        if response.status != int(expect_status):
            raise KitError(
                f"{what}: expected status {expect_status}",
                cause=f"{response.replica.name} answered {response.status}: {response.error}",
                fix="this is the check failing: the platform did not answer as the test expects",
            )
        return response.body
    if response.status not in ok:
        raise fail(what, response, fix)
    return response.body
