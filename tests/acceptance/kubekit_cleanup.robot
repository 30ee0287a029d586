*** Settings ***
Documentation       KubeKit in Robot Framework against the Kubernetes API stand-in: the cleanup
...                 listener removes what a test (or the suite setup) created, getters assert,
...                 waits follow the stand-in's watches, and the safety latch refuses other namespaces.

Library             KubeKit    test_namespaces=kit-*

Suite Setup         Connect And Prepare The Suite
Suite Teardown      Close All Kubernetes Connections


*** Variables ***
${API_URL: str}     http://127.0.0.1:1
${SUITE_NS: str}    kit-robot-suite
${LEASE: str}       {apiVersion: coordination.k8s.io/v1, kind: Lease,
...                 metadata: {name: agent}, spec: {holderIdentity: agent-a}}


*** Test Cases ***
Test Namespace Exists During Its Test
    [Documentation]    The namespace is there while the test runs.
    ${namespace: str} =    Create Test Namespace    kit-robot-first
    Namespace Should Exist    ${namespace}

Cleanup Listener Removed The Previous Test's Namespace
    [Documentation]    The listener deleted the first test's namespace; the suite's one is still there.
    Namespace Should Not Exist    kit-robot-first    timeout=5s
    Namespace Should Exist    ${SUITE_NS}

Getters Assert And Waits Return
    [Documentation]    Getters take AssertionEngine operators; waits return what they waited for.
    Apply Manifest    ${LEASE}    namespace=${SUITE_NS}
    Get Lease Holder    agent    ${SUITE_NS}    ==    agent-a
    Get Lease Transitions    agent    ${SUITE_NS}    ==    0
    ${holder: str} =    Wait Until Lease Has A Holder    agent    ${SUITE_NS}    timeout=5s
    Should Be Equal    ${holder}    agent-a

Destructive Keywords Refuse Namespaces Not Allow-Listed
    [Documentation]    The safety latch refuses namespaces outside test_namespaces.
    Run Keyword And Expect Error    *refused to delete the namespace in namespace 'default'*
    ...    Delete Namespace    default


*** Keywords ***
Connect And Prepare The Suite
    [Documentation]    Connect to the stand-in and make the suite's namespace (removed after the suite).
    Connect To Kubernetes    api_url=${API_URL}    alias=stand-in    timeout=5s
    Create Test Namespace    ${SUITE_NS}
