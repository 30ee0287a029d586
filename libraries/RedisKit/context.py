"""What every RedisKit keyword class shares: connections, cleanup, guard and error translation."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis

from kitcore import CleanupListener, Connections, KitError, TargetGuard
from kitcore.credentials import mask

if TYPE_CHECKING:
    from RedisKit.subscriptions import Subscription


@dataclass
class RedisHandle:
    """One open connection: the client, where it points, and the secrets to keep out of messages."""

    client: redis.Redis
    where: str
    db: int
    socket_timeout: float
    secrets: tuple[str, ...] = ()
    alias: str | None = None
    subscriptions: list[Subscription] = field(default_factory=list)

    def mask(self, text: str) -> str:
        return mask(text, *self.secrets)


def close_handle(handle: RedisHandle) -> None:
    for subscription in list(handle.subscriptions):
        subscription.stop()
    handle.client.close()


class RedisContext:
    """State shared by the keyword classes of one library instance."""

    def __init__(self, test_targets: str = "") -> None:
        self.connections: Connections[RedisHandle] = Connections("Redis", "Connect To Redis Server", close_handle)
        self.cleanup = CleanupListener("RedisKit")
        self.guard = TargetGuard("RedisKit", "REDISKIT_TEST_TARGETS", test_targets.split(","))
        self.subscriptions: dict[str, Subscription] = {}
        self.last_subscription: str | None = None

    def handle(self, alias: str | None = None) -> RedisHandle:
        return self.connections.get(alias)

    def check_target(self, handle: RedisHandle, action: str) -> None:
        """The safety latch: refuse ``action`` unless the server is an allow-listed test target."""
        self.guard.check(action, "Redis server", handle.where.split("/")[0])

    def call(self, handle: RedisHandle, what: str, key: str | None = None) -> RedisCall:
        """Run Redis calls (``with ctx.call(...)``), turning client errors into KitErrors that name cause and fix."""
        return RedisCall(handle, what, key)


class RedisCall:
    """The context of :meth:`RedisContext.call` (a class, not a generator: it runs around every command)."""

    __slots__ = ("handle", "key", "what")

    def __init__(self, handle: RedisHandle, what: str, key: str | None) -> None:
        self.handle, self.what, self.key = handle, what, key

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _trace: object) -> None:
        if isinstance(error, redis.exceptions.RedisError):
            raise translate(error, self.handle, self.what, self.key) from None


_WRONGTYPE = re.compile(r"^WRONGTYPE")


def translate(error: redis.exceptions.RedisError, handle: RedisHandle, what: str, key: str | None) -> KitError:
    text = handle.mask(str(error)) or type(error).__name__
    where = f"Redis at {handle.where}"
    if isinstance(error, redis.exceptions.AuthenticationError) or text.startswith(("NOAUTH", "WRONGPASS")):
        return KitError(
            f"{what} failed: {where} refused the credentials",
            f"AUTH error: {text}",
            "check password= (and username= for an ACL user); give the password as a Secret",
        )
    if isinstance(error, redis.exceptions.TimeoutError):
        return KitError(
            f"{what} timed out on {where}",
            f"no answer within the {handle.socket_timeout:g} s socket timeout ({text})",
            "the server may be paused, sleeping or overloaded; raise socket_timeout= in 'Connect To Redis Server' "
            "if this is expected",
        )
    if isinstance(error, redis.exceptions.ConnectionError) and "CERTIFICATE_VERIFY_FAILED" in text:
        return KitError(f"{what} failed: the TLS certificate of {where} was not trusted", text,
                        "give tls_ca_certs= the CA file that signed the server's certificate "
                        "(or tls_verify=False for a throwaway test server)")
    if isinstance(error, redis.exceptions.ConnectionError):
        cause = text
        if "refused" in text.lower():
            cause = f"connection refused: nothing listens on {handle.where.split('/')[0]} ({text})"
        return KitError(f"{what} failed: cannot reach {where}", cause,
                        "start Redis there, or fix host=/port=/url= in 'Connect To Redis Server'")
    if _WRONGTYPE.match(text):
        held = ""
        if key is not None:
            try:
                held = f" (it holds a {handle.client.type(key)})"
            except redis.exceptions.RedisError:
                held = ""
        return KitError(f"{what} failed on {where}", f"key '{key}' has another type{held}: {text}",
                        "use the keywords for the type the key holds, or another key")
    return KitError(f"{what} failed on {where}", text)
