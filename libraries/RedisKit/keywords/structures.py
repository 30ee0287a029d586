"""Hashes, sets and lists: write, and read with assertable getters."""

from __future__ import annotations

import redis
from robot.api.deco import keyword

from kitcore import Check, KitError, getter
from RedisKit.context import RedisContext, RedisHandle, translate


class StructureKeywords:
    def __init__(self, ctx: RedisContext) -> None:
        self.ctx = ctx

    def _track(self, handle: RedisHandle, key: str, cleanup: bool) -> None:
        if cleanup:
            self.ctx.cleanup.register(f"Redis key '{key}' at {handle.where}",
                                      lambda: handle.client.delete(key), key=f"{handle.where}:{key}")

    def _need(self, handle: RedisHandle, key: str, found: object) -> None:
        if not found:
            with self.ctx.call(handle, f"EXISTS {key}", key):
                exists = handle.client.exists(key)
            if not exists:
                raise KitError(f"Key '{key}' does not exist in Redis at {handle.where}",
                               fix="check the key name and db=, or wait for it with 'Wait Until Key Exists'")

    # -- hashes ----------------------------------------------------------------------------
    @keyword("Set Hash Fields", tags=["hashes"])
    def set_hash_fields(self, key: str, cleanup: bool = False, alias: str | None = None, **fields: str) -> int:
        """Set fields of the hash ``key`` (``name=value`` pairs); returns how many were new.

        Example:
        | Set Hash Fields | session:alice-1 | state=running | agent=k8s-local |
        """
        handle = self.ctx.handle(alias)
        if not fields:
            raise KitError("Set Hash Fields needs at least one field", fix="give fields as name=value")
        with self.ctx.call(handle, f"HSET {key}", key):
            added = int(handle.client.hset(key, mapping={k: str(v) for k, v in fields.items()}))
        self._track(handle, key, cleanup)
        return added

    @keyword("Get Hash", tags=["hashes", "getter"])
    @getter
    def get_hash(self, key: str, *, check: Check, alias: str | None = None) -> dict[str, str]:
        """Every field of the hash ``key`` as a dictionary; fails when the key does not exist; can assert.

        Example:
        | ${fields} = | Get Hash | session:alice-1 |
        """
        handle = self.ctx.handle(alias)

        def read() -> dict[str, str]:
            try:  # what ``with self.ctx.call(...)`` does, without building its context on every call
                value = dict(handle.client.hgetall(key))
            except redis.exceptions.RedisError as error:
                raise translate(error, handle, f"HGETALL {key}", key) from None
            self._need(handle, key, value)
            return value

        return check(read, f"Redis hash '{key}'")

    @keyword("Get Hash Field", tags=["hashes", "getter"])
    @getter
    def get_hash_field(self, key: str, field: str, *, check: Check, alias: str | None = None) -> str:
        """One field of the hash ``key``; fails when the key or the field does not exist; can assert.

        Example:
        | Get Hash Field | session:alice-1 | state | == | running | timeout=5s |
        """
        handle = self.ctx.handle(alias)

        def read() -> str:
            try:  # what ``with self.ctx.call(...)`` does, without building its context on every call
                value = handle.client.hget(key, field)
            except redis.exceptions.RedisError as error:
                raise translate(error, handle, f"HGET {key} {field}", key) from None
            if value is None:
                self._need(handle, key, None)
                raise KitError(f"Hash '{key}' has no field '{field}'", fix="check the field name")
            return value

        return check(read, f"Field '{field}' of hash '{key}'")

    # -- sets ------------------------------------------------------------------------------
    @keyword("Add To Set", tags=["sets"])
    def add_to_set(self, key: str, *members: str, cleanup: bool = False, alias: str | None = None) -> int:
        """Add members to the set ``key``; returns how many were new.

        Example:
        | Add To Set | online-agents | k8s-local | docker-local |
        """
        handle = self.ctx.handle(alias)
        if not members:
            return 0
        with self.ctx.call(handle, f"SADD {key}", key):
            added = int(handle.client.sadd(key, *members))
        self._track(handle, key, cleanup)
        return added

    @keyword("Remove From Set", tags=["sets"])
    def remove_from_set(self, key: str, *members: str, alias: str | None = None) -> int:
        """Remove members from the set ``key``; returns how many were there.

        Refused unless the server is allow-listed as a test target, like `Delete Keys`.

        Example:
        | Remove From Set | online-agents | docker-local |
        """
        handle = self.ctx.handle(alias)
        self.ctx.check_target(handle, "remove set members on")
        if not members:
            return 0
        with self.ctx.call(handle, f"SREM {key}", key):
            return int(handle.client.srem(key, *members))

    @keyword("Get Set Members", tags=["sets", "getter"])
    @getter
    def get_set_members(self, key: str, *, check: Check, alias: str | None = None) -> list[str]:
        """The members of the set ``key``, sorted (empty when the key does not exist); can assert.

        Example:
        | Get Set Members | online-agents | contains | k8s-local |
        """
        handle = self.ctx.handle(alias)

        def read() -> list[str]:
            with self.ctx.call(handle, f"SMEMBERS {key}", key):
                return sorted(handle.client.smembers(key))

        return check(read, f"Redis set '{key}'")

    # -- lists -----------------------------------------------------------------------------
    @keyword("Push To List", tags=["lists"])
    def push_to_list(self, key: str, *values: str, left: bool = False, cleanup: bool = False,
                     alias: str | None = None) -> int:
        """Append values to the list ``key`` (``left=True`` prepends); returns the new length.

        Example:
        | Push To List | queue:commands | cmd-0001 | cmd-0002 |
        """
        handle = self.ctx.handle(alias)
        if not values:
            raise KitError("Push To List needs at least one value", fix="give the values after the key")
        with self.ctx.call(handle, f"{'LPUSH' if left else 'RPUSH'} {key}", key):
            length = int((handle.client.lpush if left else handle.client.rpush)(key, *values))
        self._track(handle, key, cleanup)
        return length

    @keyword("Get List", tags=["lists", "getter"])
    @getter
    def get_list(self, key: str, *, check: Check, alias: str | None = None) -> list[str]:
        """Every item of the list ``key`` in order (empty when the key does not exist); can assert.

        Example:
        | Get List | queue:commands | == | ${expected} |
        """
        handle = self.ctx.handle(alias)

        def read() -> list[str]:
            with self.ctx.call(handle, f"LRANGE {key}", key):
                return list(handle.client.lrange(key, 0, -1))

        return check(read, f"Redis list '{key}'")

    @keyword("Get List Length", tags=["lists", "getter"])
    @getter
    def get_list_length(self, key: str, *, check: Check, alias: str | None = None) -> int:
        """The length of the list ``key`` (0 when the key does not exist); can assert.

        Example:
        | Get List Length | queue:commands | >= | 2 | timeout=5s |
        """
        handle = self.ctx.handle(alias)

        def read() -> int:
            with self.ctx.call(handle, f"LLEN {key}", key):
                return int(handle.client.llen(key))

        return check(read, f"Length of Redis list '{key}'")
