*** Settings ***
Documentation       Scenario 6 — several users working at the same time.
...
...                 Three to five users each run two or three sessions of mixed templates (Kubernetes and
...                 Docker). A user sees and touches only their own sessions and VNC streams (403 for anyone
...                 else's); quotas hold; every user gets VNC; users terminate everything at once and nothing
...                 is left behind. Each test has its own users, so tests never share sessions or quotas.

Resource            ../resources/multi_user.resource
Variables           ../variables/thresholds.yaml
Variables           ../variables/users.yaml

Suite Setup         The Multi User Test Environment Is Running
Suite Teardown      Leave The Platform
Test Setup          The Platform Is Ready
Test Teardown       Close All VNC Connections

Test Tags           multi-user


*** Test Cases ***
Users Each See Only Their Own Sessions
    [Documentation]    Listing sessions as any user gives exactly that user's sessions.
    ${team} =    Given A Team Of Users With Sessions    ${MULTI_USER_COUNT}    ${SESSIONS_PER_USER}
    Then Each User Should See Only Their Own Sessions    ${team}

No User Can Touch Another User's Session
    [Documentation]    Hibernating, terminating or watching someone else's session is refused, and the sessions
    ...    keep running.
    [Tags]    security
    ${team} =    Given A Team Of Users With Sessions    3    2
    Then Each User Should Be Refused Every Other User's Session    ${team}

The Admin Sees Every User's Sessions
    [Documentation]    The admin's list holds the sessions of all users.
    ${team} =    Given A Team Of Users With Sessions    3    2
    ${everyone} =    When Every Session Of The Team    ${team}
    Then The Session List Should Contain    ${everyone}

A Full Quota Refuses One More Session
    [Documentation]    A user at their quota gets 403 "Quota exceeded", and no session is created.
    [Tags]    quota
    ${team} =    Given A Team Of Users With Sessions    3    2
    ${user} =    And One User Of The Team    ${team}
    When The Quota Of A User Is Full    ${user}    ${team}
    Then A New Session Should Be Refused For Quota    ${user}    2
    And Each User Should See Only Their Own Sessions    ${team}

A Quota Counts Only Live Sessions
    [Documentation]    Once a session is terminated, the user may start another one within the same quota.
    [Tags]    quota
    ${team} =    Given A Team Of Users With Sessions    3    2
    ${user} =    And One User Of The Team    ${team}
    And The Quota Of A User Is Full    ${user}    ${team}
    When One Session Of The User Is Terminated    ${user}    ${team}
    Then A Running Session For    ${user}    docker

Every User Gets VNC Of Their Own Sessions
    [Documentation]    Each user opens a VNC viewer on each of their sessions and each desktop answers.
    [Tags]    vnc
    ${team} =    Given A Team Of Users With Sessions    3    2
    Then Every User Watches Each Of Their Sessions Over VNC    ${team}

Users Terminate All Their Sessions At Once
    [Documentation]    Every user terminates everything at the same time; all sessions end and nothing is left.
    ${team} =    Given A Team Of Users With Sessions    ${MULTI_USER_COUNT}    ${SESSIONS_PER_USER}
    When Every User Terminates All Their Sessions At Once    ${team}
    Then Nothing Should Be Left Of The Team    ${team}

Five Users With Three Sessions Each Run Together
    [Documentation]    The upper end of the scenario: five users, three mixed sessions each, all running at once.
    [Tags]    load
    ${team} =    Given A Team Of Users With Sessions    5    3
    Then Each User Should See Only Their Own Sessions    ${team}
    ${everyone} =    And Every Session Of The Team    ${team}
    And Every Session Should Be Running    ${everyone}
