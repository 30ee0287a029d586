*** Settings ***
Documentation       The checks of "A Deposed Leader Refuses Commands Gracefully" against Control Plane records
...                 planted in a scratch database: a command refused or carried out once passes; a command that
...                 never reached the deposed leader, failed for another reason, was lost, ran twice, or left its
...                 session in the wrong state fails, naming the broken promise.

Resource            ../../resources/kubernetes_agents.resource

Suite Setup         Connect To PostgreSQL    conninfo=${DSN}    alias=${PLATFORM_DB_ALIAS}
Suite Teardown      Close All Database Connections
Test Setup          Execute SQL    TRUNCATE agent_commands, sessions    alias=${PLATFORM_DB_ALIAS}


*** Variables ***
${DSN: str}                 ${EMPTY}
${TAKEN: str}               2026-12-06T23:00:05.000000Z
&{COMMAND: str}             id=cmd-0000dead    session=alice-desktop-1    sent_at=2026-12-06T23:00:02.500000Z
${PLANT_COMMAND: str}
...                         INSERT INTO agent_commands (command_id, session_id, action, status, error_message, sent_at)
...                         VALUES (%s, %s, 'hibernate_session', %s, %s, %s::timestamptz)


*** Test Cases ***
A Command Sent Before The New Leader Took The Lease Reached The Deposed Leader
    The Command Should Have Reached The Deposed Leader    ${COMMAND}    ${TAKEN}

A Command Sent After The New Leader Took The Lease Never Reached The Deposed Leader
    VAR    &{late: str} =    &{COMMAND}    sent_at=2026-12-06T23:00:06.000000Z
    Run Keyword And Expect Error    GLOB:*was sent at *, after the new leader took the Lease at *never reached*
    ...    The Command Should Have Reached The Deposed Leader    ${late}    ${TAKEN}

A Command Carried Out Once Passes
    Given The Session Is    hibernated
    And The Command Ended    completed
    The Command Should Be Refused Gracefully Or Carried Out Once    ${COMMAND}

A Command Refused With Not Leader Passes
    Given The Session Is    hibernating
    And The Command Ended    failed    not leader
    The Command Should Be Refused Gracefully Or Carried Out Once    ${COMMAND}

A Command That Failed For Another Reason Fails
    Given The Session Is    failed
    And The Command Ended    failed    Kubernetes API unreachable
    Run Keyword And Expect Error    GLOB:*failed with 'Kubernetes API unreachable' instead of being refused*
    ...    The Command Should Be Refused Gracefully Or Carried Out Once    ${COMMAND}

A Command Left Hanging Is Lost
    Given The Session Is    hibernating
    And The Command Ended    sent
    Run Keyword And Expect Error    GLOB:*was neither refused nor carried out within 1s: it is still sent (lost)
    ...    The Command Should Be Refused Gracefully Or Carried Out Once    ${COMMAND}

A Command Carried Out Twice Fails
    Given The Session Is    hibernated
    And The Command Ended    completed
    And The Command Ended    completed    id=cmd-0000beef
    Run Keyword And Expect Error    GLOB:commands were carried out twice*alice-desktop-1*hibernate_session*
    ...    The Command Should Be Refused Gracefully Or Carried Out Once    ${COMMAND}

A Completed Command Whose Session Did Not Follow Fails
    Given The Session Is    running
    And The Command Ended    completed
    Run Keyword And Expect Error    GLOB:*completed but session alice-desktop-1 is running
    ...    The Command Should Be Refused Gracefully Or Carried Out Once    ${COMMAND}


*** Keywords ***
The Session Is
    [Documentation]    Plant the session in ``state``.
    [Arguments]    ${state: str}
    Execute SQL    INSERT INTO sessions (id, state) VALUES (%s, %s)
    ...    parameters=${{[$COMMAND['session'], $state]}}    alias=${PLATFORM_DB_ALIAS}

The Command Ended
    [Documentation]    Plant the hibernate command in ``status`` (with ``error``), sent at the command's time.
    [Arguments]    ${status: str}    ${error: str}=${NONE}    ${id: str}=${COMMAND}[id]
    Execute SQL    ${PLANT_COMMAND}    parameters=${{[$id, $COMMAND['session'], $status, $error, $COMMAND['sent_at']]}}
    ...    alias=${PLATFORM_DB_ALIAS}
