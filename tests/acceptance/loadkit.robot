*** Settings ***
Documentation       LoadKit against a real aiohttp server whose /delay answers after a fixed 20 ms.

Library             Collections
Library             LoadKit


*** Variables ***
${BASE_URL: str}        ${EMPTY}
${SERVER_PID: int}      0
${TOKEN: Secret}        %{KIT_TEST_TOKEN=test-token}


*** Test Cases ***
Latency Of A 20 ms Server Is Measured As 20 ms
    [Documentation]    p50 is the server's fixed delay plus the round trip measured without the delay
    ...    (so a busy machine does not blur the figure); throughput is at most concurrency / delay.
    ${base: dict} =    Run Load    GET ${BASE_URL}/delay?ms=0    count=200    concurrency=5    plot=${False}
    ${summary: dict} =    Run Load    GET ${BASE_URL}/delay?ms=20    count=200    concurrency=5    name=fixed-delay
    Should Be Equal    ${summary}[count]    ${200}
    Should Be Equal    ${summary}[success_rate]    ${100.0}
    Should Be True    ${summary}[p50_ms] >= 19.5
    Should Be True    abs(${summary}[p50_ms] - ${base}[p50_ms] - 20) <= 10
    Should Be True    ${summary}[p50_ms] <= ${summary}[p95_ms] <= ${summary}[p99_ms] <= ${summary}[max_ms]
    Should Be True    50 <= ${summary}[throughput_per_s] <= 260
    Get Load Figure    p50_ms    >=    19.5

Errors Are Counted With Their Kind
    [Documentation]    Every failed call is counted, grouped by its error.
    ${summary: dict} =    Run Load    GET ${BASE_URL}/fail    count=20    concurrency=2    plot=${False}
    Should Be Equal    ${summary}[failed]    ${20}
    Should Be Equal    ${summary}[success_rate]    ${0.0}
    Dictionary Should Contain Key    ${summary}[errors]    OperationFailed: HTTP 500

A Defined Operation Sends Its Secret Token
    [Documentation]    The bearer token (a Secret) reaches the server; without it the server says 401.
    Define HTTP Operation    with-token    GET    ${BASE_URL}/api/v1/sessions/none    token=${TOKEN}
    ...    expect_status=${{ [404] }}
    Define HTTP Operation    without-token    GET    ${BASE_URL}/api/v1/sessions/none    expect_status=${{ [404] }}
    ${good: dict} =    Run Load    with-token    count=10    concurrency=2    plot=${False}
    Should Be Equal    ${good}[success_rate]    ${100.0}
    ${bad: dict} =    Run Load    without-token    count=10    concurrency=2    plot=${False}
    Dictionary Should Contain Key    ${bad}[errors]    OperationFailed: HTTP 401

A Target Rate Paces The Calls
    [Documentation]    21 calls at 50/s take at least 0.4 s.
    ${summary: dict} =    Run Load    GET ${BASE_URL}/health    count=21    concurrency=5    rate=50    plot=${False}
    Should Be True    ${summary}[duration_s] >= 0.39
    Should Be True    ${summary}[throughput_per_s] <= 55

Throughput Grows With Concurrency Against A Waiting Server
    [Documentation]    Against a server that waits, more concurrency gives more throughput.
    ${steps: list} =    Run Load Steps    GET ${BASE_URL}/delay?ms=20    1    2    4    count_per_step=40
    Length Should Be    ${steps}    3
    Should Be Equal    ${steps}[2][concurrency]    ${4}
    Should Be True    ${steps}[2][throughput_per_s] > 2 * ${steps}[0][throughput_per_s]

The Failure Point Is Where Errors Start
    [Documentation]    A failing endpoint fails at the first step.
    ${found: dict} =    Find Failure Point    GET ${BASE_URL}/fail    start=2    step=2    maximum=6
    ...    count_per_step=10
    Should Be Equal    ${found}[failure_point]    ${2}
    Should Start With    ${found}[reason]    error rate 100.0 %
    Should Be Equal    ${found}[last_good]    ${None}

No Failure Point Below The Limit Is Reported As None
    [Documentation]    A healthy endpoint has no failure point up to the maximum. Forty calls per step and 20 x
    ...    the first step's p95 (420 ms on a 20 ms server): a machine busy with other tests delays a call or two
    ...    by a hundred milliseconds, which is not the endpoint failing.
    ${found: dict} =    Find Failure Point    GET ${BASE_URL}/delay?ms=20    start=1    step=1    maximum=3
    ...    count_per_step=40    latency_factor=20
    Should Be Equal    ${found}[failure_point]    ${None}
    Should Be Equal    ${found}[last_good]    ${3}
    Length Should Be    ${found}[steps]    3

Server Process Use Is Sampled During Load
    [Documentation]    The server process's CPU and memory are sampled while load runs.
    Start Resource Sampling    pids=${{ [$SERVER_PID] }}    interval=0.1s
    Run Load    GET ${BASE_URL}/delay?ms=5    count=300    concurrency=10    plot=${False}
    ${usage: dict} =    Stop Resource Sampling
    Should Be True    ${usage}[targets][processes][max_cpu_percent] > 0
    Should Be True    ${usage}[targets][processes][max_rss_mb] > 10
