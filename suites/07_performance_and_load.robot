*** Settings ***
Documentation       Scenario 7 — performance and load.
...
...                 Session creation throughput (request to running) is measured at 5, 10, 15 and 20 parallel
...                 clients against the target of at least MIN_SESSIONS_PER_MINUTE (10) sessions per minute. Under
...                 load the API's and agents' CPU and memory, the database's connections, the VNC input
...                 latency and the WebSocket relay's overhead are measured; 50 sessions must run at once; and
...                 the concurrency at which the API breaks is searched for and reported. Every figure lands in
...                 the test message and the suite metadata (figure <name> = <value> <unit>).

Resource            ../resources/ha.resource
Resource            ../resources/load.resource
Variables           ../variables/thresholds.yaml

Suite Setup         The Load Test Environment Is Running
Suite Teardown      Leave The Platform
Test Setup          The Platform Is Ready
Test Teardown       Close All VNC Connections

Test Tags           load


*** Test Cases ***
Creation Throughput At Concurrency 5
    [Documentation]    Twenty sessions from five parallel clients: at least the target rate, request to running.
    [Tags]    throughput
    [Template]    Session Creation Throughput At Concurrency
    5

Creation Throughput At Concurrency 10
    [Documentation]    Twenty sessions from ten parallel clients: at least the target rate, request to running.
    [Tags]    throughput
    [Template]    Session Creation Throughput At Concurrency
    10

Creation Throughput At Concurrency 15
    [Documentation]    Twenty sessions from fifteen parallel clients: at least the target rate, request to running.
    [Tags]    throughput
    [Template]    Session Creation Throughput At Concurrency
    15

Creation Throughput At Concurrency 20
    [Documentation]    Twenty sessions from twenty parallel clients: at least the target rate, request to running.
    [Tags]    throughput
    [Template]    Session Creation Throughput At Concurrency
    20

Platform Resource Use Stays Within Limits Under Load
    [Documentation]    While twenty sessions are created at concurrency ten, the API's and agents' CPU and
    ...    memory and the database's connections stay under their ceilings.
    [Tags]    resources
    ${user} =    Given A Load User With Room For    ${SESSIONS_PER_LOAD_LEVEL}
    And Platform Resources Are Sampled
    When Sessions Are Created At Concurrency    ${user}    ${SESSIONS_PER_LOAD_LEVEL}    10
    Then Platform Resource Use Should Stay Within Limits

Fifty Sessions Run At Once
    [Documentation]    Fifty sessions are asked for by ten parallel clients and all fifty run at the same time.
    [Tags]    capacity
    ${user} =    Given A Load User With Room For    ${CONCURRENT_SESSIONS_TARGET}
    When Sessions Are Created At Concurrency    ${user}    ${CONCURRENT_SESSIONS_TARGET}    10
    Then Concurrent Sessions Should All Be Running    ${user}    ${CONCURRENT_SESSIONS_TARGET}

VNC Stays Responsive Under Load
    [Documentation]    With twenty other sessions running, typing in a viewer still comes back quickly, and the
    ...    WebSocket relay adds little over a direct connection.
    [Tags]    vnc
    ${user} =    Given A Load User With Room For    ${SESSIONS_PER_LOAD_LEVEL}
    And Sessions Are Created At Concurrency    ${user}    ${SESSIONS_PER_LOAD_LEVEL}    10
    ${watcher} =    And A New User Called    watcher
    ${session} =    When A Running Session For    ${watcher}    docker
    Then WebSocket Overhead Of VNC Should Stay Small    ${session}

The Failure Point Of The API Is Found
    [Documentation]    The number of parallel clients grows until the API's errors or latency break; the point
    ...    and its reason are reported, and the API must have served at least the required concurrency.
    [Tags]    failure-point
    Given An HA Control Plane With 3 API Replicas
    Then The API Failure Point Is Found
