"""KubeKit runs inside Robot Framework, and its cleanup listener removes what tests and suites created."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import robot
from kubernetes import client
from robot.api import ExecutionResult

from environments.local.kubeapi import KubeApiStandIn

SUITE = Path(__file__).with_name("kubekit_cleanup.robot")


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    server = KubeApiStandIn(tmp_path_factory.mktemp("kubeapi")).start()
    try:
        yield server
    finally:
        server.stop()


def test_robot_suite_passes_and_leaves_nothing_behind(standin, tmp_path):
    console = io.StringIO()
    rc = robot.run(str(SUITE), variable=[f"API_URL:{standin.url}"], outputdir=str(tmp_path), log="NONE",
                   report="NONE", stdout=console, stderr=console, console="dotted")
    result = ExecutionResult(str(tmp_path / "output.xml"))
    statuses = {test.name: test.status for test in result.suite.all_tests}
    assert rc == 0, console.getvalue()
    assert len(statuses) == 4 and set(statuses.values()) == {"PASS"}, statuses
    with client.ApiClient(client.Configuration(host=standin.url)) as api:
        names = {n.metadata.name for n in client.CoreV1Api(api).list_namespace(_request_timeout=5).items}
    assert not {"kit-robot-first", "kit-robot-suite"} & names  # removed at the end of the test and the suite


def test_a_failing_wait_reports_what_it_last_saw(standin, tmp_path):
    suite = tmp_path / "failing.robot"
    suite.write_text(
        "*** Settings ***\nLibrary    KubeKit\n\n*** Test Cases ***\nWaiting For A Missing Lease Fails Clearly\n"
        f"    Connect To Kubernetes    api_url={standin.url}\n"
        "    ${ns} =    Create Test Namespace\n"
        "    Wait Until Lease Has A Holder    nobody    ${ns}    timeout=0.5s\n")
    console = io.StringIO()
    rc = robot.run(str(suite), outputdir=str(tmp_path), log="NONE", report="NONE", stdout=console, stderr=console)
    test = next(iter(ExecutionResult(str(tmp_path / "output.xml")).suite.all_tests))
    assert rc == 1 and test.status == "FAIL"
    assert "Lease 'nobody'" in test.message and "last seen: no such lease" in test.message, test.message
    with client.ApiClient(client.Configuration(host=standin.url)) as api:
        left = [n.metadata.name for n in client.CoreV1Api(api).list_namespace(_request_timeout=5).items]
    assert left == []  # the failing test's namespace was still removed
