"""Keep watching, and check what the probes saw against the promises of a fault."""

from __future__ import annotations

import time
from typing import Any

from robot.api import logger
from robot.api.deco import keyword
from robot.api.types import Secret

from kitcore import KitError, SecretLike, Wait, WaitTimeout, reveal, to_seconds
from ProbesKit import verdicts
from ProbesKit.answers import Answer, ask, clear_error_problem
from ProbesKit.registry import ProbeRegistry


def _fail(problem: str | None) -> None:
    if problem is not None:
        raise AssertionError(problem)


def _plain(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """A request body with every ``Secret`` value revealed (it is sent, never logged)."""
    return None if body is None else {k: reveal(v) if isinstance(v, Secret) else v for k, v in body.items()}


class VerdictKeywords:
    def __init__(self, registry: ProbeRegistry) -> None:
        self.registry = registry

    @keyword("Keep Probes Watching For")
    def keep_probes_watching_for(self, duration: str, *names: str) -> float:
        """Let the named probes (every running probe when none is named) observe ``duration``
        longer -- the settle time after a recovery, during which a relapse is still caught.
        Fails when a probe stopped by itself before (its ``max_duration`` ran out). Returns the
        moment the settle time ended (on the clock of ``Start A Stopwatch``).

        Example:
        | ${until} = | Keep Probes Watching For | 3s | availability | sessions |
        """
        seconds = to_seconds(duration)
        probes = [self.registry.get(name) for name in names or self.registry.names()]
        deadline = time.monotonic() + seconds
        stopped = [p.name for p in probes if not p.keep_running(max(0.0, deadline - time.monotonic()))]
        if stopped:
            raise AssertionError(f"probe(s) {', '.join(stopped)} stopped by themselves before the settle time of "
                                 f"{seconds:g} s was over (max_duration too short?): the recovery was not watched")
        logger.info(f"{len(probes)} probe(s) watched {seconds:g} s more")
        return time.monotonic()

    @keyword("Probe Should Have Watched")
    def probe_should_have_watched(self, report: dict[str, Any], since: float, until: float) -> None:
        """Fail unless the probe of ``report`` ran from before ``since`` until ``until`` at least
        (stopwatch values: ``Start A Stopwatch``), i.e. through the whole fault and recovery.

        Example:
        | Probe Should Have Watched | ${report} | ${fault_at} | ${settled_at} |
        """
        _fail(verdicts.watch_problem(report, float(since), float(until)))

    @keyword("Replica Should Have Kept Answering")
    def replica_should_have_kept_answering(self, report: dict[str, Any], url: str, label: str = "API replica") -> None:
        """Fail when any availability check of the replica at ``url`` failed (a replica the fault
        did not touch must answer throughout, not merely while another one does).

        Example:
        | Replica Should Have Kept Answering | ${report} | http://127.0.9.2:8001 | label=api-2 |
        """
        _fail(self._checked(lambda: verdicts.kept_answering_problem(report, url, label)))

    @keyword("Replica Outage Should Be At Most")
    def replica_outage_should_be_at_most(self, report: dict[str, Any], url: str, limit: float,
                                         label: str = "API replica") -> float:
        """Fail when the replica at ``url`` was out of service longer than ``limit`` seconds at once,
        or had not come back when the probe stopped; returns its longest outage (seconds).

        Example:
        | ${outage} = | Replica Outage Should Be At Most | ${report} | ${url} | 10 | label=api-1 |
        """
        _fail(self._checked(lambda: verdicts.outage_problem(report, url, label, float(limit))))
        return float(verdicts.replica_report(report, url)["longest_downtime"])

    @keyword("Service Downtime Should Be At Most")
    def service_downtime_should_be_at_most(self, report: dict[str, Any], limit: float) -> float:
        """Fail when no replica answered for more than ``limit`` seconds in all; returns the downtime.

        Example:
        | Service Downtime Should Be At Most | ${report} | ${MAX_API_DOWNTIME_SECONDS} |
        """
        _fail(verdicts.service_downtime_problem(report, float(limit)))
        return float(report["downtime"])

    @keyword("Sessions Should Have Stayed Running")
    def sessions_should_have_stayed_running(self, report: dict[str, Any], *allowed: str) -> list[str]:
        """Fail when a watched session left its steady state (``running``) at any sampled moment,
        unless it is one of ``allowed``; returns the sessions that left it.

        Example:
        | Sessions Should Have Stayed Running | ${report} |
        """
        _fail(verdicts.left_running_problem(report, list(allowed)))
        return list(report["left_steady"])

    @keyword("Stream Downtime Should Be At Most")
    def stream_downtime_should_be_at_most(self, report: dict[str, Any], limit: float) -> float:
        """Fail when a VNC frame probe saw no frame for longer than ``limit`` seconds (or none at
        all); returns its longest time without a frame.

        Example:
        | Stream Downtime Should Be At Most | ${report} | ${MAX_VNC_DOWNTIME_SECONDS} |
        """
        _fail(verdicts.stream_problem(report, float(limit)))
        return float(report["max_gap"])

    @staticmethod
    def _checked(check: Any) -> str | None:
        try:
            return check()
        except ValueError as error:
            raise KitError("Cannot read the replica's figures", cause=str(error),
                           fix="give the URL the availability probe watched (Get API URL)") from None


class AnswerKeywords:
    @keyword("API Should Answer With A Clear Error")
    def api_should_answer_with_a_clear_error(self, url: str, method: str = "GET", path: str = "/api/v1/sessions",
                                             token: SecretLike = None, within: str = "5s",
                                             body: dict[str, Any] | None = None, during: str = "0s",
                                             every: str = "0.5s") -> dict[str, Any]:
        """Send a request to the API replica at ``url`` and fail unless it answers within ``within``
        with a 5xx and a JSON ``error`` and ``message`` (what a client shows while a backend the
        platform needs is gone) -- not a hang, not a dropped connection, not a 200. With ``during``,
        keep asking ``every`` so long: every answer must be clear. Returns ``status``, ``seconds``
        (the slowest answer), ``body`` and ``requests``.

        Example:
        | API Should Answer With A Clear Error | ${url} | GET | /api/v1/sessions | token=${token} | within=5s |
        """
        budget = to_seconds(within)
        target = url.rstrip("/") + "/" + path.lstrip("/")
        what = f"{method.upper()} {path} on {url}"
        stop_at = time.monotonic() + to_seconds(during, 0.0)
        slowest: Answer | None = None
        count = 0
        while True:
            answer = ask(method.upper(), target, reveal(token), budget + 5.0, _plain(body))
            count += 1
            _fail(clear_error_problem(answer, f"{what} (request {count})", budget))
            slowest = answer if slowest is None or answer.seconds > slowest.seconds else slowest
            if time.monotonic() >= stop_at:
                break
            time.sleep(min(to_seconds(every), max(0.0, stop_at - time.monotonic())))
        logger.info(f"{what}: {count} clear error(s), the slowest {slowest.status} after {slowest.seconds:.3f} s")
        return {**slowest.as_dict(), "requests": count}

    @keyword("API Should Answer")
    def api_should_answer(self, url: str, method: str = "GET", path: str = "/api/v1/sessions",
                          token: SecretLike = None, within: str = "5s", body: dict[str, Any] | None = None,
                          timeout: str | None = None, poll: str = "0.1s") -> dict[str, Any]:
        """Fail unless the API replica at ``url`` answers the request with a 2xx within ``within``
        (asked again every ``poll`` until ``timeout`` when given: waiting for a recovery). Returns
        ``status``, ``seconds`` and ``body`` of the good answer, and ``tries``.

        Example:
        | API Should Answer | ${url} | GET | /api/v1/sessions | token=${token} | timeout=30s |
        """
        budget = to_seconds(within)
        target = url.rstrip("/") + "/" + path.lstrip("/")
        what = f"{method.upper()} {path} on {url}"
        wait = Wait(f"{what} did not answer truly", to_seconds(timeout, 0.0), to_seconds(poll))
        try:
            outcome = wait.until(lambda: ask(method.upper(), target, reveal(token), budget, _plain(body)),
                                 lambda answer: 200 <= answer.status < 300,
                                 lambda answer: answer.failure or f"{answer.status} {answer.body!r:.200}")
        except WaitTimeout as error:
            raise AssertionError(f"{what} did not answer truly: {error.tries} tries over {error.elapsed:.1f} s "
                                 f"of {to_seconds(timeout, 0.0):g} s, last: {error.last_seen}") from None
        return {**outcome.value.as_dict(), "tries": outcome.tries}
