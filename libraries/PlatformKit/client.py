"""One platform connection: the API replicas, the logged-in users, and compact HTTP calls.

Every call has a timeout, is logged in one line (method, replica, acting user, status,
time, body cut to a few hundred characters) and never shows a token or a password.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from robot.api import logger

from kitcore import KitError

BODY_LIMIT = 300
SECRET_FIELDS = ("password", "token", "apiKey", "jwtSecret", "agentKey")
STATUS_TEXT = {
    400: "the request was refused as malformed",
    401: "the platform did not accept the credentials or the token",
    403: "the acting user is not allowed to do this (ownership, role or quota)",
    404: "it does not exist",
    409: "it is in a state that does not allow this",
    429: "the platform is rate-limiting requests",
    500: "the platform failed internally",
    503: "the platform cannot serve this right now",
}


@dataclass
class Replica:
    """One API replica: a name (``api-1``) and its base URL (``http://host:port``)."""

    name: str
    url: str


@dataclass
class Response:
    """What a call answered: status, parsed JSON body (or text), which replica and user."""

    status: int
    body: Any
    replica: Replica
    user: str | None
    elapsed: float

    @property
    def error(self) -> str:
        if isinstance(self.body, dict):
            short = self.body.get("error") or ""
            long = self.body.get("message") or ""
            return f"{short} ({long})" if short and long else short or long or json.dumps(self.body)
        return str(self.body)[:BODY_LIMIT]


def _strip(url: str) -> str:
    url = url.strip().rstrip("/")
    if url.endswith("/api/v1"):
        url = url[: -len("/api/v1")]
    return url


def parse_replicas(urls: Any, names: Sequence[str] | str | None = None) -> list[Replica]:
    """Accept one URL, a comma-separated string, a list of URLs, or topology entries {name, url}."""
    if isinstance(urls, str):
        items: list[Any] = [u for u in urls.split(",") if u.strip()]
    elif isinstance(urls, dict):
        items = [urls]
    elif isinstance(urls, Iterable):
        items = list(urls)
    else:
        items = []
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    replicas: list[Replica] = []
    for index, item in enumerate(items, start=1):
        if isinstance(item, dict):
            url = item.get("url")
            name = item.get("name") or f"api-{index}"
        else:
            url, name = str(item), f"api-{index}"
        if names and index <= len(names):
            name = names[index - 1]
        if not url or not str(url).strip().startswith(("http://", "https://")):
            raise KitError(
                f"'{url}' is not an API URL",
                cause="each API replica must be given as http(s)://host:port",
                fix="pass the replicas' URLs, e.g. http://127.0.0.1:8000, or the topology's api list",
            )
        replicas.append(Replica(str(name), _strip(str(url))))
    if not replicas:
        raise KitError(
            "No API URL given to 'Connect To Platform'",
            fix="pass one URL, several (a list or comma-separated), or the topology's api list",
        )
    return replicas


def cut(text: str, limit: int = BODY_LIMIT) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} chars)"


def masked(value: Any) -> Any:
    """A copy of a JSON body with secret fields replaced by ``***``."""
    if isinstance(value, dict):
        return {k: ("***" if k in SECRET_FIELDS and v else masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


@dataclass
class Platform:
    """The state behind one ``Connect To Platform``."""

    replicas: list[Replica]
    timeout: float = 10.0
    round_robin: bool = False
    verify: bool = True
    alias: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    acting: str | None = None
    default: int = 0
    http: requests.Session = field(default_factory=requests.Session)

    def __post_init__(self) -> None:
        self._cycle = itertools.cycle(range(len(self.replicas)))

    # -- replicas --------------------------------------------------------------------------
    def replica(self, which: Any = None) -> Replica:
        """Resolve ``which`` (name, 1-based index, URL or None) to a replica."""
        if which is None or which == "":
            if self.round_robin:
                return self.replicas[next(self._cycle)]
            return self.replicas[self.default]
        if isinstance(which, Replica):
            return which
        text = str(which).strip()
        for replica in self.replicas:
            if text == replica.name:
                return replica
        if text.isdigit():
            index = int(text)
            if 1 <= index <= len(self.replicas):
                return self.replicas[index - 1]
        if text.startswith(("http://", "https://")):
            url = _strip(text)
            for replica in self.replicas:
                if replica.url == url:
                    return replica
            return Replica(urlsplit(url).netloc, url)
        known = ", ".join(f"{i}={r.name}" for i, r in enumerate(self.replicas, start=1))
        raise KitError(
            f"No API replica '{which}'",
            cause=f"this connection knows {known}",
            fix="pass replica= a known name, a 1-based index or a full URL",
        )

    def use(self, which: Any) -> Replica:
        replica = self.replica(which)
        if replica not in self.replicas:
            self.replicas.append(replica)
        self.default = self.replicas.index(replica)
        return replica

    # -- users -----------------------------------------------------------------------------
    def token_for(self, user: str | None) -> tuple[str | None, str | None]:
        name = user or self.acting
        if name is None:
            return None, None
        if name not in self.tokens:
            raise KitError(
                f"User '{name}' is not logged in on this platform connection",
                cause=f"logged in: {', '.join(self.tokens) or 'nobody'}",
                fix=f"call 'Log In As  {name}  <password>' first",
            )
        return name, self.tokens[name]

    # -- HTTP ------------------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        *,
        replica: Any = None,
        user: str | None = None,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        anonymous: bool = False,
        timeout: float | None = None,
    ) -> Response:
        target = self.replica(replica)
        name, token = (None, None) if anonymous else self.token_for(user)
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        query = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        url = f"{target.url}{path}"
        started = time.monotonic()
        try:
            answer = self.http.request(
                method, url, json=json_body, params=query or None, headers=headers,
                timeout=timeout or self.timeout, verify=self.verify,
            )
        except requests.Timeout:
            raise KitError(
                f"{method} {path} on API replica {target.name} ({target.url}) timed out",
                cause=f"no answer within {timeout or self.timeout:g} s",
                fix="check that the replica runs and is not cut off, or target another with replica=",
            ) from None
        except requests.ConnectionError as error:
            raise KitError(
                f"{method} {path} on API replica {target.name} ({target.url}) could not connect",
                cause=_first_line(error),
                fix="check that the replica runs, or target another with replica=",
            ) from None
        elapsed = time.monotonic() - started
        try:
            body: Any = answer.json() if answer.content else None
        except ValueError:
            body = answer.text
        response = Response(answer.status_code, body, target, name, elapsed)
        self._log(method, path, query, json_body, response)
        return response

    def _log(self, method: str, path: str, query: dict[str, Any], sent: Any, response: Response) -> None:
        who = f" as {response.user}" if response.user else ""
        line = f"{method} {response.replica.name}{path}"
        if query:
            line += "?" + "&".join(f"{k}={v}" for k, v in query.items())
        line += f"{who} -> {response.status} ({response.elapsed * 1000:.0f} ms)"
        if sent is not None:
            line += f"\n  sent: {cut(json.dumps(masked(sent)))}"
        if response.body not in (None, ""):
            shown = json.dumps(masked(response.body)) if not isinstance(response.body, str) else response.body
            line += f"\n  got:  {cut(shown)}"
        logger.info(line)


def _first_line(error: Exception) -> str:
    text = str(error)
    reason = text.split("Caused by ")[-1] if "Caused by " in text else text
    return cut(reason.strip("()"), 200)


def fail(what: str, response: Response, fix: str = "") -> KitError:
    """A KitError for an unexpected status, naming the replica, user and the platform's words."""
    reason = STATUS_TEXT.get(response.status, "unexpected answer")
    who = f" as {response.user}" if response.user else ""
    cause = f"{response.replica.name} answered {response.status}{who}: {response.error} — {reason}"
    return KitError(what, cause=cause, fix=fix or _default_fix(response.status))


def _default_fix(status: int) -> str:
    return {
        401: "log in again with 'Log In As' (a token may have expired or the password is wrong)",
        403: "act as the owner or an admin ('As User'), or raise the quota ('Set User Quota')",
        404: "check the name (session names are <user>-<template>-<8 hex>; templates: 'Get Templates')",
        409: "wait for the right state first ('Wait Until Session Is')",
        503: "check that an agent for that platform is online ('Get Agents  status=online')",
    }.get(status, "see the platform's logs for the cause")
