"""Figures carry their budget and resolution; a duration without them, or one measured more coarsely than
a tenth of its budget, is a kit error that the keyword or the reports catch."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

import robot

from kitreport import generate
from kitreport.figures import kit_errors, parse_figure

FIGURES = Path(__file__).resolve().parents[2] / "resources" / "figures.resource"

SUITE = f"""\
*** Settings ***
Resource    {FIGURES}

*** Test Cases ***
Exact Figure Within Its Budget
    Record Figure    hibernate_seconds    ${{0.412}}    s    budget=5.5s    resolution=${{0.031}}

Figure At The Tick Of A Slow Poll
    Record Figure    wake_seconds    ${{0.51}}    s    budget=5.5s    resolution=${{0.6}}

Figure Above Its Budget
    Record Duration Within Budget    leader_election_seconds    ${{6.2}}    5.5s    resolution=0.05

Duration Without A Budget
    Record Figure    vnc_echo_seconds    ${{0.01}}    s

A Count With Its Budget
    Record Figure    sessions_lost    0    budget=${{0}}
    Record Figure Of At Least    sessions_per_minute_at_5    ${{41.2}}    ${{10}}

A Count Without A Budget
    Record Figure    vnc_reconnects    2

A Text Figure
    Record Figure    api_failure_reason    no failure up to 120

A Limit Widened By A Margin
    Record Figure Of At Most    container_cpu_cores    ${{0.6}}    ${{0.5}}    cores    margin=0.25

Above A Limit Widened By A Margin
    Record Figure Of At Most    container_cpu_cores    ${{0.7}}    ${{0.5}}    cores    margin=0.25

Slowest Answer Within Its Budget
    Record Slowest Duration Within Budget    error_answer_seconds    ${{{{[0.2, 0.9, 0.4]}}}}    1s    resolution=0.001

Slowest Answer Above Its Budget
    Record Slowest Duration Within Budget    error_answer_seconds    ${{{{[0.2, 1.2, 0.4]}}}}    1s    resolution=0.001

No Answer Timed
    Record Slowest Duration Within Budget    error_answer_seconds    ${{{{[]}}}}    1s    resolution=0.001

Latency At Its Limit
    ${{ms}} =    Record Latency In Milliseconds Of At Most    vnc_latency_ms    ${{0.02504}}    ${{25}}    resolution=1
    Should Be Equal    ${{ms}}    ${{25.0}}

Latency Above Its Limit
    Record Latency In Milliseconds Of At Most    vnc_latency_ms    ${{0.02506}}    ${{25}}    resolution=1

Overhead At Its Limit
    ${{ms}} =    Record Overhead In Milliseconds Of At Most    overhead_ms    ${{0.03}}    ${{0.01}}    ${{20}}
    Should Be Equal    ${{ms}}    ${{20.0}}

Overhead Above Its Limit
    Record Overhead In Milliseconds Of At Most    overhead_ms    ${{0.0301}}    ${{0.01}}    ${{20}}
"""


def run(tmp_path: Path) -> tuple[Path, dict[str, tuple[str, str]]]:
    (tmp_path / "figures.robot").write_text(SUITE)
    out = tmp_path / "results"
    robot.run(str(tmp_path / "figures.robot"), outputdir=str(out), report="NONE", stdout=io.StringIO(),
              stderr=io.StringIO())
    tree = ET.parse(out / "output.xml")
    verdicts = {t.get("name"): (t.find("status").get("status"), t.find("status").text or "")
                for t in tree.iter("test")}
    return out, verdicts


def test_a_figure_line_carries_its_budget_and_resolution() -> None:
    figure = parse_figure("figure start_seconds = 0.412 s (at most 8.3 s; resolution 0.031 s)")
    assert figure is not None and (figure.number, figure.unit) == (0.412, "s")
    assert (figure.budget, figure.budget_kind, figure.resolution) == (8.3, "at most", 0.031)
    assert figure.text == "0.412 s (at most 8.3 s; resolution 0.031 s)" and kit_errors(figure) == []
    plain = parse_figure("figure sessions_per_minute = 3 sessions per minute")
    assert plain is not None and plain.unit == "sessions per minute", "a unit of several words still reads"


def test_a_poll_tick_figure_and_a_figure_without_budget_are_kit_errors() -> None:
    coarse = parse_figure("figure wake_seconds = 0.51 s (at most 3 s; resolution 0.5 s)")
    assert coarse is not None and "coarser than a tenth of its budget" in kit_errors(coarse)[0]
    bare = parse_figure("figure vnc_echo_seconds = 0.01 s")
    assert bare is not None
    errors = kit_errors(bare)
    assert len(errors) == 2 and "is a duration with no budget" in errors[0] and "how finely" in errors[1]
    count = parse_figure("figure vnc_reconnects = 2")
    assert count is not None and kit_errors(count) == ["figure vnc_reconnects = 2 is a figure with no budget to "
                                                       "compare it with"]


def test_the_keywords_fail_a_coarse_or_over_budget_figure_and_pass_an_exact_one(tmp_path: Path) -> None:
    _, verdicts = run(tmp_path)
    assert verdicts["Exact Figure Within Its Budget"][0] == "PASS"
    status, message = verdicts["Figure At The Tick Of A Slow Poll"]
    assert status == "FAIL" and "measured only to within 0.6 s, coarser than a tenth of its budget of 5.5 s" in message
    status, message = verdicts["Figure Above Its Budget"]
    assert status == "FAIL" and "leader_election_seconds took 6.2 s, above the budget of 5.5 s" in message
    assert verdicts["Duration Without A Budget"][0] == "PASS", "the missing budget is the kit's error, not the test's"
    assert verdicts["A Count With Its Budget"][0] == "PASS"
    assert verdicts["A Limit Widened By A Margin"][0] == "PASS"
    status, message = verdicts["Above A Limit Widened By A Margin"]
    assert status == "FAIL" and "container_cpu_cores was 0.7 cores, above the limit of 0.625 cores" in message
    assert verdicts["Slowest Answer Within Its Budget"][0] == "PASS"
    status, message = verdicts["Slowest Answer Above Its Budget"]
    assert status == "FAIL" and "error_answer_seconds was 1.2 s, above its budget of 1 s" in message
    status, message = verdicts["No Answer Timed"]
    assert status == "FAIL" and "error_answer_seconds: no duration was measured" in message
    assert verdicts["Latency At Its Limit"][0] == "PASS", verdicts["Latency At Its Limit"]
    status, message = verdicts["Latency Above Its Limit"]
    assert status == "FAIL" and "vnc_latency_ms was 25.1 ms, above the limit of 25 ms" in message
    assert verdicts["Overhead At Its Limit"][0] == "PASS", verdicts["Overhead At Its Limit"]
    status, message = verdicts["Overhead Above Its Limit"]
    assert status == "FAIL" and "overhead_ms was 20.1 ms, above the limit of 20 ms" in message


def test_the_reports_list_every_figure_that_cannot_judge_its_promise(tmp_path: Path) -> None:
    out, _ = run(tmp_path)
    paths = generate(out / "output.xml", draw=False)
    assert any("vnc_echo_seconds = 0.01 s is a duration with no budget" in e for e in paths.kit_errors)
    assert any("wake_seconds was measured only to within 0.6 s" in e for e in paths.kit_errors)
    assert not any("hibernate_seconds" in e or "sessions_lost" in e for e in paths.kit_errors)
    assert any("vnc_reconnects = 2 is a figure with no budget" in e for e in paths.kit_errors)
    assert any("api_failure_reason = no failure up to 120 is not a number" in e for e in paths.kit_errors)
    suite_report = next(iter(paths.suites.values())).read_text()
    assert "## Kit errors" in suite_report and "| Budget | Resolution |" in suite_report
    assert "| hibernate_seconds | 0.412 | s | at most 5.5 s | 0.031 s |" in suite_report
    assert "## Kit errors" in paths.index.read_text()
    properties = {p.get("name"): p.get("value") for p in ET.parse(paths.junit).iter("property")}
    assert properties["hibernate_seconds resolution"] == "0.031 s"
    assert properties["hibernate_seconds budget"] == "at most 5.5 s"
    assert any(name.startswith("kit error") for name in properties)


def test_the_listener_writes_nothing_for_a_run_without_output(capsys) -> None:
    from kitreport.listener import ReportListener

    listener = ReportListener()
    listener.output_file(None)  # robot --output NONE
    listener.log_file(None)
    listener.close()
    assert capsys.readouterr().err == ""
