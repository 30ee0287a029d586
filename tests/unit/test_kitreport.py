"""kitreport: reports from real output.xml files written by running tiny suites with robot.run."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import robot

from kitcore import KitError
from kitreport import generate, parse_figure_lines, read_output
from kitreport.__main__ import main
from kitreport.figures import concurrency_series, recovery_figures

FAILOVER_SUITE = """\
*** Settings ***
Documentation    Failover of the agent leader.

*** Test Cases ***
Leader Failover Is Measured
    Log    figure failover_seconds = 4.2 s
    Set Test Message    figure failover_seconds = 4.2 s

Session Survives The Failover
    Fail    Session alice-desktop-1234abcd was lost: state is failed

Skipped On This Platform
    Skip    no Docker agent in this environment
"""

LOAD_SUITE = """\
*** Test Cases ***
Throughput Per Concurrency
    FOR    ${c}    IN    5    10    20
        Log    figure throughput_c${c} = ${c}.5 sessions/min
    END
    Log    figure api_failure_reason = "too many connections"

Figure Logged Before A Failure
    Log    figure agent_reconnect_seconds = 7.5 s
    Fail    reconnect took too long
"""

EMPTY_SUITE = """\
*** Test Cases ***
Nothing Measured
    No Operation
"""


def run_suites(tmp_path: Path, suites: dict[str, str]) -> Path:
    folder = tmp_path / "suites"
    folder.mkdir()
    for name, text in suites.items():
        (folder / name).write_text(text)
    out = tmp_path / "results"
    rc = robot.run(str(folder), outputdir=str(out), output="output.xml", log="log.html", report="NONE",
                   stdout=io.StringIO(), stderr=io.StringIO())
    assert (out / "output.xml").is_file(), f"robot exited {rc} without output.xml"
    return out


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("kitreport")
    return run_suites(tmp, {"01_failover.robot": FAILOVER_SUITE, "02_load.robot": LOAD_SUITE})


@pytest.fixture(scope="module")
def written(results: Path):
    return generate(results / "output.xml")


def test_figure_lines_are_parsed() -> None:
    figures = parse_figure_lines("figure failover_seconds = 4.2 s\nother text\nfigure lost = 0 \n"
                                 'figure reason = "too many clients"')
    assert [(f.name, f.value, f.unit) for f in figures] == [
        ("failover_seconds", "4.2", "s"), ("lost", "0", ""), ("reason", "too many clients", "")]
    assert figures[0].number == 4.2
    assert figures[2].number is None


def test_model_reads_figures_from_messages_and_log(results: Path) -> None:
    run = read_output(results / "output.xml")
    assert [s.slug for s in run.suites] == ["01_failover", "02_load"]
    failover, load = run.suites
    assert failover.tests[0].figures["failover_seconds"].text == "4.2 s"
    assert [t.status for t in failover.tests] == ["PASS", "FAIL", "SKIP"]
    assert failover.tests[1].id == "s1-s1-t2"
    # figures only logged (no Set Test Message), also inside a FOR loop and in a failed test
    throughput = load.tests[0].figures
    assert throughput["throughput_c10"].number == 10.5
    assert throughput["api_failure_reason"].value == "too many connections"
    assert load.tests[1].figures["agent_reconnect_seconds"].number == 7.5
    assert [s for s, _ in concurrency_series(load.all_figures())["throughput"]] == [5, 10, 20]
    assert [f.name for f in recovery_figures(load.all_figures())] == ["agent_reconnect_seconds"]


def test_markdown_report_has_failure_message_figure_and_log_links(results: Path, written) -> None:
    report = (results / "report-01_failover.md").read_text()
    assert written.suites["01_failover"] == results / "report-01_failover.md"
    assert "Session alice-desktop-1234abcd was lost: state is failed" in report
    assert "| failover_seconds | 4.2 | s | — | — | Leader Failover Is Measured |" in report
    assert "(log.html#s1-s1-t2)" in report
    assert "no Docker agent in this environment" in report
    assert "1 passed, 1 failed, 1 skipped" in report


def test_index_lists_every_suite_with_key_figures(results: Path, written) -> None:
    index = written.index.read_text()
    assert written.index == results / "REPORT.md"
    assert "[01_failover](report-01_failover.md)" in index
    assert "[02_load](report-02_load.md)" in index
    assert "failover_seconds = 4.2 s" in index
    assert "Session alice-desktop-1234abcd was lost" in index
    assert "5 tests: 2 passed, 2 failed, 1 skipped" in index


def test_junit_has_figures_as_properties_and_failures(results: Path, written) -> None:
    root = ET.parse(written.junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "2", "0")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["Suites.01 Failover", "Suites.02 Load"]
    cases = {c.get("name"): c for c in suites[0].findall("testcase")}
    props = {p.get("name"): p.get("value") for p in cases["Leader Failover Is Measured"].iter("property")}
    assert props == {"failover_seconds": "4.2 s"}
    failure = cases["Session Survives The Failover"].find("failure")
    assert failure is not None
    assert failure.get("message") == "Session alice-desktop-1234abcd was lost: state is failed"
    assert cases["Skipped On This Platform"].find("skipped") is not None
    suite_props = {p.get("name"): p.get("value") for p in suites[0].find("properties")}
    assert suite_props["failover_seconds"] == "4.2 s"
    # children of a testcase in the order JUnit readers expect; figures also as output lines
    assert [c.tag for c in cases["Session Survives The Failover"]] == ["failure", "system-out"]
    out = cases["Leader Failover Is Measured"].find("system-out").text
    assert out.splitlines() == ["figure failover_seconds = 4.2 s", "log: log.html#s1-s1-t1"]
    assert [s.get("skipped") for s in suites] == ["1", "0"]


def test_junit_uses_only_what_junit_schemas_allow(written) -> None:
    """Elements and attributes of the common JUnit schema (Jenkins xunit junit-10.xsd), plus the
    testcase-level <properties> that pytest, Jenkins' JUnit plugin and GitHub report actions read."""
    allowed = {
        "testsuites": ({"testsuite"}, {"name", "time", "tests", "failures", "errors"}),
        "testsuite": ({"testsuite", "properties", "testcase", "system-out", "system-err"},
                      {"name", "tests", "failures", "errors", "group", "time", "skipped", "timestamp", "hostname",
                       "id", "package", "file", "log", "url"}),
        "testcase": ({"properties", "skipped", "error", "failure", "system-out", "system-err"},
                     {"name", "time", "classname", "group"}),
        "properties": ({"property"}, set()),
        "property": (set(), {"name", "value"}),
        "failure": (set(), {"type", "message"}),
        "skipped": (set(), {"type", "message"}),
        "system-out": (set(), set()),
    }
    root = ET.parse(written.junit).getroot()
    for element in root.iter():
        children, attributes = allowed[element.tag]
        assert {c.tag for c in element} <= children, element.tag
        assert set(element.attrib) <= attributes, element.tag
    for suite in root.iter("testsuite"):
        assert {"name", "tests", "failures", "errors"} <= set(suite.attrib)
        assert re.fullmatch(r"[0-9]*\.[0-9]*", suite.get("time"))


def test_plots_are_png_files_referenced_from_markdown(results: Path, written) -> None:
    names = sorted(p.name for p in written.plots)
    assert names == ["01_failover-figures.png", "01_failover-timeline.png", "02_load-concurrency.png",
                     "02_load-figures.png", "02_load-timeline.png", "verdicts.png"]
    for plot in written.plots:
        assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    load_report = (results / "report-02_load.md").read_text()
    assert "![Figures per concurrency step](plots/02_load-concurrency.png)" in load_report
    assert "![Verdicts per suite](plots/verdicts.png)" in written.index.read_text()


def test_run_without_figures_writes_reports(tmp_path: Path) -> None:
    out = run_suites(tmp_path, {"only.robot": EMPTY_SUITE})
    assert main([str(out / "output.xml")]) == 0
    report = (out / "report-only.md").read_text()
    assert "This suite recorded no figures." in report
    case = ET.parse(out / "junit.xml").getroot().find("testsuite/testcase")
    assert case is not None and case.find("properties") is None and case.find("failure") is None
    assert not list((out / "plots").glob("only-*.png"))
    assert not (out / "plots" / "verdicts.png").exists(), "a chart of one suite's verdicts compares nothing"
    assert "Verdicts per suite" not in (out / "REPORT.md").read_text()


def test_missing_output_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "output.xml"
    with pytest.raises(KitError, match="does not exist"):
        generate(missing)
    assert main([str(missing)]) == 2
    error = capsys.readouterr().err
    assert str(missing) in error and "Fix:" in error and "./kit run" in error


def test_malformed_output_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "output.xml"
    broken.write_text('<?xml version="1.0"?>\n<robot generator="Robot 7.5"><suite name="cut off')
    assert main([str(broken)]) == 2
    error = capsys.readouterr().err
    assert f"Cannot read '{broken}'" in error and "Fix:" in error
    assert not (tmp_path / "REPORT.md").exists()


def test_not_robot_output_is_a_clear_error(tmp_path: Path) -> None:
    other = tmp_path / "output.xml"
    other.write_text("<html><body>not robot</body></html>")
    with pytest.raises(KitError, match="Robot Framework output"):
        generate(other)


SUITE_LEVEL = """\
*** Settings ***
Suite Setup    Measure Fresh Install

*** Test Cases ***
Message Only Figure
    Set Test Message    figure commands_lost = 0

*** Keywords ***
Measure Fresh Install
    Log    figure fresh_install_seconds = 1.5 s
    Set Suite Metadata    figure fresh_install_seconds    1.5 s
"""


def test_figures_survive_removed_keywords_and_suite_setup_figures_count(tmp_path: Path) -> None:
    folder = tmp_path / "suites"
    folder.mkdir()
    (folder / "03_install.robot").write_text(SUITE_LEVEL)
    out = tmp_path / "results"
    robot.run(str(folder / "03_install.robot"), outputdir=str(out), report="NONE", removekeywords="ALL",
              stdout=io.StringIO(), stderr=io.StringIO())
    run = read_output(out / "output.xml")
    (suite,) = run.suites
    assert suite.slug == "03_install"
    assert suite.tests[0].figures["commands_lost"].value == "0"
    assert suite.figures["fresh_install_seconds"].text == "1.5 s"  # from the suite metadata
    generate(out / "output.xml")
    assert "| fresh_install_seconds | 1.5 | s | — | — | (suite) |" in (out / "report-03_install.md").read_text()


SETUP_FAILS = """\
*** Settings ***
Suite Setup    Fail    Redis is not reachable at redis://127.0.0.1:1/0

*** Test Cases ***
Never Runs
    No Operation
"""


def test_a_failed_suite_setup_is_reported_with_its_message(tmp_path: Path) -> None:
    out = run_suites(tmp_path, {"09_broken.robot": SETUP_FAILS})
    assert main([str(out / "output.xml"), "--no-plots"]) == 0  # tests failed, reports written: exit 0
    report = (out / "report-09_broken.md").read_text()
    assert "**The suite setup failed**" in report
    assert "Redis is not reachable at redis://127.0.0.1:1/0" in report
    failure = ET.parse(out / "junit.xml").getroot().find("testsuite/testcase/failure")
    assert failure is not None and "Parent suite setup failed" in failure.get("message")
    assert not (out / "plots").exists()


def test_an_unwritable_report_folder_is_a_clear_error(results: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the reports should go")
    assert main([str(results / "output.xml"), "--outdir", str(blocker)]) == 2
    error = capsys.readouterr().err
    assert f"Cannot write reports into '{blocker}'" in error and "Fix:" in error
