*** Settings ***
Documentation       Scenario 2 — leader election among the Kubernetes agent's replicas.
...
...                 The Kubernetes agent runs as several replicas sharing one agent id, hence one
...                 ``coordination.k8s.io/v1`` Lease ``streamspace-agent-<agentId>``. Exactly one replica leads:
...                 only the leader connects to the Control Plane and runs commands; a replica that is no longer
...                 leader refuses commands with ``not leader``. When the leader dies another replica must take
...                 the Lease within LEADER_ELECTION_BUDGET (30 s, the seed's target), the agent must come back
...                 online, and no session, command or data may be lost or carried out twice.

Resource            ../resources/kubernetes_agents.resource
Variables           ../variables/thresholds.yaml

Suite Setup         The Kubernetes Test Environment Is Running
Suite Teardown      Leave The Platform
Test Setup          The Platform Is Ready
Test Teardown       Heal Everything

Test Tags           kubernetes    ha


*** Test Cases ***
Exactly One Replica Leads And Holds The Lease
    [Documentation]    Of three replicas exactly one leads: it is the only one that claims the Lease (every replica
    ...    that believes it leads renews it in its own name), the agent reaches the Control Plane through one
    ...    connection only, the Lease names it, and the Control Plane sees one agent.
    ${leader} =    Given Three Kubernetes Agent Replicas With One Leader
    Then Only The Leader Acts    ${leader}
    And The Lease Should Name    ${leader}
    And Only The Leader Is Connected To The Control Plane    ${leader}

Only The Leader Runs Sessions
    [Documentation]    Sessions are started by the leader: the agent the Control Plane uses is the leading replica.
    ${leader} =    Given Three Kubernetes Agent Replicas With One Leader
    ${user} =    And A New User Called    alice
    ${sessions} =    When Running Sessions For    ${user}    2    kubernetes
    Then Only The Leader Is Connected To The Control Plane    ${leader}
    And Every Session Should Still Have Its Pod    ${sessions}
    And The Leader Should Still Be    ${leader}

A New Leader Is Elected Within The Budget When The Leader Dies
    [Documentation]    The leader crashes; another replica takes the Lease within the election budget.
    [Tags]    failover
    Given Three Kubernetes Agent Replicas With One Leader
    ${failover} =    When The Agent Leader Is Killed
    ${new} =    Then A New Leader Is Elected Within    ${LEADER_ELECTION_BUDGET}    ${failover}
    And The Agent Is Back Online Within    ${AGENT_RECONNECT_BUDGET}    ${failover}    ${new}

Leader Failover Keeps Every Session
    [Documentation]    Sessions started before the leader dies stay running at every moment, watched until the new
    ...    leader is back online and the settle time is over, and keep their pods.
    [Tags]    failover
    Given Three Kubernetes Agent Replicas With One Leader
    ${user} =    And A New User Called    alice
    ${sessions} =    And Running Sessions For    ${user}    3    kubernetes
    And The Sessions' States Are Watched    ${sessions}
    ${failover} =    When The Agent Leader Is Killed
    Then A New Leader Is Elected Within    ${LEADER_ELECTION_BUDGET}    ${failover}
    And The Agent Should Be Online    kubernetes
    And No Session Left Running Until The Settle Time Is Over
    And Every Session Should Still Have Its Pod    ${sessions}

No Command Is Lost Or Carried Out Twice Across A Failover
    [Documentation]    Commands issued while the leader dies are all carried out, each exactly once.
    [Tags]    failover    data-loss
    Given Three Kubernetes Agent Replicas With One Leader
    ${user} =    And A New User Called    alice
    ${sessions} =    And Running Sessions For    ${user}    3    kubernetes
    And Commands Are Counted
    ${failover} =    When The Agent Leader Is Killed
    And Every Session Is Hibernated Through The Failover    ${sessions}
    Then A New Leader Is Elected Within    ${LEADER_ELECTION_BUDGET}    ${failover}
    And No Command Was Lost
    And No Command Was Carried Out Twice    ${sessions}

A Deposed Leader Refuses Commands Gracefully
    [Documentation]    The leader is cut off from Kubernetes and loses the Lease. A command sent to it right then
    ...    (before the new leader took the Lease, so it reached the deposed leader) is refused with "not leader" or
    ...    carried out exactly once through the new leader; nothing is lost, run twice or left hanging, and the
    ...    platform keeps working through the new leader.
    [Tags]    failover    partition
    Given Three Kubernetes Agent Replicas With One Leader
    ${user} =    And A New User Called    alice
    ${session} =    And A Running Session For    ${user}    kubernetes
    ${failover} =    When The Agent Leader Is Cut Off From Kubernetes
    ${command} =    And A Command Is Sent To The Deposed Leader    ${session}
    ${new} =    Then A New Leader Is Elected Within    ${LEADER_ELECTION_BUDGET}    ${failover}
    ${acquired} =    And The Lease Was Taken At
    And The Command Should Have Reached The Deposed Leader    ${command}    ${acquired}
    And The Command Should Be Refused Gracefully Or Carried Out Once    ${command}
    And Only The Leader Is Connected To The Control Plane    ${new}

A Follower Dying Changes Nothing
    [Documentation]    A replica that does not lead crashes: the leadership does not move and sessions still start.
    ${leader} =    Given Three Kubernetes Agent Replicas With One Leader
    When A Follower Is Killed    ${leader}
    Then The Leader Should Still Be    ${leader}
    And Only The Leader Acts    ${leader}
    ${user} =    And A New User Called    alice
    And A Running Session For    ${user}    kubernetes
    And Only The Leader Is Connected To The Control Plane    ${leader}

A Session Started After Failover Runs Through The New Leader
    [Documentation]    After a failover, hibernate, wake and terminate all go through the new leader.
    [Tags]    failover
    Given Three Kubernetes Agent Replicas With One Leader
    ${user} =    And A New User Called    alice
    ${failover} =    When The Agent Leader Is Killed
    ${new} =    And A New Leader Is Elected Within    ${LEADER_ELECTION_BUDGET}    ${failover}
    ${session} =    Then A Running Session For    ${user}    kubernetes
    And The Session Is Hibernated    ${session}
    And The Session Is Woken    ${session}
    And The Session Is Terminated    ${session}
    And Only The Leader Acts    ${new}
    And Only The Leader Is Connected To The Control Plane    ${new}
