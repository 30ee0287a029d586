"""Session-state stability: poll sessions through the REST API; report any that left ``running``."""

from __future__ import annotations

from typing import Any

import requests

from ProbesKit.probes.base import Probe, first_answer

STEADY = "running"


class SessionStateProbe(Probe):
    """Polls ``GET /api/v1/sessions/<name>`` for each session, through the first API URL that
    answers (so losing one replica is not mistaken for a session change), starting with the one
    that answered last."""

    kind = "session-state"

    def __init__(self, name: str, api_urls: list[str], sessions: list[str], token: str | None,
                 interval: float = 0.5, timeout: float = 2.0, max_duration: float = 600.0,
                 steady: str = STEADY) -> None:
        super().__init__(name, interval, max_duration)
        self.api_urls = [u.rstrip("/") for u in api_urls]
        self.sessions = list(sessions)
        self.timeout = timeout
        self.steady = steady
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.history: dict[str, list[tuple[float, str]]] = {s: [] for s in self.sessions}
        self.unreachable = 0
        self.polls = 0
        self._answered: dict[str, float] = {}
        self._preferred = 0
        self._widest: dict[str, float] = {}
        self._http = requests.Session()
        self._http.trust_env = False

    def _state(self, session: str) -> str | None:
        """The session's state; ``missing`` for 404; None if no API replica answered."""
        start = self._preferred
        urls = self.api_urls[start:] + self.api_urls[:start]
        response = first_answer(self._http, urls, f"/api/v1/sessions/{session}", self._headers,
                                self.timeout, skip=lambda answer: answer.status_code >= 500)
        if response is None:
            return None
        self._prefer(response.url)
        if response.status_code == 404:
            return "missing"
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        return str(response.json().get("state", "unknown"))

    def _prefer(self, answered: str) -> None:
        """Ask first the replica that answered last: one that hangs or fails is not waited for at
        every read (that would coarsen the probe's resolution to its timeout)."""
        for index, url in enumerate(self.api_urls):
            if answered.startswith(url + "/"):
                self._preferred = index
                return

    def tick(self) -> None:
        for session in self.sessions:
            when = self.now()
            state = self._state(session)
            with self._lock:
                self.polls += 1
                if state is None:
                    self.unreachable += 1
                    continue
                if session in self._answered:
                    self._widest[session] = max(self._widest.get(session, 0.0), when - self._answered[session])
                self._answered[session] = when
                seen = self.history[session]
                if not seen or seen[-1][1] != state:
                    seen.append((when, state))

    def teardown(self) -> None:
        self._http.close()

    def figures(self) -> dict[str, Any]:
        with self._lock:
            history = {k: list(v) for k, v in self.history.items()}
            polls, unreachable = self.polls, self.unreachable
            resolution = max(self._widest.values(), default=0.0)
        sessions = {}
        left = []
        for session, seen in history.items():
            off = [(t, s) for t, s in seen if s != self.steady]
            if off:
                left.append(session)
            sessions[session] = {
                "states": [s for _, s in seen],
                "changes": [{"at": self.wall(t), "state": s} for t, s in seen],
                "left_steady": bool(off),
                "first_left_at": self.wall(off[0][0]) if off else None,
                "final": seen[-1][1] if seen else None,
            }
        return {"sessions_watched": len(history), "polls": polls, "unreachable": unreachable,
                "resolution": round(resolution, 3),
                "steady_state": self.steady, "left_steady": left, "left_count": len(left), "sessions": sessions}
