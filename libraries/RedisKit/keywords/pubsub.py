"""Pub/sub: subscribe in the background, publish, wait for and count received messages."""

from __future__ import annotations

import json
from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from kitcore import Check, KitError, Wait, getter, to_seconds
from RedisKit.context import RedisContext
from RedisKit.subscriptions import MessageFilter, Subscription


class PubSubKeywords:
    def __init__(self, ctx: RedisContext) -> None:
        self.ctx = ctx

    def _subscription(self, name: str | None) -> Subscription:
        chosen = name or self.ctx.last_subscription
        if chosen is None or chosen not in self.ctx.subscriptions:
            known = ", ".join(self.ctx.subscriptions) or "none"
            raise KitError(f"No Redis subscription named '{chosen}'" if chosen else "No Redis subscription is open",
                           f"open ones: {known}", "call 'Subscribe To Channels' or 'Subscribe To Patterns' first")
        return self.ctx.subscriptions[chosen]

    def _subscribe(self, channels: list[str], patterns: list[str], subscription: str | None,
                   alias: str | None) -> str:
        handle = self.ctx.handle(alias)
        name = subscription or f"subscription-{len(self.ctx.subscriptions) + 1}"
        sub = self.ctx.subscriptions.get(name)
        what = "SUBSCRIBE " + " ".join(channels + patterns)
        if sub is None:
            sub = Subscription(name, handle.client, handle.where)
        with self.ctx.call(handle, what):
            try:
                sub.start(channels, patterns, timeout=max(handle.socket_timeout, 1.0))
            except (TimeoutError, ConnectionError) as error:
                sub.stop()
                raise KitError(f"{what} failed on Redis at {handle.where}", handle.mask(str(error)),
                               subscribe_fix(str(error))) from None
        if name not in self.ctx.subscriptions:
            self.ctx.subscriptions[name] = sub
            handle.subscriptions.append(sub)
            self.ctx.cleanup.register(f"Redis subscription '{name}'", lambda: self._drop(name),
                                      key=f"subscription:{name}")
        self.ctx.last_subscription = name
        logger.info(f"Subscription '{name}' listens to {', '.join(channels + patterns)} at {handle.where}")
        return name

    def _drop(self, name: str) -> None:
        sub = self.ctx.subscriptions.pop(name, None)
        if sub is None:
            return
        sub.stop()
        for handle in self.ctx.connections.all():
            if sub in handle.subscriptions:
                handle.subscriptions.remove(sub)
        if self.ctx.last_subscription == name:
            self.ctx.last_subscription = next(reversed(self.ctx.subscriptions), None)

    @keyword("Subscribe To Channels", tags=["pubsub"])
    def subscribe_to_channels(self, *channels: str, subscription: str | None = None,
                              alias: str | None = None) -> str:
        """Listen to ``channels`` in the background; returns the subscription's name.

        Messages are collected from now on; the keyword returns once the server confirmed the
        subscription, so a message published afterwards is never missed. Giving an existing
        ``subscription`` name adds channels to it. It is closed at the end of the test or suite.

        Example:
        | Subscribe To Channels | pod:api-1:commands | pod:api-2:commands | subscription=hub |
        """
        if not channels:
            raise KitError("Subscribe To Channels needs at least one channel", fix="name the channels")
        return self._subscribe(list(channels), [], subscription, alias)

    @keyword("Subscribe To Patterns", tags=["pubsub"])
    def subscribe_to_patterns(self, *patterns: str, subscription: str | None = None,
                              alias: str | None = None) -> str:
        """Listen to every channel matching the glob ``patterns``; returns the subscription's name.

        Example:
        | Subscribe To Patterns | pod:*:commands | subscription=hub |
        """
        if not patterns:
            raise KitError("Subscribe To Patterns needs at least one pattern", fix="give a pattern like pod:*")
        return self._subscribe([], list(patterns), subscription, alias)

    @keyword("Unsubscribe", tags=["pubsub"])
    def unsubscribe(self, subscription: str | None = None) -> None:
        """Stop the subscription (the latest one when no name is given) and forget its messages.

        Example:
        | Unsubscribe | hub |
        """
        sub = self._subscription(subscription)
        self._drop(sub.name)
        self.ctx.cleanup.forget(f"subscription:{sub.name}")

    @keyword("Publish Message", tags=["pubsub"])
    def publish_message(self, channel: str, message: Any, alias: str | None = None) -> int:
        """Publish ``message`` on ``channel`` (a dictionary or list is sent as JSON); returns receivers.

        Example:
        | Publish Message | pod:api-1:commands | {"agentId": "k8s-local", "message": "{}"} |
        """
        handle = self.ctx.handle(alias)
        text = json.dumps(message) if isinstance(message, (dict, list)) else str(message)
        with self.ctx.call(handle, f"PUBLISH {channel}"):
            return int(handle.client.publish(channel, text))

    @keyword("Wait Until Message Received", tags=["pubsub", "wait"])
    def wait_until_message_received(self, channel: str | None = None, text: str | None = None,
                                    timeout: str | float = "10s", poll: str | float = "0.05s",
                                    subscription: str | None = None, **fields: Any) -> dict[str, Any]:
        """Wait for a message on ``channel`` (a name or glob) whose text matches the regex ``text``
        and whose JSON has the given ``fields``; returns it as a dictionary
        (``channel``, ``pattern``, ``data``, ``json``, ``received``).

        Field names are dotted paths; a string holding JSON is entered, so the agent hub's envelope
        inside an envelope can be matched with ``message.type=command``. Messages received before
        the wait count too, but each message is returned by one wait only.

        Example:
        | ${msg} = | Wait Until Message Received | pod:api-2:commands | agentId=k8s-local |
        | ... | message.payload.action=stop_session | timeout=10s |
        """
        sub = self._subscription(subscription)
        flt = MessageFilter(channel, text, dict(fields))

        def probe() -> Any:
            if sub.error:
                raise ConnectionError(sub.error)
            return sub.take(flt)

        def seen(_: Any) -> str:
            recent = sub.messages()[-3:]
            shown = "; ".join(f"{m.channel}: {m.data[:120]}" for m in recent) or "no message at all"
            return f"{len(sub.messages())} messages, none matching; latest: {shown}"

        wait = Wait(f"a message on {flt.describe()} in subscription '{sub.name}'", to_seconds(timeout, 10.0),
                    to_seconds(poll, 0.05))
        outcome = wait.until(probe, lambda m: m is not None, seen)
        found = outcome.value.as_dict()
        logger.info(f"Received on {found['channel']} after {outcome.elapsed:.2f} s: {found['data'][:500]}")
        return found

    @keyword("Get Received Messages", tags=["pubsub", "getter"])
    def get_received_messages(self, channel: str | None = None, text: str | None = None,
                              subscription: str | None = None, **fields: Any) -> list[dict[str, Any]]:
        """Every message the subscription received so far, optionally filtered like
        `Wait Until Message Received`.

        Example:
        | @{messages} = | Get Received Messages | pod:api-1:commands | agentId=k8s-local |
        """
        sub = self._subscription(subscription)
        return [m.as_dict() for m in sub.messages(MessageFilter(channel, text, dict(fields)))]

    @keyword("Get Received Message Count", tags=["pubsub", "getter"])
    @getter
    def get_received_message_count(self, channel: str | None = None, *, check: Check, text: str | None = None,
                                   fields: dict[str, Any] | None = None, subscription: str | None = None) -> int:
        """How many received messages match ``channel``, ``text`` (regex) and ``fields`` (a
        dictionary of dotted JSON paths); can assert.

        Example:
        | Get Received Message Count | pod:*:commands | == | 3 | timeout=5s |
        | Get Received Message Count | pod:*:commands | >= | 1 | fields=${{{'agentId': 'k8s-local'}}} |
        """
        sub = self._subscription(subscription)
        flt = MessageFilter(channel, text, dict(fields or {}))
        return check(lambda: len(sub.messages(flt)), f"Messages on {flt.describe()}")


def subscribe_fix(error: str) -> str:
    """The fix for a failed SUBSCRIBE, by what the server answered."""
    text = error.lower()
    if "noperm" in text or "permission" in text or "no permissions" in text:
        return ("the user lacks the permission: grant it the channels and the subscribe commands "
                "(ACL SETUSER <user> &<channel> +subscribe +psubscribe) or connect as a user who has them")
    if "noauth" in text or "authentication" in text or "wrongpass" in text:
        return "pass the right username= and password= to 'Connect To Redis Server'"
    if "did not confirm" in text:
        return "the server is slow or paused (CLIENT PAUSE, DEBUG SLEEP); raise the socket timeout or check the server"
    return "check that the server is up and answering"
