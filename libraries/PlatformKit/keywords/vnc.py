"""The browser's way into a session: the VNC WebSocket URL and who may open it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import websocket
from robot.api import logger
from robot.api.types import Secret
from robotlibcore import keyword

from kitcore import Check, KitError, Wait, WaitTimeout, getter, to_seconds
from PlatformKit.context import PlatformContext

ACCEPTED = 101


def _accepted_without_subprotocol(url: str, timeout: float) -> bool:
    """True when the same upgrade, offering no subprotocol, is accepted (that connection is closed at once)."""
    try:
        ws = websocket.create_connection(url, timeout=timeout)
    except (OSError, websocket.WebSocketException):
        return False
    ws.close(timeout=1)
    return True


class VncKeywords:
    def __init__(self, ctx: PlatformContext) -> None:
        self.ctx = ctx

    def _url(self, name: str, replica: Any, as_user: str | None, alias: str | None) -> tuple[str, str]:
        platform = self.ctx.platform(alias)
        target = platform.replica(replica)
        _, token = platform.token_for(as_user)
        base = target.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        plain = f"{base}/api/v1/vnc/{quote(name, safe='')}"
        return plain, f"{plain}?token={quote(token or '', safe='')}"

    @keyword("Get VNC URL Of Session", tags=["vnc"])
    def get_vnc_url_of_session(
        self,
        name: str,
        replica: Any = None,
        as_user: str | None = None,
        with_token: bool = True,
        alias: str | None = None,
    ) -> Secret | str:
        """The browser's WebSocket URL for the session's VNC on ``replica``.

        With ``with_token=True`` (the default) the URL carries the acting user's token as
        ``?token=`` and is returned as a ``Secret`` (shown as ``<secret>`` in the log). With
        ``with_token=False`` it is a plain string: give the token separately (`Get Access Token`),
        e.g. to VncKit's ``Connect To VNC  ${url}  token=${token}``. Any replica works: the
        replica relays to the agent's replica.

        Example:
        | ${url} = | Get VNC URL Of Session | ${name} | replica=api-2 | with_token=False |
        | ${token} = | Get Access Token |
        | Connect To VNC | ${url} | token=${token} |
        """
        plain, tokenised = self._url(name, replica, as_user, alias)
        if not with_token:
            logger.info(f"VNC URL of {name}: {plain}")
            return plain
        logger.info(f"VNC URL of {name}: {plain}?token=***")
        return Secret(tokenised)

    @keyword("Get VNC Access Status", tags=["vnc", "assertion"])
    @getter
    def get_vnc_access_status(
        self,
        name: str,
        *,
        check: Check,
        replica: Any = None,
        as_user: str | None = None,
        connect_timeout: str = "10s",
        with_token: bool = True,
        alias: str | None = None,
    ) -> int:
        """Open the session's VNC WebSocket as the acting user and close it; returns the HTTP status.

        ``101`` means the platform accepted the connection (subprotocol ``binary``); a refusal
        gives its status: ``403`` not the owner, ``404`` no such session, ``409`` not running,
        ``503`` agent not connected; ``401`` with ``with_token=False`` (no token at all). Can assert.

        Example:
        | Get VNC Access Status | ${alice_session} | == | 403 | as_user=bob |
        | Get VNC Access Status | ${name} | == | 101 | timeout=20s |
        """
        probe = self._status_probe(name, replica, as_user, connect_timeout, with_token, alias)
        status = check(probe, f"VNC access to {name}")
        logger.info(f"VNC WebSocket of {name}: status {status}")
        return status

    @keyword("VNC Access Status Should Be One Of", tags=["vnc", "assertion"])
    def vnc_access_status_should_be_one_of(
        self,
        name: str,
        *statuses: int,
        replica: Any = None,
        as_user: str | None = None,
        connect_timeout: str = "10s",
        timeout: str | None = None,
        with_token: bool = True,
        alias: str | None = None,
    ) -> int:
        """Opening the session's VNC WebSocket (see `Get VNC Access Status`) gives one of ``statuses``,
        retrying until ``timeout``; returns the status. On failure it says the status it last saw.

        Example:
        | VNC Access Status Should Be One Of | ${name} | 404 | 409 | timeout=10s |
        """
        if not statuses:
            raise KitError("VNC Access Status Should Be One Of needs the statuses to accept", fix="give e.g. 404  409")
        allowed = [int(s) for s in statuses]
        expected = " or ".join(str(s) for s in allowed)
        probe = self._status_probe(name, replica, as_user, connect_timeout, with_token, alias)
        what = f"VNC access to {name} to be {expected}"
        budget = to_seconds(timeout, 0.0)
        if budget <= 0:
            status = probe()
            if status not in allowed:
                raise AssertionError(f"VNC access to {name} should be {expected}, but was {status}")
        else:
            try:
                status = Wait(what, budget, 0.2).until(probe, lambda s: s in allowed, lambda s: f"status {s}").value
            except WaitTimeout as error:
                raise AssertionError(f"VNC access to {name} should be {expected}: retried for {error.elapsed:.1f} s "
                                     f"of {budget:g} s ({error.tries} tries); last seen: {error.last_seen}") from None
        logger.info(f"VNC WebSocket of {name}: status {status}")
        return status

    def _status_probe(self, name: str, replica: Any, as_user: str | None, connect_timeout: str,
                      with_token: bool, alias: str | None) -> Callable[[], int]:
        """What opening the session's VNC WebSocket answers, as a call to repeat: 101 or the refusal's status."""
        plain, tokenised = self._url(name, replica, as_user, alias)
        url = tokenised if with_token else plain
        budget = to_seconds(connect_timeout, 10)

        def probe() -> int:
            try:
                ws = websocket.create_connection(url, timeout=budget, subprotocols=["binary"])
            except websocket.WebSocketBadStatusException as error:
                return int(error.status_code)
            except (OSError, websocket.WebSocketException) as error:
                if _accepted_without_subprotocol(url, budget):
                    raise KitError(
                        f"The VNC WebSocket of '{name}' chose no subprotocol",
                        cause="it was offered 'binary' (as noVNC offers it) and accepted the upgrade without "
                              "Sec-WebSocket-Protocol: browsers drop such a connection",
                        fix="this is the platform failing the check: it must answer the subprotocol it was offered",
                    ) from None
                raise KitError(
                    f"Could not open the VNC WebSocket of '{name}'",
                    cause=f"{type(error).__name__}: {error}",
                    fix="check that the API replica runs and answers WebSocket upgrades",
                ) from None
            try:
                return ACCEPTED
            finally:
                ws.close(timeout=1)

        return probe
