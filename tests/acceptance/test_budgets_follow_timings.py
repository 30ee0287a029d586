"""The budgets rest on the timings the environment runs with: a stack whose topology reports other timings
than the ones the budgets were derived from fails the suite setup step, naming the timing."""

from __future__ import annotations

import io
from pathlib import Path

import robot
from robot.api import ExecutionResult

ROOT = Path(__file__).resolve().parents[2]
SUITE = f"""\
*** Settings ***
Resource          {ROOT / "resources" / "platform.resource"}
Suite Setup       Start Test Environment    only=postgres
Suite Teardown    Stop Test Environment

*** Test Cases ***
The Budgets Rest On The Running Timings
    The Budgets Follow The Environment's Timings

Budgets From Another Lease Are Refused
    VAR    ${{BUDGET_TIMINGS}}    ${{{{{{**$BUDGET_TIMINGS, 'leaseDuration': 15.0}}}}}}    scope=TEST
    The Budgets Follow The Environment's Timings
"""


def test_budgets_derived_from_other_timings_fail_naming_the_timing(tmp_path: Path) -> None:
    (tmp_path / "budgets.robot").write_text(SUITE)
    robot.run(str(tmp_path / "budgets.robot"), outputdir=str(tmp_path), report="NONE", log="NONE",
              stdout=io.StringIO(), stderr=io.StringIO())
    tests = {t.name: t for t in ExecutionResult(str(tmp_path / "output.xml")).suite.all_tests}
    assert tests["The Budgets Rest On The Running Timings"].status == "PASS", \
        tests["The Budgets Rest On The Running Timings"].message
    refused = tests["Budgets From Another Lease Are Refused"]
    assert refused.status == "FAIL"
    assert "derived from other timings than the environment runs with" in refused.message
    assert "'leaseDuration': {'stated': 15.0, 'running': 3.0}" in refused.message
