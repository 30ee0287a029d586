*** Settings ***
Documentation       Scenario 5 — high availability under chaos.
...
...                 The full HA topology (3 API replicas, 3 Kubernetes agent replicas, 2 Docker agent replicas)
...                 carries ten or more mixed sessions while faults strike: a random API replica is killed, the
...                 Kubernetes leader is killed, a Docker agent replica is killed, Redis is lost, the network is
...                 partitioned. Background probes measure what users see (API availability through every
...                 replica, each session's state). Every fault is undone at the end of its test at the latest.
...                 The platform must recover fully within the budget with zero sessions lost, and the
...                 measured downtime is reported.

Resource            ../resources/chaos.resource
Variables           ../variables/thresholds.yaml

Suite Setup         The Chaos Test Environment Is Running
Suite Teardown      Leave The Platform
Test Setup          The Platform Is Ready
Test Teardown       Heal Everything

Test Tags           chaos    ha


*** Test Cases ***
Mixed Sessions Survive A Random API Replica Dying
    [Documentation]    One API replica, chosen at random, crashes under ten mixed sessions.
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    And What Users See Is Watched    ${sessions}
    When A Random API Replica Dies
    Then No Session Was Lost    ${sessions}
    And The Measured API Downtime Should Be At Most    ${MAX_API_DOWNTIME_SECONDS}
    And The Platform Still Takes New Sessions    docker

Mixed Sessions Survive The Kubernetes Leader Dying
    [Documentation]    The leading Kubernetes agent replica crashes under ten mixed sessions.
    [Tags]    kubernetes
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    And What Users See Is Watched    ${sessions}
    ${failover} =    When The Agent Leader Is Killed
    Then A New Leader Is Elected Within    ${LEADER_ELECTION_BUDGET}    ${failover}
    And No Session Was Lost    ${sessions}
    And The Measured API Downtime Should Be At Most    ${MAX_API_DOWNTIME_SECONDS}
    And The Platform Still Takes New Sessions    kubernetes

Mixed Sessions Survive A Docker Agent Replica Dying
    [Documentation]    The Docker agent replica holding the leader lock crashes; the other one takes over.
    [Tags]    docker
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    And What Users See Is Watched    ${sessions}
    When A Docker Agent Replica Dies
    Then The Agent Should Be Online    docker
    And No Session Was Lost    ${sessions}
    And Every Session Container Should Be Running    ${sessions}[${CHAOS_KUBERNETES_SESSIONS}:]
    And The Platform Still Takes New Sessions    docker

Mixed Sessions Survive Losing Redis
    [Documentation]    Redis goes away and comes back; sessions keep running and the hub recovers.
    [Tags]    redis
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    And What Users See Is Watched    ${sessions}
    When Redis Is Lost
    ${since} =    And Redis Comes Back
    Then The Agent Hub Recovers Within    ${REDIS_RECOVERY_BUDGET}    ${since}
    And No Session Was Lost    ${sessions}
    And The Measured API Downtime Should Be At Most    ${MAX_API_DOWNTIME_SECONDS}

Mixed Sessions Survive A Network Partition
    [Documentation]    The Kubernetes agent is cut off from the API replica holding it; it reconnects elsewhere.
    [Tags]    partition
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    And What Users See Is Watched    ${sessions}
    ${holder} =    When The Network Between The Agent And Its Replica Is Cut
    Then The Agent Moves Away From    kubernetes    ${holder}
    And No Session Was Lost    ${sessions}
    And The Platform Still Takes New Sessions    kubernetes
    And The Network Heals

The Platform Recovers Fully From Every Fault At Once
    [Documentation]    All faults strike one after the other; once undone, the platform recovers fully within the
    ...    budget with zero sessions lost, and the downtime users saw is measured.
    [Tags]    kubernetes    docker    redis    partition
    Given The Full HA Topology Is Running
    ${sessions} =    And Mixed Sessions Are Running    ${CHAOS_KUBERNETES_SESSIONS}    ${CHAOS_DOCKER_SESSIONS}
    And What Users See Is Watched    ${sessions}
    When Every Kind Of Fault Strikes In Turn
    ${since} =    And Every Fault Is Undone
    Then The Platform Fully Recovers Within    ${FULL_RECOVERY_BUDGET}    ${since}    ${sessions}
    And No Session Was Lost    ${sessions}
    And The Measured API Downtime Should Be At Most    ${MAX_API_DOWNTIME_SECONDS}
