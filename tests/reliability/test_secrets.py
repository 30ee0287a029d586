"""Secrets never reach an output: a real Robot Framework run against the stack uses every kind of
credential, then every file it and the stack wrote is searched for every one of them.

The suite logs in with the admin password from EnvironmentKit's ``Get Credentials`` (a ``Secret``),
fails a login with a wrong password on purpose, reads the agent key and the JWT secret, opens
the stack's password-protected VNC server (password from ``Get Credentials  vnc``), a Redis with
``requirepass`` and a PostgreSQL with password authentication (those passwords as ``Secret``
variables read from environment variables), and logs the topology. Robot runs at
``--loglevel TRACE`` (which logs every keyword argument). Then log.html, report.html,
output.xml, xunit.xml, the kitreport Markdown and every component log of the stack's run
are searched: no password, key, JWT secret -- and no JWT at all.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from .conftest import DB_PASSWORD, DB_USER, REDIS_PASSWORD
from .stackrun import REPO, StackRun

WRONG_PASSWORD = "kit-wrong-Pw-93f1"  # a wrong password must not show either
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")

SUITE = """\
*** Settings ***
Library         EnvironmentKit
Library         PlatformKit
Library         RedisKit
Library         DatabaseKit
Library         VncKit

*** Variables ***
${REDIS_PASSWORD: Secret}     %{KIT_REDIS_PASSWORD}
${DB_PASSWORD: Secret}        %{KIT_DB_PASSWORD}
${WRONG_PASSWORD: Secret}     %{KIT_WRONG_PASSWORD}

*** Test Cases ***
Admin Logs In With The Password From The Environment
    Start Test Environment    topology_file=%{KIT_TOPOLOGY_FILE}
    ${admin} =    Get Credentials    admin
    Log    ${admin}
    ${url} =    Get API URL
    Connect To Platform    ${url}
    Log In As    ${admin}[username]    ${admin}[password]
    ${token} =    Get Access Token
    Log    ${token}
    ${users} =    Get Users
    Log    ${users}

A Wrong Password Fails Without Showing It
    ${url} =    Get API URL
    Connect To Platform    ${url}    alias=wrong
    Run Keyword And Expect Error    *401*    Log In As    admin    ${WRONG_PASSWORD}

The Agent Key And The JWT Secret Stay Hidden
    ${key} =    Get Credentials    agentKey
    ${jwt} =    Get Credentials    jwtSecret
    Log Many    ${key}    ${jwt}
    ${topology} =    Get Topology
    Log    ${topology}

VNC Password Opens The Protected Server
    ${vnc} =    Get Credentials    vnc
    Connect To VNC    %{KIT_VNC_ADDRESS}    password=${vnc}[password]    timeout=10s
    ${size} =    Get Desktop Size
    Close All VNC Connections
    Run Keyword And Expect Error    *    Connect To VNC    %{KIT_VNC_ADDRESS}    password=${WRONG_PASSWORD}
    ...    timeout=5s

Redis Password Opens Redis
    Connect To Redis Server    %{KIT_REDIS_HOST}    %{KIT_REDIS_PORT}    password=${REDIS_PASSWORD}
    Set Value    kit:secret-test    visible
    Get Value Of Key    kit:secret-test    ==    visible
    Delete Keys    kit:secret-test
    Run Keyword And Expect Error    *    Connect To Redis Server    %{KIT_REDIS_HOST}    %{KIT_REDIS_PORT}
    ...    password=${WRONG_PASSWORD}    alias=wrong
    [Teardown]    Close All Redis Connections

Database Password Opens PostgreSQL
    Connect To PostgreSQL    host=%{KIT_DB_HOST}    port=%{KIT_DB_PORT}    user=%{KIT_DB_USER}
    ...    password=${DB_PASSWORD}    dbname=postgres
    Get Query Rows    SELECT current_user
    Run Keyword And Expect Error    *    Connect To PostgreSQL    host=%{KIT_DB_HOST}    port=%{KIT_DB_PORT}
    ...    user=%{KIT_DB_USER}    password=${WRONG_PASSWORD}    dbname=postgres    alias=wrong
    [Teardown]    Close All Database Connections
"""


def known_secrets(topology: dict[str, Any]) -> dict[str, str]:
    creds = topology["credentials"]
    secrets = {"admin password": creds["admin"]["password"], "agent key": creds["agentKey"],
               "JWT secret": creds["jwtSecret"], "VNC password": creds["vnc"]["password"],
               "Redis password": REDIS_PASSWORD, "database password": DB_PASSWORD,
               "wrong password": WRONG_PASSWORD}
    secrets |= {f"password of {u['username']}": u["password"] for u in creds["users"]}
    return secrets


def outputs_of(results: Path, stack: StackRun) -> list[Path]:
    files = [p for p in results.rglob("*") if p.is_file()]
    files += [p for p in stack.component_logs.rglob("*") if p.is_file()]
    files.append(stack.output)
    return files


def find_secrets(files: list[Path], secrets: dict[str, str]) -> list[str]:
    found = []
    for path in files:
        text = path.read_text(errors="replace")
        found += [f"{name} in {path}" for name, value in secrets.items() if value and value in text]
        found += [f"a JWT in {path}: {m[:24]}..." for m in JWT.findall(text)]
    return found


@pytest.fixture(scope="module")
def secret_run(stack: StackRun, locked_redis: Any, password_postgres: Any,
               tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("secrets")
    suite = work / "secrets.robot"
    suite.write_text(SUITE)
    topology_file = work / "topology.json"
    topology_file.write_text(json.dumps(stack.topology))
    topology_file.chmod(0o600)
    vnc = next(v for v in stack.topology["vnc"] if v["security"] == "VncAuth")
    env = {**os.environ, "KIT_TOPOLOGY_FILE": str(topology_file),
           "KIT_VNC_ADDRESS": f"{vnc['host']}:{vnc['port']}",
           "KIT_REDIS_HOST": locked_redis.host, "KIT_REDIS_PORT": str(locked_redis.port),
           "KIT_REDIS_PASSWORD": REDIS_PASSWORD, "KIT_DB_HOST": password_postgres.host,
           "KIT_DB_PORT": str(password_postgres.port), "KIT_DB_USER": DB_USER, "KIT_DB_PASSWORD": DB_PASSWORD,
           "KIT_WRONG_PASSWORD": WRONG_PASSWORD}
    results = work / "results"
    robot = subprocess.run([sys.executable, "-m", "robot", "--outputdir", str(results), "--xunit", "xunit.xml",
                            "--loglevel", "TRACE", str(suite)], capture_output=True, text=True, timeout=180,
                           cwd=REPO, env=env, check=False)
    (results / "console.txt").write_text(robot.stdout + robot.stderr)
    report = subprocess.run([sys.executable, "-m", "kitreport", str(results / "output.xml"), "--outdir",
                             str(results / "kitreport"), "--no-plots"], capture_output=True, text=True,
                            timeout=120, cwd=REPO, check=False)
    return {"robot": robot, "report": report, "results": results}


def test_the_suite_really_used_the_credentials(secret_run: dict[str, Any]) -> None:
    robot = secret_run["robot"]
    assert robot.returncode == 0, robot.stdout[-3000:]
    assert "6 tests, 6 passed, 0 failed" in robot.stdout, robot.stdout[-1500:]


def test_no_output_of_the_run_holds_a_secret(secret_run: dict[str, Any], stack: StackRun) -> None:
    results = secret_run["results"]
    files = outputs_of(results, stack)
    names = {p.name for p in files}
    assert {"log.html", "report.html", "output.xml", "xunit.xml"} <= names, names
    assert secret_run["report"].returncode == 0, secret_run["report"].stderr
    assert any(p.suffix == ".md" for p in (results / "kitreport").rglob("*")), "kitreport wrote no Markdown"
    assert any(stack.component_logs.glob("*.log")), f"no component logs in {stack.component_logs}"
    found = find_secrets(files, known_secrets(stack.topology))
    assert not found, f"secrets in the outputs: {found}"


def test_the_search_would_find_a_secret(tmp_path: Path, stack: StackRun) -> None:
    """The search is not blind: a planted secret or JWT is found."""
    planted = tmp_path / "planted.log"
    admin = stack.topology["credentials"]["admin"]["password"]
    planted.write_text(f"password={admin} token=eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.c2lnbmF0dXJlc2lnbmF0dXJl")
    found = find_secrets([planted], known_secrets(stack.topology))
    assert len(found) == 2, found


def test_no_command_line_of_the_stack_holds_a_secret(stack: StackRun) -> None:
    secrets = known_secrets(stack.topology)
    stack.watch.sample()
    cmdlines = dict(stack.watch.seen)  # every process the stack ran so far, also those gone since
    root = psutil.Process(stack.process.pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            cmdlines[(proc.pid, proc.create_time())] = " ".join(proc.cmdline())
        except psutil.Error:
            continue
    assert len(cmdlines) >= 8, cmdlines  # the supervisor, backends, API, agents, kubelet...
    found = [f"{name} in the command line of {pid}: {cmd[:100]}" for (pid, _), cmd in cmdlines.items()
             for name, value in secrets.items() if value in cmd]
    assert not found, found
