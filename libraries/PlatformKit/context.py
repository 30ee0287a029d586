"""What the keyword classes share: the connections, the cleanup listener, status handling."""

from __future__ import annotations

from typing import Any

from kitcore import CleanupListener, Connections, KitError
from PlatformKit.client import Platform, Response, fail
from PlatformKit.selection import Selection


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

    def read(self, path: str, what: str, replica: Any = None, as_user: str | None = None, alias: str | None = None,
             params: dict[str, Any] | None = None, expect_status: Any = None) -> Any:
        """GET ``path`` as ``as_user`` on ``replica``; the body of a 200 (or of ``expect_status`` when given)."""
        response = self.platform(alias).call("GET", path, replica=replica, user=as_user, params=params)
        return expect(response, (200,), what, expect_status)

    def read_list(self, path: str, key: str, what: str, replica: Any = None, as_user: str | None = None,
                  alias: str | None = None, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """GET ``path``; the list under ``key`` in the body (empty when the body is not an object)."""
        body = self.read(path, what, replica, as_user, alias, params)
        return list(body.get(key, [])) if isinstance(body, dict) else []

    def read_selected(self, path: str, key: str, what: str, selection: Selection) -> list[dict[str, Any]]:
        """`read_list` with the filters of ``selection`` as the query, asked where and as whom it says."""
        return self.read_list(path, key, what, selection.replica, selection.as_user, selection.alias,
                              params=selection.filters)


def sorted_values(items: list[dict[str, Any]], key: str) -> list[str]:
    """The ``key`` of every item as text, sorted (e.g. the names of listed sessions)."""
    return sorted(str(item.get(key)) for item in items)


def statuses(expect_status: Any) -> set[int]:
    """``403``, ``"202, 503"`` or ``[202, 503]`` as a set of status codes."""
    if isinstance(expect_status, (list, tuple, set)):
        return {int(s) for s in expect_status}
    return {int(s) for s in str(expect_status).replace(" or ", ",").split(",") if s.strip()}


def expect(response: Response, ok: tuple[int, ...], what: str, expect_status: Any = None, fix: str = "") -> Any:
    """Return the body when the status is one of ``ok`` (or one of ``expect_status`` when given)."""
    if expect_status is not None:
        if response.status not in statuses(expect_status):
            raise KitError(
                f"{what}: expected status {', '.join(map(str, sorted(statuses(expect_status))))}",
                cause=f"{response.replica.name} answered {response.status}: {response.error}",
                fix="this is the check failing: the platform did not answer as the test expects",
            )
        return response.body
    if response.status not in ok:
        raise fail(what, response, fix)
    return response.body
