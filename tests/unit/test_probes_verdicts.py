"""The chaos verdicts fail on a broken platform: reports with an outage, a session that left
``running``, a stalled VNC stream, a probe stopped too early, an API that hangs or answers 200
without its database -- each named in a tester's words with its figures."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest

from ProbesKit import verdicts
from ProbesKit.answers import ask, clear_error_problem
from ProbesKit.keywords.verdicts import VerdictKeywords
from ProbesKit.probes.availability import AvailabilityProbe
from ProbesKit.probes.frames import FrameProbe
from ProbesKit.probes.sessions import SessionStateProbe

URLS = ["http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3"]


def availability(series: dict[str, list[tuple[float, bool]]], end: float = 20.0) -> dict[str, Any]:
    """The report of a real availability probe fed ``series`` (by replica URL) instead of checks."""
    probe = AvailabilityProbe("availability", list(series), interval=0.1)
    for checker in probe.checkers:
        checker.started_mono, checker.started_wall, checker.ended_mono = 100.0, 1.7e9, end
        checker.samples = list(series[checker.url.removesuffix("/health")])
    return probe.report()


def every(start: float, end: float, ok: bool, step: float = 0.1) -> list[tuple[float, bool]]:
    count = round((end - start) / step)
    return [(round(start + i * step, 3), ok) for i in range(count)]


def calm() -> list[tuple[float, bool]]:
    return every(0.0, 20.0, True)


# -- the availability probe ----------------------------------------------------------------------
def test_a_service_with_one_replica_up_scores_zero_so_each_survivor_is_checked_on_its_own():
    killed = every(0.0, 5.0, True) + every(5.0, 9.0, False) + every(9.0, 20.0, True)
    flaky = every(0.0, 7.0, True) + every(7.0, 7.5, False) + every(7.5, 20.0, True)
    report = availability({URLS[0]: killed, URLS[1]: flaky, URLS[2]: calm()})
    assert verdicts.service_downtime_problem(report, 0.0) is None  # up while any replica answers
    problem = verdicts.kept_answering_problem(report, URLS[1], "API replica api-2")
    assert problem is not None
    assert "api-2" in problem and "stopped answering although the fault did not touch it" in problem
    assert "5 of 200 checks failed" in problem and "0.5 s without an answer" in problem
    assert verdicts.kept_answering_problem(report, URLS[2], "API replica api-3") is None


def test_a_killed_replica_out_longer_than_its_budget_fails_with_its_outage():
    killed = every(0.0, 5.0, True) + every(5.0, 17.0, False) + every(17.0, 20.0, True)
    report = availability({URLS[0]: killed, URLS[1]: calm(), URLS[2]: calm()})
    problem = verdicts.outage_problem(report, URLS[0], "killed API replica api-1", 10.0)
    assert problem is not None and "out of service for 12 s, above the 10 s it may be" in problem
    assert verdicts.outage_problem(report, URLS[0], "killed API replica api-1", 15.0) is None


def test_a_killed_replica_that_never_came_back_fails_even_when_its_outage_is_short():
    killed = every(0.0, 19.0, True) + every(19.0, 20.0, False)
    report = availability({URLS[0]: killed, URLS[1]: calm(), URLS[2]: calm()})
    problem = verdicts.outage_problem(report, URLS[0], "killed API replica api-1", 10.0)
    assert problem is not None and "never answered again before the probe stopped" in problem


def test_service_downtime_while_no_replica_answers_fails_above_the_limit():
    down = every(0.0, 5.0, True) + every(5.0, 12.0, False) + every(12.0, 20.0, True)
    report = availability({url: down for url in URLS})
    problem = verdicts.service_downtime_problem(report, 5.0)
    assert problem is not None and "no API replica answered for 7 s" in problem


def test_a_replica_the_probe_did_not_watch_is_a_clear_error():
    report = availability({URLS[0]: calm()})
    with pytest.raises(ValueError, match=r"did not watch http://127\.0\.0\.1:9"):
        verdicts.kept_answering_problem(report, "http://127.0.0.1:9", "API replica")


# -- watching the whole window ---------------------------------------------------------------------
def test_a_probe_stopped_40_ms_after_the_fault_has_not_watched_the_recovery():
    report = {"kind": "availability", "name": "availability", "watched_from": 100.0, "watched_until": 100.086}
    problem = verdicts.watch_problem(report, since=100.046, until=112.0)
    assert problem is not None
    assert "watched 0.086 s in all" in problem and "cannot tell what the fault did" in problem
    assert verdicts.watch_problem({**report, "watched_until": 112.5}, 100.046, 112.0) is None


def test_a_probe_started_after_the_fault_has_not_watched_its_beginning():
    report = {"kind": "session-state", "name": "sessions", "watched_from": 101.0, "watched_until": 130.0}
    problem = verdicts.watch_problem(report, since=100.0, until=120.0)
    assert problem is not None and "started 1 s after the fault" in problem


def test_keep_watching_fails_when_a_probe_stopped_by_itself():
    probe = SessionStateProbe("short", URLS[:1], ["s-1"], None, interval=0.05, timeout=0.1, max_duration=0.2)

    class Registry:
        def get(self, name: str) -> SessionStateProbe:
            return probe

        def names(self) -> list[str]:
            return ["short"]

    probe.start()
    try:
        with pytest.raises(AssertionError, match="stopped by themselves before the settle time of 1 s"):
            VerdictKeywords(Registry()).keep_probes_watching_for("1s", "short")  # type: ignore[arg-type]
    finally:
        probe.stop()


# -- sessions ------------------------------------------------------------------------------------------
def test_a_session_that_left_running_for_one_sample_is_named_with_its_states():
    probe = SessionStateProbe("sessions", URLS[:1], ["s-1", "s-2"], None)
    probe.started_wall, probe.polls = 1.7e9, 40
    probe.history = {"s-1": [(0.0, "running")], "s-2": [(0.0, "running"), (3.1, "pending"), (3.2, "running")]}
    report = probe.report()
    problem = verdicts.left_running_problem(report, [])
    assert problem is not None and problem.startswith("1 of 2 sessions left running during the fault: s-2:")
    assert "pending at" in problem
    assert verdicts.left_running_problem(report, ["s-2"]) is None


def test_a_session_probe_that_never_checked_proves_nothing():
    probe = SessionStateProbe("sessions", URLS[:1], ["s-1"], None)
    problem = verdicts.left_running_problem(probe.report(), [])
    assert problem is not None and "made no check at all" in problem


# -- the VNC stream -------------------------------------------------------------------------------------
class FakeViewer:
    """Answers every request with an update, except while ``stalled`` is set."""

    width = height = 64

    def __init__(self, stalled: threading.Event, opened: list[str], url: str) -> None:
        self.stalled = stalled
        self.asked = 0
        opened.append(url)

    def request_update(self, incremental: bool, region: Any = None) -> None:
        self.asked += 1

    def next_message(self, deadline: float) -> Any:
        if self.stalled.is_set() or not self.asked:
            time.sleep(max(0.0, deadline - time.monotonic()))
            return None
        self.asked -= 1

        return SimpleNamespace(rects=[(0, 0, 16, 16, 0)])

    def close(self) -> None:
        pass


def frame_probe(stalled: threading.Event, opened: list[str]) -> FrameProbe:
    return FrameProbe("vnc", ["ws://a", "ws://b"], lambda url: FakeViewer(stalled, opened, url), interval=0.02,
                      max_duration=10, stall_after=0.2, gap_threshold=0.3, region=lambda viewer: None)


def test_a_stalled_vnc_stream_shows_its_gap_and_reconnects_through_the_next_replica():
    stalled, opened = threading.Event(), []
    probe = frame_probe(stalled, opened).start()
    time.sleep(0.3)
    stalled.set()
    time.sleep(0.8)
    stalled.clear()
    time.sleep(0.3)
    report = probe.stop()
    assert report["frames"] > 5
    assert report["max_gap"] >= 0.7
    assert report["reconnects"] >= 1 and opened[1] == "ws://b"
    problem = verdicts.stream_problem(report, 0.5)
    assert problem is not None and "without a frame, above the 0.5 s a viewer may wait" in problem
    assert verdicts.stream_problem(report, 5.0) is None


def test_a_vnc_stream_that_keeps_its_frames_passes_and_one_without_frames_fails():
    stalled, opened = threading.Event(), []
    probe = frame_probe(stalled, opened).start()
    time.sleep(0.4)
    report = probe.stop()
    assert verdicts.stream_problem(report, 0.3) is None and report["reconnects"] == 0
    assert "carried no frame at all" in str(verdicts.stream_problem({**report, "frames": 0}, 0.3))


# -- a clear error, not a hang -------------------------------------------------------------------------
class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/hang":
            time.sleep(1.5)
        status, body = {"/ok": (200, b'{"sessions": []}'), "/bare": (503, b"oops"),
                        "/clear": (503, b'{"error": "Database unavailable", "message": "retry"}')}.get(
            self.path, (200, b"{}"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_hang_is_not_a_clear_error(server):
    problem = clear_error_problem(ask("GET", server + "/hang", None, 0.5), "GET /hang", 0.5)
    assert problem is not None and "got no answer (no answer within 0.5 s)" in problem


def test_a_200_without_the_database_is_not_a_clear_error(server):
    problem = clear_error_problem(ask("GET", server + "/ok", None, 2), "GET /ok", 2)
    assert problem is not None and "answered 200 where the platform cannot answer truly" in problem


def test_a_5xx_without_a_message_is_not_a_clear_error(server):
    problem = clear_error_problem(ask("GET", server + "/bare", None, 2), "GET /bare", 2)
    assert problem is not None and "without a JSON error and message" in problem


def test_a_5xx_with_its_message_in_time_is_a_clear_error(server):
    assert clear_error_problem(ask("GET", server + "/clear", None, 2), "GET /clear", 2) is None


def test_the_keywords_fail_with_the_broken_promise_in_their_message(server):
    from ProbesKit.keywords.verdicts import AnswerKeywords

    keywords = AnswerKeywords()
    answer = keywords.api_should_answer_with_a_clear_error(server, path="/clear", within="2s", during="0.3s",
                                                           every="0.1s")
    assert answer["status"] == 503 and answer["requests"] >= 3
    with pytest.raises(AssertionError, match=r"GET /ok on .* \(request 1\) answered 200 where the platform"):
        keywords.api_should_answer_with_a_clear_error(server, path="/ok", within="2s")
    assert keywords.api_should_answer(server, path="/ok", timeout="1s")["status"] == 200
    with pytest.raises(AssertionError, match=r"GET /clear on .* did not answer truly: \d+ tries over"):
        keywords.api_should_answer(server, path="/clear", timeout="0.3s")


def test_the_session_probe_keeps_asking_the_replica_that_answers(server):
    hanging = "http://127.0.0.1:9"  # refused at once; a hanging one would cost its timeout at every read
    probe = SessionStateProbe("sessions", [hanging, server], ["s-1"], None, timeout=0.5)
    assert probe._state("s-1") == "unknown"  # the fake server answers {} for an unknown path
    assert probe._preferred == 1
    assert probe._state("s-1") == "unknown" and probe._preferred == 1
