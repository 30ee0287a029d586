*** Settings ***
Documentation       DockerKit from Robot Framework: containers with limits, a partition, a volume proof,
...                 an event wait, the allow-list, and the cleanup listener removing what a test left.
...                 Run by tests/acceptance/test_dockerkit_robot.py.

Library             DockerKit    timeout=20s

Suite Setup         Connect To Container Engine    ${ENGINE_URL}    alias=local
Suite Teardown      Close All Container Engine Connections


*** Variables ***
${ENGINE_URL: str}      unix:///run/podman/podman.sock
${BUSYBOX: str}         busybox
${OUTSIDER: str}        outsider
${RUN: str}             smoke


*** Test Cases ***
A Limited Container Runs And Its Limits Hold
    [Documentation]    The declared memory limit is the one the kernel enforces.
    [Tags]    containers    limits
    ${name: str} =    Run Container    ${BUSYBOX}    sleep 300    cpu=0.5    memory=64Mi
    ...    labels=case=limits,run=${RUN}
    Get Container State    ${name}    ==    running    timeout=5s
    ${limits: dict} =    Get Container Limits    ${name}
    Should Be Equal    ${limits}[memory]    64Mi
    Container Memory Limit Should Be Enforced    ${name}

A Test Leaves A Container Behind
    [Documentation]    No teardown: the library's listener must remove it at the end of the test.
    [Tags]    cleanup
    ${name: str} =    Run Container    ${BUSYBOX}    sleep 300    labels=case=left-behind,run=${RUN}
    Get Containers    run=${RUN}    contains    ${name}

The Listener Removed It
    [Documentation]    What the previous test left is gone.
    [Tags]    cleanup
    Get Containers    run=${RUN}    ==    ${{[]}}

A Partition Cuts And Heals
    [Documentation]    Disconnecting a container cuts it off its peer; connecting heals it.
    [Tags]    networks
    ${net: str} =    Create Network    labels=run=${RUN}
    ${server: str} =    Run Container    ${BUSYBOX}    sleep 300    network=${net}    labels=run=${RUN}
    ${client: str} =    Run Container    ${BUSYBOX}    sleep 300    network=${net}    labels=run=${RUN}
    Disconnect Container From Network    ${client}    ${net}
    Execute In Container    ${client}    ping -c1 -W1 ${server}    expected_rc=1
    Connect Container To Network    ${client}    ${net}
    Execute In Container    ${client}    ping -c1 -W2 ${server}    expected_rc=0

A Volume Keeps Its Data
    [Documentation]    A file written by one container is read by another.
    [Tags]    volumes
    ${volume: str} =    Create Volume    labels=run=${RUN}
    Write File To Volume    ${volume}    proof.txt    kept
    Read File From Volume    ${volume}    proof.txt    ==    kept

A Killed Container Reports Its Death
    [Documentation]    The engine's die event carries the exit code of a SIGKILL.
    [Tags]    events
    ${name: str} =    Run Container    ${BUSYBOX}    sleep 300    labels=case=events,run=${RUN}
    Kill Container    ${name}
    ${event: dict} =    Wait Until Container Event    die    label=run=${RUN}    timeout=10s
    Should Be Equal As Integers    ${event}[exit_code]    137

Objects Without A Test Label Are Refused
    [Documentation]    The safety latch: a container without an allow-listed label is not killed.
    [Tags]    safety
    Run Keyword And Expect Error    *refused to kill container '${OUTSIDER}'*KIT_TEST_LABELS*
    ...    Kill Container    ${OUTSIDER}
