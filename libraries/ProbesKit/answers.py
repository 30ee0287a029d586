"""One timed request and what its answer says about "a clear error, not a hang" (pure checks)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests


@dataclass(frozen=True)
class Answer:
    """What came back (``status`` 0 when nothing did) and how long it took."""

    status: int
    seconds: float
    body: Any
    failure: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"status": self.status, "seconds": round(self.seconds, 3), "body": self.body, "failure": self.failure}


def ask(method: str, url: str, token: str | None, budget: float, body: dict[str, Any] | None = None) -> Answer:
    """Send one request with ``budget`` as its timeout; never raises for a network failure."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.monotonic()
    with requests.Session() as http:
        http.trust_env = False
        try:
            response = http.request(method, url, json=body, headers=headers, timeout=budget)
        except requests.Timeout:
            return Answer(0, time.monotonic() - started, None, f"no answer within {budget:g} s")
        except requests.RequestException as error:
            return Answer(0, time.monotonic() - started, None, f"{type(error).__name__}: {error}")
    try:
        parsed: Any = response.json()
    except ValueError:
        parsed = response.text[:200]
    return Answer(response.status_code, time.monotonic() - started, parsed)


def clear_error_problem(answer: Answer, what: str, budget: float) -> str | None:
    """A clear error is a 5xx within ``budget`` whose JSON body names the error and says more."""
    if answer.status == 0:
        return (f"{what} got no answer ({answer.failure}) after {answer.seconds:.3f} s: a client must get a "
                f"clear error within {budget:g} s, not a hang or a dropped connection")
    if answer.seconds > budget:
        return (f"{what} answered {answer.status} only after {answer.seconds:.3f} s, above the {budget:g} s a "
                f"client may wait for a clear error")
    if not 500 <= answer.status < 600:
        return (f"{what} answered {answer.status} where the platform cannot answer truly (it must say 5xx with a "
                f"message): {answer.body!r:.200}")
    body = answer.body if isinstance(answer.body, dict) else {}
    if not str(body.get("error") or "").strip() or not str(body.get("message") or "").strip():
        return (f"{what} answered {answer.status} without a JSON error and message a client could show: "
                f"{answer.body!r:.200}")
    return None
