"""Plain keys: set, get (assertable), delete, existence, listing, TTLs and waits."""

from __future__ import annotations

from typing import Any

import redis
from robot.api import logger
from robot.api.deco import keyword

from kitcore import Check, KitError, Wait, getter, to_seconds
from RedisKit.context import RedisContext, RedisHandle, translate


class KeyKeywords:
    def __init__(self, ctx: RedisContext) -> None:
        self.ctx = ctx

    # -- helpers ---------------------------------------------------------------------------
    def _missing(self, handle: RedisHandle, key: str) -> KitError:
        return KitError(f"Key '{key}' does not exist in Redis at {handle.where}",
                        fix="check the key name and db=, or wait for it with 'Wait Until Key Exists'")

    # the commands of the query paths translate their errors in place (what ``with self.ctx.call(...)``
    # does, without building its context and its message on every call)
    def _get(self, handle: RedisHandle, key: str) -> str:
        try:
            value = handle.client.get(key)
        except redis.exceptions.RedisError as error:
            raise translate(error, handle, f"GET {key}", key) from None
        if value is None:
            raise self._missing(handle, key)
        return value

    def _exists(self, handle: RedisHandle, key: str) -> bool:
        try:
            return bool(handle.client.exists(key))
        except redis.exceptions.RedisError as error:
            raise translate(error, handle, f"EXISTS {key}", key) from None

    # -- keywords --------------------------------------------------------------------------
    @keyword("Set Value", tags=["keys"])
    def set_value(self, key: str, value: str, ttl: str | float | None = None, only_if_absent: bool = False,
                  cleanup: bool = False, alias: str | None = None) -> bool:
        """Set ``key`` to the text ``value``; ``ttl`` (e.g. ``30s``) makes it expire.

        ``only_if_absent=True`` sets it only when the key does not exist (SET NX) and returns
        whether it was set. ``cleanup=True`` deletes the key at the end of the test (or suite).

        Example:
        | Set Value | agent:k8s-local:connected | true | ttl=5 min | cleanup=True |
        """
        handle = self.ctx.handle(alias)
        px = int(to_seconds(ttl) * 1000) if ttl is not None and ttl != "" else None
        try:
            done = bool(handle.client.set(key, value, px=px, nx=only_if_absent))
        except redis.exceptions.RedisError as error:
            raise translate(error, handle, f"SET {key}", key) from None
        if done and cleanup:
            self.ctx.cleanup.register(f"Redis key '{key}' at {handle.where}",
                                      lambda: handle.client.delete(key), key=f"{handle.where}:{key}")
        return done

    @keyword("Get Value Of Key", tags=["keys", "getter"])
    @getter
    def get_value_of_key(self, key: str, *, check: Check, alias: str | None = None) -> Any:
        """The text value of ``key``; can assert it (see `Assertions`).

        Fails when the key does not exist.

        Example:
        | ${pod} = | Get Value Of Key | agent:k8s-local:pod |
        | Get Value Of Key | agent:k8s-local:pod | == | api-2 | timeout=10s |
        """
        handle = self.ctx.handle(alias)
        return check(lambda: self._get(handle, key), f"Redis key '{key}'")

    @keyword("Delete Keys", tags=["keys"])
    def delete_keys(self, *keys: str, alias: str | None = None) -> int:
        """Delete the given keys; returns how many existed.

        Refused unless the server is allow-listed as a test target (``test_targets=`` or
        ``REDISKIT_TEST_TARGETS``; loopback servers are allowed by default).

        Example:
        | Delete Keys | agent:k8s-local:pod | agent:k8s-local:connected |
        """
        handle = self.ctx.handle(alias)
        self.ctx.check_target(handle, "delete keys on")
        if not keys:
            return 0
        with self.ctx.call(handle, "DEL " + " ".join(keys)):
            removed = int(handle.client.delete(*keys))
        for key in keys:
            self.ctx.cleanup.forget(f"{handle.where}:{key}")
        return removed

    @keyword("Key Should Exist", tags=["keys", "assertion"])
    def key_should_exist(self, key: str, message: str | None = None, alias: str | None = None) -> None:
        """Fail unless ``key`` exists.

        Example:
        | Key Should Exist | agent:k8s-local:connected |
        """
        handle = self.ctx.handle(alias)
        if not self._exists(handle, key):
            raise AssertionError(message or str(self._missing(handle, key)))

    @keyword("Key Should Not Exist", tags=["keys", "assertion"])
    def key_should_not_exist(self, key: str, message: str | None = None, alias: str | None = None) -> None:
        """Fail if ``key`` exists.

        Example:
        | Key Should Not Exist | agent:docker-local:connected |
        """
        handle = self.ctx.handle(alias)
        if self._exists(handle, key):
            raise AssertionError(message or f"Key '{key}' exists in Redis at {handle.where} but should not")

    @keyword("Get Keys", tags=["keys", "getter"])
    @getter
    def get_keys(self, pattern: str = "*", *, check: Check, alias: str | None = None) -> list[str]:
        """The keys matching the glob ``pattern``, sorted (SCAN, never KEYS); can assert.

        Example:
        | ${keys} = | Get Keys | agent:*:pod |
        | Get Keys | agent:*:connected | contains | agent:k8s-local:connected | timeout=5s |
        """
        handle = self.ctx.handle(alias)

        def scan() -> list[str]:
            with self.ctx.call(handle, f"SCAN MATCH {pattern}"):
                return sorted(set(handle.client.scan_iter(match=pattern, count=500)))

        return check(scan, f"Keys matching '{pattern}'")

    @keyword("Get TTL", tags=["keys", "ttl", "getter"])
    @getter
    def get_ttl(self, key: str, *, check: Check, alias: str | None = None) -> float:
        """Seconds before ``key`` expires (millisecond precision); ``-1`` when it never expires; can assert.

        Fails when the key does not exist.

        Example:
        | Get TTL | agent:k8s-local:pod | > | 250 |
        """
        handle = self.ctx.handle(alias)

        def ttl() -> float:
            with self.ctx.call(handle, f"PTTL {key}", key):
                value = int(handle.client.pttl(key))
            if value == -2:
                raise self._missing(handle, key)
            return -1.0 if value == -1 else value / 1000.0

        return check(ttl, f"TTL of Redis key '{key}'")

    @keyword("Set Expiry", tags=["keys", "ttl"])
    def set_expiry(self, key: str, ttl: str | float, alias: str | None = None) -> None:
        """Make ``key`` expire after ``ttl`` (``0`` or less deletes it now); fails if it does not exist.

        Example:
        | Set Expiry | agent:k8s-local:pod | 2s |
        """
        handle = self.ctx.handle(alias)
        with self.ctx.call(handle, f"PEXPIRE {key}", key):
            done = handle.client.pexpire(key, max(int(to_seconds(ttl) * 1000), 0) or 1)
        if not done:
            raise self._missing(handle, key)

    @keyword("Wait Until Value Changes", tags=["keys", "wait"])
    def wait_until_value_changes(self, key: str, from_value: str, timeout: str | float = "10s",
                                 poll: str | float = "0.1s", alias: str | None = None) -> str:
        """Wait until ``key`` holds a value other than ``from_value`` (a missing key or an empty value is
        no value yet); returns the new value.

        Example:
        | ${old} = | Get Value Of Key | agent:k8s-local:pod |
        | ${new} = | Wait Until Value Changes | agent:k8s-local:pod | from_value=${old} | timeout=20s |
        """
        handle = self.ctx.handle(alias)

        def read() -> str | None:
            with self.ctx.call(handle, f"GET {key}", key):
                return handle.client.get(key)

        return self._wait(f"Redis key '{key}' to change from {from_value!r} at {handle.where}",
                          (read, lambda v: v not in (None, "", from_value),
                           lambda v: "key absent" if v is None else f"value {v!r}"), timeout, poll)

    # -- waits -----------------------------------------------------------------------------
    def _wait(self, what: str, probe: Any, timeout: str | float | None, poll: str | float | None) -> Any:
        wait = Wait(what, to_seconds(timeout, 10.0), to_seconds(poll, 0.1))
        outcome = wait.until(probe[0], probe[1], probe[2])
        logger.info(f"{what}: done after {outcome.tries} tries, {outcome.elapsed:.2f} s")
        return outcome.value

    @keyword("Wait Until Key Exists", tags=["keys", "wait"])
    def wait_until_key_exists(self, key: str, timeout: str | float = "10s", poll: str | float = "0.1s",
                              alias: str | None = None) -> None:
        """Wait until ``key`` exists.

        Example:
        | Wait Until Key Exists | agent:k8s-local:connected | timeout=15s |
        """
        handle = self.ctx.handle(alias)
        self._wait(f"Redis key '{key}' to exist at {handle.where}",
                   (lambda: self._exists(handle, key), bool, lambda v: "key absent"), timeout, poll)

    @keyword("Wait Until Key Is Gone", tags=["keys", "wait"])
    def wait_until_key_is_gone(self, key: str, timeout: str | float = "10s", poll: str | float = "0.1s",
                               alias: str | None = None) -> None:
        """Wait until ``key`` no longer exists (deleted or expired).

        Example:
        | Wait Until Key Is Gone | agent:docker-local:connected | timeout=10s |
        """
        handle = self.ctx.handle(alias)
        self._wait(f"Redis key '{key}' to be gone at {handle.where}",
                   (lambda: self._exists(handle, key), lambda v: not v, lambda v: "key still exists"),
                   timeout, poll)

    @keyword("Wait Until Key Has Value", tags=["keys", "wait"])
    def wait_until_key_has_value(self, key: str, value: str, timeout: str | float = "10s",
                                 poll: str | float = "0.1s", alias: str | None = None) -> str:
        """Wait until ``key`` holds exactly ``value``; returns it.

        Example:
        | Wait Until Key Has Value | agent:k8s-local:pod | api-2 | timeout=20s |
        """
        handle = self.ctx.handle(alias)

        def read() -> str | None:
            with self.ctx.call(handle, f"GET {key}", key):
                return handle.client.get(key)

        return self._wait(f"Redis key '{key}' to hold {value!r} at {handle.where}",
                          (read, lambda v: v == value,
                           lambda v: "key absent" if v is None else f"value {v!r}"), timeout, poll)
