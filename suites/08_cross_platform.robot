*** Settings ***
Documentation       Scenario 8 — one Control Plane serving two agent platforms.
...
...                 A Kubernetes agent and a Docker agent are both connected to the same Control Plane. Sessions
...                 run on either, chosen by the request's platform or the template's. One list shows both, a
...                 platform filter shows one, terminating works on both, and when every agent of one platform
...                 is gone its new sessions are refused with 503 "No agents available" while the other
...                 platform carries on and the existing sessions stay listed.

Resource            ../resources/cross_platform.resource
Variables           ../variables/thresholds.yaml

Suite Setup         The Cross Platform Test Environment Is Running
Suite Teardown      Leave The Platform
Test Setup          The Platform Is Ready
Test Teardown       Heal Everything

Test Tags           cross-platform    kubernetes    docker


*** Test Cases ***
Both Agents Are Online On One Control Plane
    [Documentation]    The Kubernetes agent and the Docker agent are both registered and online.
    Given Agents Of Both Platforms Are Online
    ${kubernetes} =    When Get Agents    platform=kubernetes    status=online
    ${docker} =    And Get Agents    platform=docker    status=online
    Then Length Should Be    ${kubernetes}    1
    And Length Should Be    ${docker}    1

A Session Runs On Each Platform
    [Documentation]    One user runs a session on each platform, each on the right agent.
    ${user} =    Given A New User Called    alice
    ${on_kubernetes}    ${on_docker} =    When A Session On Each Platform For    ${user}
    Then The Session Should Run On    ${on_kubernetes}    kubernetes
    And The Session Should Run On    ${on_docker}    docker

The Template Chooses The Platform When The Request Does Not
    [Documentation]    A request naming only a template lands on the template's platform.
    ${user} =    Given A New User Called    alice
    ${template} =    And The Template For    docker
    ${session} =    When Create Session From Template    ${template}    as_user=${user}
    Then Wait Until Session Is    ${session}    running    timeout=${SESSION_START_BUDGET}
    And The Session Should Run On    ${session}    docker

One List Shows Sessions Of Both Platforms
    [Documentation]    The unfiltered list holds the sessions of both platforms.
    ${user} =    Given A New User Called    alice
    ${both} =    When A Session On Each Platform For    ${user}
    Then The Session List Should Contain    ${both}

A Platform Filter Shows Only That Platform
    [Documentation]    Filtering by platform gives that platform's sessions and no other.
    ${user} =    Given A New User Called    alice
    ${on_kubernetes}    ${on_docker} =    When A Session On Each Platform For    ${user}
    Then Listing By Platform Should Give Only That Platform    kubernetes    ${on_kubernetes}    ${on_docker}
    And Listing By Platform Should Give Only That Platform    docker    ${on_docker}    ${on_kubernetes}

Sessions Terminate On Both Platforms
    [Documentation]    Terminating works the same on both platforms, and nothing of either session is left: no
    ...    Deployment, Service or pod in Kubernetes, no container or volume in the container engine.
    ${user} =    Given A New User Called    alice
    ${both} =    And A Session On Each Platform For    ${user}
    When Each Session Is Terminated    ${both}
    Then Every Session Should Be Terminated    ${both}
    And Nothing Should Be Left Of The Sessions    ${both}

Without Docker Agents New Docker Sessions Are Refused
    [Documentation]    Every Docker agent replica is gone: Docker requests get 503, Kubernetes ones still run,
    ...    and existing sessions stay listed.
    [Tags]    chaos
    ${user} =    Given A New User Called    alice
    ${both} =    And A Session On Each Platform For    ${user}
    When Every Agent Of The Platform Is Gone    docker
    Then A Session On The Platform Should Be Refused For Want Of Agents    ${user}    docker
    And A Running Session For    ${user}    kubernetes
    And The Session List Should Contain    ${both}

Without Kubernetes Agents New Kubernetes Sessions Are Refused
    [Documentation]    Every Kubernetes agent replica is gone: Kubernetes requests get 503, Docker ones still run.
    [Tags]    chaos
    ${user} =    Given A New User Called    alice
    When Every Agent Of The Platform Is Gone    kubernetes
    Then A Session On The Platform Should Be Refused For Want Of Agents    ${user}    kubernetes
    And A Running Session For    ${user}    docker

A Platform Whose Agents Return Takes Sessions Again
    [Documentation]    Once the Docker agent is back, Docker sessions start again.
    [Tags]    chaos
    ${user} =    Given A New User Called    alice
    And Every Agent Of The Platform Is Gone    docker
    When The Agents Of The Platform Come Back    docker
    Then A Running Session For    ${user}    docker
