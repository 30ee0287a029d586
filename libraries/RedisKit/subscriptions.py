"""A pub/sub subscription read by a background thread into a list the keywords search."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import redis


@dataclass
class Message:
    channel: str
    data: str
    pattern: str | None
    received: float
    index: int

    def as_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "pattern": self.pattern, "data": self.data,
                "json": parse_json(self.data), "received": self.received, "index": self.index}


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None


def json_field(document: Any, path: str) -> tuple[bool, Any]:
    """Follow a dotted ``path``; a string that holds JSON (an envelope in an envelope) is entered."""
    current = document
    for part in path.split("."):
        if isinstance(current, str):
            current = parse_json(current)
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current


def same(actual: Any, expected: Any) -> bool:
    if actual == expected:
        return True
    if isinstance(expected, str) and not isinstance(actual, str):
        return json.dumps(actual) == expected or str(actual) == expected
    return False


@dataclass
class MessageFilter:
    channel: str | None = None
    message: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._regex = re.compile(self.message) if self.message else None

    def matches(self, msg: Message) -> bool:
        if self.channel and not (fnmatch.fnmatchcase(msg.channel, self.channel) or msg.pattern == self.channel):
            return False
        if self._regex and not self._regex.search(msg.data):
            return False
        if self.fields:
            document = parse_json(msg.data)
            for path, expected in self.fields.items():
                found, actual = json_field(document, path)
                if not found or not same(actual, expected):
                    return False
        return True

    def describe(self) -> str:
        parts = [f"channel '{self.channel}'" if self.channel else "any channel"]
        if self.message:
            parts.append(f"text matching /{self.message}/")
        if self.fields:
            parts.append("JSON fields " + ", ".join(f"{k}={v!r}" for k, v in self.fields.items()))
        return " with ".join([parts[0], " and ".join(parts[1:])]) if len(parts) > 1 else parts[0]


class Subscription:
    """Channels and patterns of one pub/sub connection, read in a daemon thread."""

    def __init__(self, name: str, client: redis.Redis, where: str) -> None:
        self.name = name
        self.where = where
        self._pubsub = client.pubsub()
        self._confirmed: set[str] = set()
        self._changed = threading.Condition()
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self._consumed: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None
        self.channels: list[str] = []
        self.patterns: list[str] = []

    def start(self, channels: list[str], patterns: list[str], timeout: float = 5.0) -> None:
        """Subscribe and return once the server confirmed every channel and pattern."""
        if channels:
            self._pubsub.subscribe(*channels)
            self.channels += channels
        if patterns:
            self._pubsub.psubscribe(*patterns)
            self.patterns += patterns
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"RedisKit-sub-{self.name}", daemon=True)
            self._thread.start()
        wanted = set(channels) | set(patterns)
        with self._changed:
            if not self._changed.wait_for(lambda: wanted <= self._confirmed or self.error is not None, timeout):
                missing = ", ".join(sorted(wanted - self._confirmed))
                raise TimeoutError(f"the server did not confirm the subscription to {missing} within {timeout:g} s")
        if self.error:
            raise ConnectionError(self.error)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self._pubsub.get_message(timeout=0.1)
            except Exception as error:  # noqa: BLE001 - remembered and reported by the keywords
                if not self._stop.is_set():
                    with self._changed:
                        self.error = f"{type(error).__name__}: {error}"
                        self._changed.notify_all()
                self._stop.wait(0.2)
                continue
            if self.error is not None:
                self.error = None  # the client reconnected and subscribed again
            kind = raw.get("type") if raw else None
            if kind in ("subscribe", "psubscribe"):
                with self._changed:
                    self._confirmed.add(str(raw["channel"]))
                    self._changed.notify_all()
            elif kind in ("unsubscribe", "punsubscribe"):
                with self._changed:
                    self._confirmed.discard(str(raw["channel"]))
            elif raw and kind in ("message", "pmessage"):
                with self._lock:
                    self._messages.append(Message(str(raw["channel"]), str(raw["data"]), raw.get("pattern"),
                                                  time.time(), len(self._messages)))

    def messages(self, flt: MessageFilter | None = None) -> list[Message]:
        with self._lock:
            found = list(self._messages)
        return [m for m in found if flt is None or flt.matches(m)]

    def take(self, flt: MessageFilter) -> Message | None:
        """The first matching message not yet returned by a wait; marks it as taken."""
        with self._lock:
            for msg in self._messages:
                if msg.index not in self._consumed and flt.matches(msg):
                    self._consumed.add(msg.index)
                    return msg
        return None

    def unsubscribe(self, channels: list[str], patterns: list[str]) -> None:
        if channels:
            self._pubsub.unsubscribe(*channels)
            self.channels = [c for c in self.channels if c not in channels]
        if patterns:
            self._pubsub.punsubscribe(*patterns)
            self.patterns = [p for p in self.patterns if p not in patterns]

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        with contextlib.suppress(Exception):  # closing must never fail a teardown
            self._pubsub.close()
