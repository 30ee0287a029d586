*** Settings ***
Documentation       ProbesKit: each probe reports zero when nothing happens and detects a fault made on
...                 purpose (real API replica processes killed through the control API, session states
...                 changed on a real HTTP server, a real TCP stream). The stack is attached to through
...                 \${ENVIRONMENT_TOPOLOGY_FILE}, given on the command line.

Library             Collections
Library             ChaosKit
Library             EnvironmentKit
Library             ProbesKit
Library             RequestsLibrary

Suite Setup         Start Test Environment
Suite Teardown      Stop Test Environment


*** Variables ***
${STREAM_URL: str}          ${EMPTY}
${TOKEN: Secret}            %{KIT_TEST_TOKEN=test-token}


*** Test Cases ***
No Fault Means Zero Downtime
    [Documentation]    With every replica up, the availability probe reports zero downtime and no error.
    Start Availability Probe    interval=0.05s    name=calm
    Get Probe Figure    calm    checks    >=    30    timeout=5s
    ${report: dict} =    Stop Probe    calm
    Should Be Equal    ${report}[downtime]    ${0}
    Should Be Equal    ${report}[longest_downtime]    ${0}
    Should Be Equal    ${report}[errors]    ${0}
    Should Be Equal    ${report}[replica_downtime]    ${0}

A Killed Server Shows Downtime Until It Is Back
    [Documentation]    Killing the only probed replica gives one closed outage; RTO is its length.
    ${url: str} =    Get API URL    1
    Start Availability Probe    ${url}    interval=0.05s    name=one
    Get Probe Figure    one    checks    >=    5    timeout=5s
    Kill API Replica    1
    Get Probe Figure    one    errors    >=    5    timeout=5s
    Heal Everything
    Get Probe Figure    one    up_now    ==    ${True}    timeout=10s
    ${report: dict} =    Stop Probe    one
    Should Be True    ${report}[downtime] >= 0.2
    Should Be Equal    ${report}[rto]    ${report}[longest_downtime]
    Should Be Equal    ${report}[outages]    ${1}
    Should Be Equal    ${report}[windows][0][open]    ${False}

One Replica Down Leaves The Service Up
    [Documentation]    One replica of two down: the replica has downtime, the service none.
    Start Availability Probe    interval=0.05s    name=ha
    Get Probe Figure    ha    checks    >=    10    timeout=5s
    Kill API Replica    2
    Get Probe Figure    ha    errors    >=    5    timeout=5s
    Heal Everything
    Get Probe Figure    ha    up_now    ==    ${True}    timeout=10s
    ${report: dict} =    Stop Probe    ha
    Should Be Equal    ${report}[downtime]    ${0}
    Should Be True    ${report}[replica_downtime] >= 0.2

Stable Sessions Report Zero
    [Documentation]    A session that stays running is not reported.
    Set Session State    calm-1    running
    Start Session State Probe    calm-1    token=${TOKEN}    interval=0.05s    name=stable
    Get Probe Figure    stable    polls    >=    10    timeout=5s
    ${report: dict} =    Stop Probe    stable
    Should Be Empty    ${report}[left_steady]
    Should Be Equal    ${report}[unreachable]    ${0}

A Session That Leaves Running Is Reported
    [Documentation]    A session that went to failed and back is reported with the states it went through.
    Set Session State    s-1    running
    Set Session State    s-2    running
    Start Session State Probe    s-1    s-2    token=${TOKEN}    interval=0.05s    name=flaky
    Get Probe Figure    flaky    polls    >=    4    timeout=5s
    Set Session State    s-2    failed
    Get Probe Figure    flaky    left_count    ==    1    timeout=5s
    Set Session State    s-2    running
    ${seen: int} =    Get Probe Figure    flaky    polls
    Get Probe Figure    flaky    polls    >=    ${{ $seen + 6 }}    timeout=5s
    ${report: dict} =    Stop Probe    flaky
    Should Be Equal    ${report}[left_steady]    ${{ ['s-2'] }}
    Should Be Equal    ${report}[sessions][s-2][states]    ${{ ['running', 'failed', 'running'] }}

Delivered Commands Report No Loss
    [Documentation]    A command whose session reaches the expected state is delivered.
    Set Session State    c-1    running
    Start Command Delivery Probe    token=${TOKEN}    interval=0.05s    name=all-delivered
    Record Command Issued    cmd-1    session=c-1    expect=hibernated    probe=all-delivered
    Set Session State    c-1    hibernated
    ${report: dict} =    Stop Probe    all-delivered    settle=5s
    Should Be Equal    ${report}[issued]    ${1}
    Should Be Equal    ${report}[lost]    ${0}

A Command That Never Completes Is Lost
    [Documentation]    A command whose session never gets there counts as lost (RPO).
    Set Session State    c-2    running
    Set Session State    c-3    running
    Start Command Delivery Probe    token=${TOKEN}    interval=0.05s    name=one-lost
    Record Command Issued    cmd-2    session=c-2    expect=hibernated    probe=one-lost
    Record Command Issued    cmd-3    session=c-3    expect=hibernated    probe=one-lost
    Set Session State    c-2    hibernated
    ${report: dict} =    Stop Probe    one-lost    settle=1s
    Should Be Equal    ${report}[completed]    ${1}
    Should Be Equal    ${report}[rpo]    ${1}
    Should Be Equal    ${report}[lost_ids]    ${{ ['cmd-3'] }}

A Steady Stream Has No Gap
    [Documentation]    A stream ticking every 20 ms shows no gap over the threshold.
    Start Stream Probe    ${STREAM_URL}    name=ticks
    Get Probe Figure    ticks    chunks    >=    20    timeout=5s
    ${report: dict} =    Stop Probe    ticks
    Should Be True    ${report}[max_gap] < 0.5
    Should Be Equal    ${report}[disconnects]    ${0}
    Should Be Equal    ${report}[gaps_over_threshold]    ${0}

Probes Left Running Are Stopped At The End Of The Test
    [Documentation]    This test forgets to stop its probe; the next one checks it was stopped.
    Start Availability Probe    interval=0.2s    name=forgotten

No Probe Outlives Its Test
    [Documentation]    The forgotten probe was stopped by the listener; its report stays readable.
    Run Keyword And Expect Error    *No running probe named 'forgotten'*    Stop Probe    forgotten
    ${report: dict} =    Get Probe Report    forgotten
    Should Be Equal    ${report}[running]    ${False}


*** Keywords ***
Set Session State
    [Documentation]    Set a session's state on the test server (a hook of the test server only).
    [Arguments]    ${name: str}    ${state: str}
    ${url: str} =    Get API URL    1
    PUT    ${url}/test/sessions/${name}    json=${{ {'state': $state} }}    expected_status=200    timeout=5
