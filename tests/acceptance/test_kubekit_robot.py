"""KubeKit runs inside Robot Framework, and its cleanup listener removes what tests and suites created."""

from __future__ import annotations

import io
import socket
import threading
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


PORT_FORWARD_SUITE = """\
*** Settings ***
Library             KubeKit
Library             RoundTrip.py
Suite Setup         Connect To Kubernetes    api_url=${API_URL}
Suite Teardown      Close All Kubernetes Connections


*** Test Cases ***
Port Forward Reaches The Pod
    ${local: int} =    Port Forward To Pod    vnc    ${NS}    ${PORT}
    VAR    ${LOCAL}    ${local}    scope=SUITE
    ${answer: str} =    Round Trip Through    ${local}    RFB 003.008
    Should Be Equal    ${answer}    RFB 003.008

The Cleanup Listener Closed The Forward After The Test
    Run Keyword And Expect Error    *Connection refused*    Round Trip Through    ${LOCAL}    again
"""

ROUND_TRIP = '''\
import socket


def round_trip_through(port: int, message: str) -> str:
    with socket.create_connection(("127.0.0.1", int(port)), timeout=5) as conn:
        conn.settimeout(5)
        conn.sendall(message.encode())
        return conn.recv(1024).decode()
'''


def test_port_forward_to_a_pod_of_the_stand_in_and_its_cleanup(standin, tmp_path):
    """The pod listens on a loopback address (as the local stack's pods do): the stand-in forwards to it."""
    pod_ip = "127.0.209.4"
    server = socket.create_server((pod_ip, 0))
    server.settimeout(5)

    def echo_once() -> None:  # the suite's one connection through the forward
        conn, _ = server.accept()
        with conn:
            conn.sendall(conn.recv(1024))

    thread = threading.Thread(target=echo_once, daemon=True)
    thread.start()
    with client.ApiClient(client.Configuration(host=standin.url)) as api:
        core = client.CoreV1Api(api)
        core.create_namespace({"metadata": {"name": "kit-robot-pf"}}, _request_timeout=5)
        core.create_namespaced_pod("kit-robot-pf", {"metadata": {"name": "vnc"},
                                                    "spec": {"containers": [{"name": "c", "image": "i"}]}},
                                   _request_timeout=5)
        core.patch_namespaced_pod_status("vnc", "kit-robot-pf", {"status": {"phase": "Running", "podIP": pod_ip}},
                                         _request_timeout=5)
        try:
            (tmp_path / "RoundTrip.py").write_text(ROUND_TRIP)
            (tmp_path / "forward.robot").write_text(PORT_FORWARD_SUITE)
            console = io.StringIO()
            rc = robot.run(str(tmp_path / "forward.robot"), outputdir=str(tmp_path), log="NONE", report="NONE",
                           variable=[f"API_URL:{standin.url}", "NS:kit-robot-pf", f"PORT:{server.getsockname()[1]}"],
                           pythonpath=[str(tmp_path)], stdout=console, stderr=console)
            result = ExecutionResult(str(tmp_path / "output.xml"))
            verdicts = {t.name: (t.status, t.message) for t in result.suite.all_tests}
            assert rc == 0, verdicts
        finally:
            core.delete_namespace("kit-robot-pf", _request_timeout=5)
            thread.join(5)
            server.close()
