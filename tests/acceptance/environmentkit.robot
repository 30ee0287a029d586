*** Settings ***
Documentation       EnvironmentKit against a running stack it attaches to (the tests' fake supervisor:
...                 real API replica processes and a real Redis behind the documented control API).

Library             Collections
Library             EnvironmentKit

Suite Setup         Start Test Environment    topology_file=${TOPOLOGY_FILE}
Suite Teardown      Stop Test Environment


*** Variables ***
${TOPOLOGY_FILE: str}       ${EMPTY}


*** Test Cases ***
API Replicas Are Found By Name And By Index
    [Documentation]    A replica is named by its name or its 1-based index; both give the same URL.
    ${urls: list} =    Get API URLs
    Length Should Be    ${urls}    2
    ${first: str} =    Get API URL    1
    ${by_name: str} =    Get API URL    api-1
    Should Be Equal    ${first}    ${by_name}
    ${second: str} =    Get API URL    2
    Should Be Equal    ${second}    ${urls}[1]

An Unknown Replica Names The Known Ones
    [Documentation]    The error lists the replicas that exist.
    Run Keyword And Expect Error    *known replicas: api-1, api-2*    Get API URL    api-9

Backend Endpoints Come From The Topology
    [Documentation]    Backends present are returned; a missing one says how to get it.
    ${redis: str} =    Get Redis URL
    Should Start With    ${redis}    redis://127.0.0.1:
    Run Keyword And Expect Error    *no 'postgres' entry*    Get Database DSN

Credentials Are Secrets And The Topology Masks Them
    [Documentation]    Passwords and keys come back as Secret; the topology shows them as ***.
    ${admin: dict} =    Get Credentials    admin
    Should Be Equal    ${admin}[username]    admin
    Should Be Equal    ${{ type($admin['password']).__name__ }}    Secret
    Should Be True    $admin['password'].value.startswith('fake-admin-')
    ${key: object} =    Get Credentials    agentKey
    Should Be True    len($key.value) == 64
    ${topology: dict} =    Get Topology
    Should Be Equal    ${topology}[credentials][admin][password]    ***
    Should Be Equal    ${topology}[credentials][users][0][username]    alice

The Agent Leader Is Read And Asserted
    [Documentation]    Get Agent Leader returns the leader and asserts it with a retry.
    ${leader: str} =    Get Agent Leader    kubernetes
    Should Be Equal    ${leader}    k8s-agent-a
    Get Agent Leader    kubernetes    ==    k8s-agent-a    timeout=2s
    Run Keyword And Expect Error    *should be*
    ...    Get Agent Leader    kubernetes    ==    k8s-agent-b    timeout=0.5s
    ${replicas: list} =    Get Agent Replicas    kubernetes
    Should Be Equal    ${replicas}    ${{ ['k8s-agent-a', 'k8s-agent-b'] }}

Components And Their State Are Listed
    [Documentation]    Every component is listed and its running flag can be asserted.
    ${names: list} =    Get Component Names
    Should Contain    ${names}    redis
    Component Should Be Running    api-2
    Test Environment Should Be Running
