*** Settings ***
Documentation       Scenario 3 — the life of a Docker agent session, checked on the container engine itself.
...
...                 The Docker agent runs each session as a container ``streamspace-<session>`` on the bridge
...                 network ``streamspace``, with its VNC port 5900 published on the host, its memory and CPU
...                 limited as requested, and a volume ``streamspace-<session>-home`` mounted at the home when
...                 a persistent home is asked for. Hibernation stops the container and keeps the volume and
...                 its data; waking starts it again; termination removes the container and the volume.

Resource            ../resources/docker.resource
Resource            ../resources/protocol.resource
Variables           ../variables/thresholds.yaml

Suite Setup         The Docker Test Environment Is Running
Suite Teardown      Leave The Platform
Test Setup          The Platform Is Ready
Test Teardown       Close All VNC Connections

Test Tags           docker


*** Test Cases ***
Creating A Session Makes Its Container Network And Volume
    [Documentation]    A new session has a running, labelled container on the session network and a home volume.
    ${user} =    Given A New User Called    alice
    ${session} =    When A Running Session For    ${user}    docker    persistent_home=${True}
    Then The Session Container Should Be Running    ${session}
    And The Session Network Should Exist
    And The Home Volume Should Exist    ${session}
    And The Session Should Run On    ${session}    docker

A Session Without A Persistent Home Gets No Volume
    [Documentation]    The home volume is made only when the session asks for a persistent home.
    ${user} =    Given A New User Called    alice
    ${session} =    When A Running Session For    ${user}    docker
    Then The Session Container Should Be Running    ${session}
    And The Session Should Have No Home Volume    ${session}

The VNC Port Of A Session Is Published On The Host
    [Documentation]    The session's VNC server answers with RFB 3.8 on the port published for 5900.
    [Tags]    vnc
    ${user} =    Given A New User Called    alice
    ${session} =    When A Running Session For    ${user}    docker
    Then The VNC Port Of The Session Should Answer    ${session}

A Command The Agent Cannot Carry Out Fails With Its Reason
    [Documentation]    The container of a running session is removed behind the agent's back; the agent answers
    ...    the next command (hibernate) with ``failed`` and its reason. The command's record shows that answer
    ...    and the session turns ``failed`` within the session command budget instead of hanging.
    [Tags]    protocol
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    docker
    And The Container Of The Session Vanishes    ${session}
    When Hibernating The Session Is Asked For    ${session}
    Then The Session Turns Failed Within Budget    ${session}
    And The Agent Should Have Refused The Command With A Reason    ${session}    hibernate_session

Hibernation Stops The Container And Keeps The Home
    [Documentation]    A hibernated session's container is stopped, not removed, and its home volume stays.
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    docker    persistent_home=${True}
    When The Session Is Hibernated    ${session}
    Then The Session Container Should Be Stopped    ${session}
    And The Home Volume Should Exist    ${session}

Waking Brings The Session Back With Its Data
    [Documentation]    What was written in the home before hibernation is still there after waking.
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    docker    persistent_home=${True}
    ${text} =    And A File Is Written In The Home Of    ${session}
    When The Session Is Hibernated    ${session}
    And The Session Is Woken    ${session}
    Then The Session Container Should Be Running    ${session}
    And The File In The Home Of Should Read    ${session}    ${text}
    And The VNC Port Of The Session Should Answer    ${session}

Termination Removes The Container And The Volume
    [Documentation]    Nothing of a terminated session is left on the engine.
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    docker    persistent_home=${True}
    When The Session Is Terminated    ${session}
    Then The Session Container Should Be Gone    ${session}
    And The Home Volume Should Be Gone    ${session}

Termination Of A Hibernated Session Cleans Up Too
    [Documentation]    A session terminated while hibernated leaves nothing either.
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    docker    persistent_home=${True}
    And The Session Is Hibernated    ${session}
    When The Session Is Terminated    ${session}
    Then The Session Container Should Be Gone    ${session}
    And The Home Volume Should Be Gone    ${session}

A Session Gets The Memory And CPU It Asked For
    [Documentation]    The container's limits are the requested ones.
    [Tags]    limits
    ${user} =    Given A New User Called    alice
    ${session} =    When A Running Session Of Size    ${user}    docker    256Mi    500m
    Then The Container Limits Of The Session Should Be    ${session}    256Mi    500m

The Memory Limit Is Enforced
    [Documentation]    A process asking for more memory than the limit is killed; the session survives.
    [Tags]    limits
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session Of Size    ${user}    docker    256Mi    500m
    Then The Memory Limit Of The Session Should Stop A Greedy Process    ${session}
    And Session Should Be Running    ${session}

The CPU Limit Is Enforced
    [Documentation]    A busy loop in the session cannot use more CPU than the limit.
    [Tags]    limits
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session Of Size    ${user}    docker    256Mi    500m
    Then The CPU Limit Of The Session Should Hold Under A Busy Loop    ${session}

Several Sessions Run Side By Side
    [Documentation]    Three sessions of one user run at the same time, each in its own container.
    ${user} =    Given A New User Called    alice
    ${sessions} =    When Running Sessions For    ${user}    3    docker
    Then Every Session Container Should Be Running    ${sessions}
    When Terminate Sessions    ${sessions}
    Then Wait Until Sessions Are    ${sessions}    terminated    timeout=${SESSION_COMMAND_BUDGET}
