*** Settings ***
Documentation       Scenario 5 — high availability under chaos.
...
...                 The full HA topology (3 API replicas, 3 Kubernetes agent replicas, 2 Docker agent replicas)
...                 carries ten or more mixed sessions while faults strike: a random API replica is killed, the
...                 Kubernetes leader is killed, a Docker agent replica is killed, Redis is lost, the network is
...                 partitioned, PostgreSQL stops or is cut off from one API replica. Background probes watch what
...                 users see from before the fault until a settle time after recovery: each API replica's own
...                 availability, each session's state at a fine interval, and the VNC streams of two sessions
...                 through the Control Plane. Every fault is undone at the end of its test at the latest.
...                 The platform must recover fully within the budget with zero sessions lost; a replica the
...                 fault did not touch never stops answering; every measured figure is checked against its
...                 budget and reported with its resolution.

Resource            ../resources/chaos.resource
Variables           ../variables/thresholds.yaml

Suite Setup         The Chaos Test Environment Is Running
Suite Teardown      Leave The Platform
Test Setup          The Platform Is Ready
Test Teardown       Heal Everything

Test Tags           chaos    ha


*** Test Cases ***
Mixed Sessions Survive A Random API Replica Dying
    [Documentation]    One API replica, chosen at random, crashes under ten mixed sessions and is started again.
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    ${watch} =    And What Users See Is Watched    ${sessions}
    ${killed} =    When A Random API Replica Dies
    Then No Session Was Lost    ${sessions}
    And The Platform Still Takes New Sessions    docker
    When The Killed Replica Is Started Again    ${killed}
    Then What Users Saw Kept The Promises    ${watch}    ${killed}

Mixed Sessions Survive The Kubernetes Leader Dying
    [Documentation]    The leading Kubernetes agent replica crashes under ten mixed sessions.
    [Tags]    kubernetes
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    ${watch} =    And What Users See Is Watched    ${sessions}
    ${failover} =    When The Agent Leader Is Killed
    Then A New Leader Is Elected Within    ${LEADER_ELECTION_BUDGET}    ${failover}
    And No Session Was Lost    ${sessions}
    And The Platform Still Takes New Sessions    kubernetes
    And What Users Saw Kept The Promises    ${watch}

Mixed Sessions Survive A Docker Agent Replica Dying
    [Documentation]    The Docker agent replica holding the leader lock crashes; the other one takes over.
    [Tags]    docker
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    ${watch} =    And What Users See Is Watched    ${sessions}
    When A Docker Agent Replica Dies
    Then The Agent Should Be Online    docker
    And No Session Was Lost    ${sessions}
    And Every Docker Session Of The Mix Should Have Its Container Running    ${sessions}
    And The Platform Still Takes New Sessions    docker
    And What Users Saw Kept The Promises    ${watch}

Mixed Sessions Survive Losing Redis
    [Documentation]    Redis goes away and comes back; sessions keep running and the hub recovers.
    [Tags]    redis
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    ${watch} =    And What Users See Is Watched    ${sessions}
    When Redis Is Lost
    ${since} =    And Redis Comes Back
    Then The Agent Hub Recovers Within    ${REDIS_RECOVERY_BUDGET}    ${since}
    And No Session Was Lost    ${sessions}
    And What Users Saw Kept The Promises    ${watch}

Mixed Sessions Survive A Network Partition
    [Documentation]    The Kubernetes agent is cut off from the API replica holding it; it reconnects elsewhere.
    [Tags]    partition
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    ${watch} =    And What Users See Is Watched    ${sessions}
    ${holder} =    When The Network Between The Agent And Its Replica Is Cut
    Then The Agent Moves Away From    kubernetes    ${holder}
    And No Session Was Lost    ${sessions}
    And The Platform Still Takes New Sessions    kubernetes
    When The Network Heals
    Then What Users Saw Kept The Promises    ${watch}

Sessions, Commands And Logins Survive The Database Stopping
    [Documentation]    PostgreSQL stops, just after a command was given, and starts again while ten mixed
    ...    sessions run: meanwhile every replica refuses at once with a clear error; afterwards no session,
    ...    command or login is lost and the API recovers within its budget.
    [Tags]    database
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    ${user}    ${password} =    And A User Who Logged In
    ${spare} =    And A Running Session For    ${user}    kubernetes
    ${watch} =    And What Users See Is Watched    ${sessions}
    When The Session Is Told To Hibernate And The Database Is Lost    ${spare}    ${user}
    Then Each Replica Answers With A Clear Error Without The Database    ${user}    ${password}
    And Requests Keep Being Refused Clearly For    ${DATABASE_OUTAGE_TIME}
    ${since} =    When The Database Comes Back
    Then The API Recovers From The Database Loss Within    ${DATABASE_RECOVERY_BUDGET}    ${since}
    And No Session Was Lost    ${sessions}
    And The Command Was Carried Out    ${spare}    ${user}
    And No Login Was Lost    ${user}    ${password}
    And What Users Saw Kept The Promises    ${watch}

One API Replica Cut Off From The Database Refuses Clearly And Recovers
    [Documentation]    The API replica holding the Kubernetes agent loses its network to PostgreSQL: it refuses
    ...    at once with a clear error while the others answer as usual and still start sessions; once the
    ...    network heals it recovers within its budget, with no session or login lost.
    [Tags]    database    partition
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    ${user}    ${password} =    And A User Who Logged In
    ${watch} =    And What Users See Is Watched    ${sessions}
    ${cut} =    When The Database Is Cut Off From The Replica Holding The Agent
    Then Each Replica Answers With A Clear Error Without The Database    ${user}    ${password}    ${cut}
    And Requests Keep Being Refused Clearly For    ${DATABASE_OUTAGE_TIME}    ${cut}
    And The Other Replicas Answer Truly    ${cut}
    And The Platform Still Takes New Sessions    kubernetes
    ${since} =    When The Network To The Database Heals
    Then The API Recovers From The Database Loss Within    ${DATABASE_RECOVERY_BUDGET}    ${since}
    And No Session Was Lost    ${sessions}
    And No Login Was Lost    ${user}    ${password}
    And What Users Saw Kept The Promises    ${watch}

The Platform Recovers Fully From Every Fault At Once
    [Documentation]    All faults strike one after the other; once undone, the platform recovers fully within the
    ...    budget with zero sessions lost, and what users saw is checked.
    [Tags]    kubernetes    docker    redis    partition
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    ${watch} =    And What Users See Is Watched    ${sessions}
    ${killed} =    When Every Kind Of Fault Strikes In Turn
    ${since} =    And Every Fault Is Undone
    Then The Platform Fully Recovers Within    ${FULL_RECOVERY_BUDGET}    ${since}    ${sessions}
    And No Session Was Lost    ${sessions}
    And What Users Saw Kept The Promises    ${watch}    ${killed}
