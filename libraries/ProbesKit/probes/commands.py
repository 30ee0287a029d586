"""Command delivery: commands issued vs completed -- lost (RPO) and duplicated operations.

Completions come from either
- a callable returning every completion seen so far (command ids, or dicts with ``commandId``),
  e.g. an agent's execution log: an id appearing twice there is a duplicate; or
- REST polling: a command issued with ``session`` and ``expect`` completes when
  ``GET /api/v1/sessions/<session>`` shows state ``expect``.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests

from kitcore.stats import percentile
from ProbesKit.probes.base import Probe, first_answer

CompletionSource = Callable[[], Iterable[Any]]


@dataclass
class Issued:
    command_id: str
    at: float
    session: str | None = None
    expect: str | None = None
    completed_at: float | None = None


class CommandDeliveryProbe(Probe):
    kind = "command-delivery"

    def __init__(self, name: str, source: CompletionSource | None = None, api_urls: list[str] | None = None,
                 token: str | None = None, interval: float = 0.2, timeout: float = 2.0,
                 max_duration: float = 600.0) -> None:
        super().__init__(name, interval, max_duration)
        if source is None and not api_urls:
            raise ValueError("give a completion source (a callable) or the API URLs to poll sessions through")
        self.source = source
        self.api_urls = [u.rstrip("/") for u in api_urls or []]
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.issued: dict[str, Issued] = {}
        self.completions: Counter[str] = Counter()
        self._http = requests.Session()
        self._http.trust_env = False

    # -- input --------------------------------------------------------------------------
    def record_issued(self, command_id: str, session: str | None = None, expect: str | None = None) -> None:
        if self.source is None and not (session and expect):
            raise ValueError("without a completion source, each command needs session= and expect= (a state)")
        with self._lock:
            self.issued.setdefault(str(command_id), Issued(str(command_id), self.now(), session, expect))

    # -- polling ------------------------------------------------------------------------
    def tick(self) -> None:
        if self.source is not None:
            self._poll_source()
        else:
            self._poll_sessions()

    def _poll_source(self) -> None:
        assert self.source is not None
        counts = Counter(_command_id(c) for c in self.source())
        now = self.now()
        with self._lock:
            self.completions = counts
            for command_id, issued in self.issued.items():
                if issued.completed_at is None and counts.get(command_id):
                    issued.completed_at = now

    def _poll_sessions(self) -> None:
        with self._lock:
            pending = [i for i in self.issued.values() if i.completed_at is None]
        for issued in pending:
            state = self._session_state(str(issued.session))
            if state == issued.expect:
                with self._lock:
                    issued.completed_at = self.now()
                    self.completions[issued.command_id] = 1

    def _session_state(self, session: str) -> str | None:
        response = first_answer(self._http, self.api_urls, f"/api/v1/sessions/{session}", self._headers,
                                self.timeout, skip=lambda answer: answer.status_code != 200)
        return None if response is None else str(response.json().get("state"))

    def pending(self) -> int:
        with self._lock:
            return sum(1 for i in self.issued.values() if i.completed_at is None)

    def settle(self, budget: float) -> None:
        """Keep polling (in the caller's thread, the loop being stopped) until nothing is
        pending or ``budget`` seconds passed: late completions are delivered, not lost."""
        deadline = time.monotonic() + budget
        while self.pending() and time.monotonic() < deadline:
            try:
                self.tick()
            except Exception as error:  # noqa: BLE001 - reported with the figures
                with self._lock:
                    self.probe_errors.append(f"{type(error).__name__}: {error}")
            time.sleep(min(self.interval, max(0.0, deadline - time.monotonic())))

    def teardown(self) -> None:
        self._http.close()

    def figures(self) -> dict[str, Any]:
        with self._lock:
            issued = list(self.issued.values())
            completions = Counter(self.completions)
        issued_ids = {i.command_id for i in issued}
        lost = sorted(i.command_id for i in issued if i.completed_at is None)
        duplicates = sorted(c for c, n in completions.items() if n > 1 and c in issued_ids)
        unexpected = sorted(c for c in completions if c not in issued_ids)
        delays = [i.completed_at - i.at for i in issued if i.completed_at is not None]
        return {
            "issued": len(issued),
            "completed": len(issued) - len(lost),
            "lost": len(lost),
            "rpo": len(lost),
            "lost_ids": lost[:50],
            "duplicates": len(duplicates),
            "duplicate_ids": duplicates[:50],
            "unexpected": len(unexpected),
            "delivery_p50": round(percentile(delays, 50), 3),
            "delivery_max": round(max(delays, default=0.0), 3),
        }


def _command_id(completion: Any) -> str:
    if isinstance(completion, dict):
        return str(completion.get("commandId") or completion.get("command_id") or completion.get("id"))
    return str(completion)
