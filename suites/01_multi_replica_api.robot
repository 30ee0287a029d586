*** Settings ***
Documentation       Scenario 1 — a Control Plane with several API replicas.
...
...                 Agents connect outbound to any API replica; the replicas share PostgreSQL and a Redis agent
...                 hub (``agent:<id>:pod`` names the pod of the replica that holds an agent's WebSocket). A
...                 command for an agent held by another replica travels over Redis pub/sub on
...                 ``pod:<pod>:commands``.
...                 These tests check that any replica can serve any request, that the replicas agree on what
...                 they report, that losing a replica loses no session, and that losing Redis degrades the
...                 API without breaking it and recovers once Redis is back. Where the agent protocol shows, its
...                 messages are checked against the contract: the forwarded ``command`` envelopes, the agent's
...                 ``ack`` and ``complete`` in each command's record, and its heartbeats.

Resource            ../resources/ha.resource
Resource            ../resources/protocol.resource
Variables           ../variables/thresholds.yaml

Suite Setup         The HA Test Environment Is Running    own=${TRUE}
Suite Teardown      Leave The Platform
Test Setup          The Platform Is Ready
Test Teardown       Heal Everything

Test Tags           ha


*** Test Cases ***
Each Agent Is Held By One Running Replica The Hub Names
    [Documentation]    The Redis hub names one running replica as the holder of each agent, and every replica
    ...    reports the agent online.
    [Tags]    redis
    Given An HA Control Plane With 3 API Replicas
    Then Each Agent Is Held By One Running Replica The Hub Names    kubernetes
    And Each Agent Is Held By One Running Replica The Hub Names    docker

Sessions Created Through Different Replicas All Run
    [Documentation]    Any replica accepts a session request, whichever replica holds the agent.
    Given An HA Control Plane With 3 API Replicas
    ${user} =    And A New User Called    alice
    ${first} =    When A Running Session For    ${user}    kubernetes    replica=api-1
    ${second} =    And A Running Session For    ${user}    docker    replica=api-2
    ${third} =    And A Running Session For    ${user}    kubernetes    replica=api-3
    Then The Session Should Read The Same On Every Running Replica    ${first}
    And The Session Should Read The Same On Every Running Replica    ${second}
    And The Session Should Read The Same On Every Running Replica    ${third}

A Command Sent Through Another Replica Crosses Over Redis
    [Documentation]    A replica that does not hold the agent publishes the command on the holder's channel, in the
    ...    contract's envelope, and the agent acknowledges and completes it.
    [Tags]    redis
    Given An HA Control Plane With 3 API Replicas
    ${holder} =    And The Replica Holding The Agent Of    kubernetes
    ${other} =    And A Replica Other Than    ${holder}
    And Commands Published For A Replica Are Watched    ${holder}
    ${user} =    And A New User Called    alice
    ${session} =    When A Running Session For    ${user}    kubernetes    replica=${other}
    Then The Command Should Cross Over Redis    ${holder}    ${session}    start_session
    When Terminate Session    ${session}    replica=${other}
    Then The Command Should Cross Over Redis    ${holder}    ${session}    stop_session
    And Wait Until Session Is    ${session}    terminated    timeout=${SESSION_COMMAND_BUDGET}
    And The Commands Forwarded Over Redis Should Follow The Contract    ${holder}
    And The Agent Should Have Answered Every Command For    ${session}    start_session    stop_session

Agent Status Reads The Same On Every Replica
    [Documentation]    Every replica reports both agents online, and their heartbeats keep arriving.
    Given An HA Control Plane With 3 API Replicas
    Then Agent Status Should Read The Same On Every Replica    kubernetes
    And Agent Status Should Read The Same On Every Replica    docker
    And The Agent's Heartbeats Should Be Fresh    kubernetes
    And The Agent's Heartbeats Should Be Fresh    docker

A Token Works On Every Replica
    [Documentation]    One login is enough for every replica (the replicas share the token secret).
    Given An HA Control Plane With 3 API Replicas
    ${user} =    When A New User Called    alice
    Then Every Replica Accepts The Token Of    ${user}

A Token Survives The Restart Of A Replica
    [Documentation]    Restarting a replica logs nobody out.
    Given An HA Control Plane With 3 API Replicas
    ${user} =    And A New User Called    alice
    When An API Replica Is Restarted    api-1
    Then Every Replica Accepts The Token Of    ${user}

Sessions Survive The Death Of The Replica Holding The Agent
    [Documentation]    The replica holding the Kubernetes agent crashes: sessions keep running, the agent moves
    ...    to another replica, and new sessions still start.
    Given An HA Control Plane With 3 API Replicas
    ${user} =    And A New User Called    alice
    ${sessions} =    And Running Sessions For    ${user}    2    kubernetes
    ${killed} =    When The Replica Holding The Agent Dies    kubernetes
    Then Sessions Should Survive    ${sessions}
    And The Agent Moves Away From    kubernetes    ${killed}
    And Every Running API Replica Answers
    And A Running Session For    ${user}    kubernetes

A Session Is Managed Through The Surviving Replicas
    [Documentation]    A session created through the replica holding the Docker agent, which then dies, is
    ...    hibernated, woken and terminated through the others (the agent must move to one of them), and the
    ...    agent acknowledged and completed every one of those commands.
    Given An HA Control Plane With 3 API Replicas
    ${user} =    And A New User Called    alice
    ${holder} =    And The Replica Holding The Agent Of    docker
    ${session} =    And A Running Session For    ${user}    docker    replica=${holder}
    When API Replica Dies    ${holder}
    Then The Session Is Hibernated    ${session}
    And The Session Is Woken    ${session}
    And The Session Is Terminated    ${session}
    And The Agent Should Have Answered Every Command For    ${session}
    ...    start_session    hibernate_session    wake_session    stop_session

The API Degrades Gracefully Without Redis
    [Documentation]    With Redis gone every replica still answers, reads work, commands to agents held locally
    ...    work, and a replica that cannot reach the agent answers at once instead of hanging.
    [Tags]    redis    chaos
    Given An HA Control Plane With 3 API Replicas
    ${user} =    And A New User Called    alice
    ${session} =    And A Running Session For    ${user}    kubernetes
    ${holder} =    And The Replica Holding The Agent Of    kubernetes
    When Redis Is Lost
    Then The API Answers Without Redis
    And Session Should Be Running    ${session}
    And A Running Session For    ${user}    kubernetes    replica=${holder}
    And A Session Through A Replica Without The Agent Is Refused Cleanly Or Runs    ${holder}

The Agent Hub Recovers When Redis Comes Back
    [Documentation]    Once Redis is back, heartbeats re-create the hub keys within the budget and commands cross
    ...    replicas again.
    [Tags]    redis    chaos
    Given An HA Control Plane With 3 API Replicas
    And Redis Is Lost
    ${since} =    When Redis Comes Back
    Then The Agent Hub Recovers Within    ${REDIS_RECOVERY_BUDGET}    ${since}
    And Agent Status Should Read The Same On Every Replica    kubernetes
    ${holder} =    And The Replica Holding The Agent Of    kubernetes
    ${other} =    And A Replica Other Than    ${holder}
    ${user} =    And A New User Called    alice
    And A Running Session For    ${user}    kubernetes    replica=${other}
