*** Settings ***
Documentation       RedisKit inside Robot Framework: a Secret password, getters that assert,
...                 hub pub/sub traffic and the cleanup of what a test created.
...                 Run from test_rediskit_robot.py, which starts Redis with a password.

Library             RedisKit

Suite Setup         Connect To Redis Server    ${REDIS_HOST}    ${REDIS_PORT}    password=${REDIS_PASSWORD}    timeout=2s
Suite Teardown      Close All Redis Connections


*** Variables ***
${REDIS_HOST: str}              127.0.0.1
${REDIS_PORT: int}              6379
${REDIS_PASSWORD: Secret}       %{REDISKIT_PASSWORD}
${TRACKED_KEY: str}             robot:tracked-key


*** Test Cases ***
Tracked Key Is Readable During The Test
    [Documentation]    A key set with cleanup=True is there while the test runs.
    [Tags]    keys    cleanup
    Set Value    ${TRACKED_KEY}    running    ttl=1 min    cleanup=True
    Get Value Of Key    ${TRACKED_KEY}    ==    running
    Key Should Exist    ${TRACKED_KEY}

Tracked Key Is Gone After The Test
    [Documentation]    The library's listener deleted the key when the previous test ended.
    [Tags]    keys    cleanup
    Key Should Not Exist    ${TRACKED_KEY}

Hub Command Is Seen On The Pod Channel
    [Documentation]    A command envelope published on a replica's channel is found by its JSON fields.
    [Tags]    pubsub
    Subscribe To Patterns    pod:*:commands    subscription=hub
    ${envelope: str} =    Evaluate    json.dumps({"type": "command", "payload": {"action": "stop_session"}})
    ${message: dict} =    Evaluate    {"agentId": "k8s-local", "message": $envelope}
    Publish Message    pod:api-1:commands    ${message}
    ${received: dict} =    Wait Until Message Received    pod:*:commands    agentId=k8s-local
    ...    message.payload.action=stop_session    timeout=3s
    Should Be Equal    ${received}[channel]    pod:api-1:commands
    Get Received Message Count    pod:*:commands    ==    1    fields=${{ {'agentId': 'k8s-local'} }}

A Failing Getter Says What It Last Saw
    [Documentation]    A getter that retries reports how long it tried and what it last saw.
    [Tags]    assertions
    Run Keyword And Expect Error    *retried for*the last try failed*does not exist*
    ...    Get Value Of Key    robot:missing-key    ==    anything    timeout=0.3s

Server Facts Are Readable
    [Documentation]    Role, clients and latency of the server.
    [Tags]    server
    Get Redis Role    ==    master
    Get Connected Clients Count    >=    1
    ${latency: float} =    Measure Redis Ping Latency    count=5
    Should Be True    ${latency} < 100
