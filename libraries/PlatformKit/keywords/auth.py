"""Logging in and choosing the acting user. Tokens are kept per user and never logged."""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robot.api.types import Secret
from robotlibcore import keyword

from kitcore import KitError, SecretLike, reveal
from PlatformKit.context import PlatformContext, expect


class AuthKeywords:
    def __init__(self, ctx: PlatformContext) -> None:
        self.ctx = ctx

    @keyword("Log In As", tags=["auth"])
    def log_in_as(
        self,
        username: str,
        password: SecretLike,
        replica: Any = None,
        expect_status: str | None = None,
        alias: str | None = None,
    ) -> dict[str, Any]:
        """Log ``username`` in and make them the acting user; returns the user object.

        The token is kept for this user on this connection and is valid on every replica;
        it never appears in the log. Pass the password as a ``Secret``. With
        ``expect_status`` (e.g. 401) a refused login is the expected outcome and its body is
        returned.

        Example:
        | Log In As | admin | ${ADMIN_PASSWORD} |
        | Log In As | alice | wrong | expect_status=401 |
        """
        platform = self.ctx.platform(alias)
        plain = reveal(password)
        if not plain:
            raise KitError(f"No password given for '{username}'", fix="pass the password (a Secret) to 'Log In As'")
        response = platform.call(
            "POST", "/api/v1/auth/login", replica=replica, anonymous=True,
            json_body={"username": username, "password": plain},
        )
        if expect_status is not None:
            return expect(response, (200,), f"Log in as '{username}'", expect_status)
        body = expect(response, (200,), f"Log in as '{username}'")
        token = body.get("token") if isinstance(body, dict) else None
        if not token:
            raise KitError(
                f"Log in as '{username}' gave no token",
                cause=f"{response.replica.name} answered 200 without a 'token' field",
                fix="check that the platform speaks the contract's login answer",
            )
        user = body.get("user") or {}
        platform.tokens[username] = token
        platform.roles[username] = str(user.get("role", ""))
        platform.acting = username
        logger.info(f"Logged in as {username} (role {platform.roles[username] or 'unknown'}); acting as {username}")
        return user

    @keyword("As User", tags=["auth"])
    def as_user(self, username: str, alias: str | None = None) -> str | None:
        """Make ``username`` (already logged in) the acting user; returns the previous one.

        Example:
        | As User | bob |
        | ${sessions} = | List Sessions |
        """
        platform = self.ctx.platform(alias)
        platform.token_for(username)
        previous = platform.acting
        platform.acting = username
        logger.info(f"Acting as {username}")
        return previous

    @keyword("Get Acting User", tags=["auth"])
    def get_acting_user(self, alias: str | None = None) -> str | None:
        """The user calls are made as (the last logged in, or set with `As User`).

        Example:
        | ${who} = | Get Acting User |
        """
        return self.ctx.platform(alias).acting

    @keyword("Get Access Token", tags=["auth"])
    def get_access_token(self, username: str | None = None, alias: str | None = None) -> Secret:
        """The bearer token of ``username`` (default: the acting user) as a ``Secret``, for other
        libraries that call the platform themselves (probes, load, VNC).

        Example:
        | ${token} = | Get Access Token | alice |
        | Start Session State Probe | ${name} | token=${token} |
        """
        _, token = self.ctx.platform(alias).token_for(username)
        return Secret(token or "")

    @keyword("Log Out", tags=["auth"])
    def log_out(self, username: str | None = None, alias: str | None = None) -> None:
        """Forget the token of ``username`` (default: the acting user) on this connection.

        Example:
        | Log Out | bob |
        """
        platform = self.ctx.platform(alias)
        name = username or platform.acting
        if name:
            platform.tokens.pop(name, None)
            platform.roles.pop(name, None)
        if platform.acting == name:
            platform.acting = None
