"""The keywords that took over what suites and resources used to compute or query themselves (Python
expressions, SQL, slicing): they give the same values the expressions gave, and fail clearly on bad input.
Nothing runs: the few that talk to a backend get a fake one."""

from __future__ import annotations

import contextlib
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from DatabaseKit.context import Result
from DockerKit.keywords.volumes import name_prefixes
from EnvironmentKit.topology import Topology, differing_timings, in_turn, with_database
from kitcore import KitError
from kitreport.measuring import (
    checked_numbers,
    milliseconds_minus_seconds,
    multiply_time,
    per_minute,
    seconds_between,
    seconds_since,
    seconds_to_milliseconds,
)
from kitreport.recording import FigureKeywords
from KubeKit.keywords.leases import claims_of_other_pods, pod_of_holder
from PlatformKit.database import SharedDatabase
from PlatformKit.keywords.protocol import ProtocolKeywords
from PlatformKit.keywords.records import ENDED, PlatformRecordKeywords, as_seconds
from PlatformKit.keywords.sessions import SessionKeywords
from PlatformKit.keywords.users import UserKeywords
from PlatformKit.keywords.vnc import VncKeywords
from RedisKit.keywords.keys import KeyKeywords

SECONDS = [0.0, 0.0004, 0.0123456, 0.05, 0.1234, 1.00049, 2.5, 12.3456789]


# -- kitreport: stopwatches and the arithmetic of figures ----------------------------------------------------
@pytest.mark.parametrize("seconds", SECONDS)
def test_milliseconds_are_the_figures_the_expressions_gave(seconds: float) -> None:
    # the resources wrote ``round(${seconds} * 1000, 1)``: Robot put the number in as text, Python read it back
    assert seconds_to_milliseconds(seconds) == eval(f"round({seconds} * 1000, 1)")
    through = 14.7
    assert milliseconds_minus_seconds(through, seconds) == eval(f"round({through} - {seconds} * 1000, 1)")


def test_a_rate_per_minute_and_a_stopwatch() -> None:
    assert per_minute(10, 30.0) == eval("round(10 * 60 / 30.0, 1)") == 20.0
    assert per_minute(7, 13.3) == round(7 * 60 / 13.3, 1)
    with pytest.raises(KitError, match="needs a time above zero"):
        per_minute(3, 0)
    assert seconds_since(10.0, now=12.3456789) == 2.346


def test_a_time_multiplied_is_in_seconds() -> None:
    assert multiply_time("5.5s", 3) == 16.5
    assert multiply_time("1 min 30 s", 2) == 180.0
    assert multiply_time(10.0, 2) == 20.0
    with pytest.raises(KitError, match="is not a time"):
        multiply_time("soon", 2)


def test_budgets_and_windows_are_the_times_the_resources_multiplied() -> None:
    figures = FigureKeywords()
    # the resources wrote ``Multiply Time In Seconds  ${SESSION_START_BUDGET}  ${count}`` and ``... ${heartbeat}  3``
    assert figures.get_budget_for_steps_in_a_row("8.5s", 4) == multiply_time("8.5s", 4) == 34.0
    assert figures.get_budget_for_steps_in_a_row("8.5s", 0) == 0.0
    assert figures.get_window_of_heartbeats(10.0, 3) == 30.0
    assert figures.get_window_of_heartbeats("2s", 2) == 4.0
    with pytest.raises(KitError, match="A time for -1 steps"):
        figures.get_budget_for_steps_in_a_row("8.5s", -1)
    with pytest.raises(KitError, match="is not a time"):
        figures.get_window_of_heartbeats("often", 2)


def test_seconds_between_two_moments_keep_their_order_and_the_microsecond() -> None:
    sent = "2026-12-06T23:00:00.000001Z"
    assert seconds_between(sent, "2026-12-06T23:00:00.000002+00:00") == pytest.approx(1e-06)
    assert seconds_between("2026-12-06T23:00:01Z", sent) < 0
    for gap in (timedelta(microseconds=1), timedelta(seconds=-3), timedelta(0)):
        earlier = datetime(2026, 12, 6, 23, tzinfo=UTC)
        later = earlier + gap
        assert (seconds_between(earlier.isoformat(), later.isoformat()) > 0) == (earlier < later)
    with pytest.raises(KitError, match="one of them has a time zone"):
        seconds_between("2026-12-06T23:00:00", sent)
    with pytest.raises(KitError, match="not a date and time"):
        seconds_between("", sent)


def test_a_quota_for_sessions_at_once_counts_each_session() -> None:
    users = UserKeywords(None)  # type: ignore[arg-type]
    quota = users.get_quota_for_sessions_at_once(6, 4)
    assert quota == 10 and isinstance(quota, int)
    assert users.get_quota_for_sessions_at_once(3, 0) == 3
    with pytest.raises(KitError, match="session quota for -2 sessions"):
        users.get_quota_for_sessions_at_once(3, -2)


def test_the_slowest_of_no_numbers_or_of_text_is_refused() -> None:
    with pytest.raises(KitError, match="No numbers"):
        checked_numbers((), "slowest")
    with pytest.raises(KitError, match="is not a number"):
        checked_numbers(("3",), "slowest")


def test_the_stopwatch_keywords_come_with_the_figures() -> None:
    figures = FigureKeywords()
    start = figures.start_a_stopwatch()
    assert 0 <= figures.seconds_since(start) < 1
    assert abs(figures.get_epoch_seconds() - datetime.now(UTC).timestamp()) < 5


# -- EnvironmentKit -----------------------------------------------------------------------------------------
def test_the_hub_url_is_the_platform_url_with_another_database() -> None:
    for url in ("redis://127.0.0.1:6379/0", "redis://:secret@10.0.0.5:6380/3"):
        assert with_database(url, 1) == url.rsplit("/", 1)[0] + "/1"
    assert with_database("redis://127.0.0.1:6379", 2) == "redis://127.0.0.1:6379/2"
    assert with_database("rediss://h:1/0?ssl_cert_reqs=none", 1) == "rediss://h:1/1?ssl_cert_reqs=none"


def test_only_the_timings_the_environment_runs_otherwise_differ() -> None:
    stated = {"heartbeatInterval": 10, "leaseDuration": 15, "retryPeriod": 2}
    running = {"heartbeatInterval": 10, "leaseDuration": 30}
    assert differing_timings(stated, running) == {"leaseDuration": {"stated": 15, "running": 30}}
    assert differing_timings(stated, {}) == {}


@pytest.mark.parametrize("count", range(5))
@pytest.mark.parametrize("available", [["kubernetes", "docker"], ["kubernetes"], ["docker"], []])
def test_platforms_in_turn_are_those_the_mix_gave(count: int, available: list[str]) -> None:
    mixed = ["kubernetes", "docker", "kubernetes", "docker"]
    # what the resource computed before: list(filter($available.__contains__, $MIXED_PLATFORMS * 2))[:count]
    assert in_turn(mixed, available, count) == list(filter(available.__contains__, mixed * 2))[:count]


def test_platforms_in_turn_go_on_past_the_order() -> None:
    assert in_turn(["kubernetes", "docker"], ["kubernetes"], 6) == ["kubernetes"] * 6


def test_the_topology_gives_vnc_servers_and_running_process_ids() -> None:
    topology = Topology({
        "api": [{"name": "api-1", "pid": 11, "running": True}, {"name": "api-2", "pid": 12, "running": False},
                {"name": "api-3", "running": True}],
        "agents": {"kubernetes": {"replicas": [{"name": "k8s-agent-a", "pid": 21, "running": True}]},
                   "docker": {"replicas": [{"name": "docker-agent-a", "pid": 31, "running": True},
                                           {"name": "docker-agent-b", "pid": 32}]}},
        "vnc": [{"name": "vnc-none", "host": "127.0.0.1", "port": 5901},
                {"name": "vnc-auth", "host": "127.0.0.1", "port": 5902},
                {"name": "vnc-none", "host": "127.0.0.1", "port": 5999}],
    })
    assert topology.running_pids("api") == [11]
    assert topology.running_pids("agents") == [21, 31]
    with pytest.raises(KitError, match="No process ids"):
        topology.running_pids("redis")
    assert topology.vnc_servers() == {"vnc-none": "127.0.0.1:5901", "vnc-auth": "127.0.0.1:5902"}
    assert Topology({"api": []}).vnc_servers() == {}


# -- KubeKit and DockerKit ----------------------------------------------------------------------------------
@pytest.mark.parametrize("holder", ["k8s-agent-a", "k8s-agent-a_6f2c", "k8s-agent-ab_1", "k8s-agent-b_x_y", ""])
def test_the_pod_of_a_lease_holder_is_the_one_the_check_accepted(holder: str) -> None:
    pod = "k8s-agent-a"
    # what the resource validated before: value == $pod or value.startswith($pod + '_')
    assert (pod_of_holder(holder) == pod) == (holder == pod or holder.startswith(pod + "_"))


def test_claims_of_other_pods_leave_out_the_leaders() -> None:
    claims = {"k8s-agent-a_1": 6, "k8s-agent-b_2": 2, "k8s-agent-a_3": 1}
    assert claims_of_other_pods(claims, "k8s-agent-a") == {"k8s-agent-b_2": 2}
    assert claims_of_other_pods({"k8s-agent-a_1": 6}, "k8s-agent-a") == {}


def test_volume_name_beginnings() -> None:
    assert name_prefixes(None) is None
    assert name_prefixes("streamspace-a-") == ("streamspace-a-",)
    assert name_prefixes(["streamspace-a-", "streamspace-b-"]) == ("streamspace-a-", "streamspace-b-")
    assert name_prefixes([]) == (), "an empty list keeps no volume, as the check it replaces did"
    assert not "streamspace-a-home".startswith(name_prefixes([]))


# -- PlatformKit --------------------------------------------------------------------------------------------
def test_the_error_and_message_of_an_answer() -> None:
    keywords = SessionKeywords(None)  # type: ignore[arg-type]
    answer = {"error": "No agents available", "message": None}
    assert keywords.get_error_and_message_of_answer(answer) == {"error": "No agents available", "message": ""}
    assert keywords.get_error_and_message_of_answer({"error": None}) == {"error": "", "message": ""}
    assert keywords.get_error_and_message_of_answer("503 Service Unavailable") == {"error": "", "message": ""}


def test_sessions_not_in_a_state() -> None:
    keywords = SessionKeywords(None)  # type: ignore[arg-type]
    states = {"s3": "running", "s1": "failed", "s2": "absent"}
    keywords.get_session_states = lambda names, **_: {n: states[n] for n in names}  # type: ignore[method-assign]
    assert keywords.get_sessions_not_in_state(["s3", "s1", "s2"], "running") == ["s1", "s2"]
    assert keywords.get_sessions_not_in_state(["s3"], "running") == []


def test_the_actions_of_command_records_in_order() -> None:
    records = [{"action": "start_session"}, {"action": "hibernate_session"}, {"action": "start_session"}]
    assert ProtocolKeywords(None).get_command_actions(records) == [  # type: ignore[arg-type]
        "start_session", "hibernate_session", "start_session"]


def _vnc(statuses: list[int]) -> VncKeywords:
    keywords = VncKeywords(None)  # type: ignore[arg-type]
    answers = itertools.chain(statuses, itertools.repeat(statuses[-1]))
    keywords._status_probe = lambda *_args: lambda: next(answers)  # type: ignore[method-assign]
    return keywords


def test_a_vnc_access_status_among_several() -> None:
    assert _vnc([404]).vnc_access_status_should_be_one_of("s1", 404, 409) == 404
    assert _vnc([101, 101, 409]).vnc_access_status_should_be_one_of("s1", 404, 409, timeout="2s") == 409
    with pytest.raises(AssertionError, match=r"VNC access to s1 should be 404 or 409, but was 101"):
        _vnc([101]).vnc_access_status_should_be_one_of("s1", 404, 409)
    with pytest.raises(AssertionError, match=r"should be 404 or 409: retried .* last seen: status 101"):
        _vnc([101]).vnc_access_status_should_be_one_of("s1", 404, 409, timeout="0.3s")
    with pytest.raises(KitError, match="needs the statuses"):
        _vnc([101]).vnc_access_status_should_be_one_of("s1")


# -- RedisKit -----------------------------------------------------------------------------------------------
def _redis(values: list[str | None]) -> KeyKeywords:
    answers = itertools.chain(values, itertools.repeat(values[-1]))
    handle = SimpleNamespace(client=SimpleNamespace(get=lambda _key: next(answers)), where="127.0.0.1:6379/1")
    ctx = SimpleNamespace(handle=lambda _alias=None: handle, call=lambda *_a: contextlib.nullcontext())
    return KeyKeywords(ctx)  # type: ignore[arg-type]


def test_a_value_changes_only_to_another_value() -> None:
    assert _redis(["api-1", None, "", "api-1", "api-2"]).wait_until_value_changes(
        "agent:k8s:pod", "api-1", timeout="2s", poll="0.01s") == "api-2"
    with pytest.raises(KitError, match=r"to change from 'api-1'.*last seen: key absent"):
        _redis(["api-1", None]).wait_until_value_changes("agent:k8s:pod", "api-1", timeout="0.2s", poll="0.01s")
    with pytest.raises(KitError, match=r"last seen: value ''"):
        _redis([""]).wait_until_value_changes("agent:k8s:pod", "api-1", timeout="0.2s", poll="0.01s")


# -- PlatformKit: the platform's records, read through DatabaseKit ------------------------------------------
class FakeDatabase:
    """Answers each statement with the next of ``answers`` (columns, rows) and remembers what it was asked."""

    def __init__(self, *answers: tuple[list[str], list[tuple]]) -> None:
        self.answers = itertools.chain(answers, itertools.repeat(answers[-1]))
        self.asked: list[tuple[str, list]] = []

    def handle(self, alias: str | None = None) -> str:
        return f"handle {alias}"

    def run(self, handle: str, statement: str, parameters: list, timeout: float | None = None,
            what: str | None = None) -> Result:
        self.asked.append((statement, parameters))
        columns, rows = next(self.answers)
        return Result(columns, rows, len(rows))


def test_the_records_are_read_through_databasekit_or_refused_clearly() -> None:
    with pytest.raises(KitError, match="DatabaseKit is not imported in this run"):
        PlatformRecordKeywords(SharedDatabase()).get_command_status("cmd-1")


def test_command_records_come_as_dictionaries() -> None:
    db = FakeDatabase((["command_id", "action", "status"], [("cmd-1", "start_session", "completed")]))
    records = PlatformRecordKeywords(db).get_command_records_of_session("s1", database="platform-db")  # type: ignore[arg-type]
    assert records == [{"command_id": "cmd-1", "action": "start_session", "status": "completed"}]
    assert db.asked[0][1] == ["s1"] and "ORDER BY created_at" in db.asked[0][0]


def test_a_missing_command_record_is_named() -> None:
    db = FakeDatabase((["status"], []))
    with pytest.raises(KitError, match="The Control Plane has no record of command cmd-9"):
        PlatformRecordKeywords(db).get_command_record("cmd-9")  # type: ignore[arg-type]


def test_commands_carried_out_twice_are_asked_for_every_session_at_once() -> None:
    db = FakeDatabase((["session_id", "action"], []))
    assert PlatformRecordKeywords(db).get_commands_carried_out_twice(["s1", "s2"]) == []  # type: ignore[arg-type]
    assert db.asked[0][1] == [["s1", "s2"]] and "ANY(%s)" in db.asked[0][0]


def test_a_command_ends_completed_or_failed() -> None:
    db = FakeDatabase((["status"], [("sent",)]), (["status"], [("acknowledged",)]), (["status"], [("failed",)]))
    keywords = PlatformRecordKeywords(db)  # type: ignore[arg-type]
    assert keywords.wait_until_command_has_ended("cmd-1", timeout="2s", poll="0.01s") == "failed"
    assert set(ENDED) == {"completed", "failed"}
    stuck = PlatformRecordKeywords(FakeDatabase((["status"], [("acknowledged",)])))  # type: ignore[arg-type]
    with pytest.raises(KitError, match=r"Command cmd-1 to end .*last seen: status acknowledged"):
        stuck.wait_until_command_has_ended("cmd-1", timeout="0.2s", poll="0.01s")


def test_a_command_status_can_be_asserted() -> None:
    db = FakeDatabase((["status"], [("pending",)]), (["status"], [("sent",)]))
    keywords = PlatformRecordKeywords(db)  # type: ignore[arg-type]
    assert keywords.get_command_status("cmd-1") == "pending"
    from kitcore import AssertionOperator

    assert keywords.get_command_status("cmd-1", AssertionOperator["!="], "pending", timeout="2s",
                                       poll="0.01s") == "sent"


def test_the_heartbeat_age_is_in_seconds() -> None:
    assert as_seconds(Decimal("1.250000"), "none") == 1.25
    with pytest.raises(KitError, match="recorded no heartbeat"):
        as_seconds(None, "The Control Plane recorded no heartbeat of agent k8s-local")
    from kitcore import AssertionOperator

    fresh = PlatformRecordKeywords(FakeDatabase(([""], [(Decimal("3.5"),)])))  # type: ignore[arg-type]
    assert fresh.get_agent_heartbeat_age_in_seconds("k8s-local", AssertionOperator["<="], 20.0) == 3.5
    stale = PlatformRecordKeywords(FakeDatabase(([""], [(Decimal("25"),)])))  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        stale.get_agent_heartbeat_age_in_seconds("k8s-local", AssertionOperator["<="], 20.0)
