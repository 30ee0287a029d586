*** Settings ***
Documentation       DatabaseKit inside Robot Framework: a Secret password (scram authentication),
...                 throwaway databases removed after each test, migration scenarios and checks.
...                 Run from test_databasekit_robot.py, which creates the role and its password and
...                 passes the migrations written in the rollback layout as ${MIGRATIONS}.

Library             DatabaseKit

Suite Setup         Connect To PostgreSQL    127.0.0.1    ${PG_PORT}    kit_robot    ${PG_PASSWORD}
...                     dbname=postgres    alias=admin
Suite Teardown      Close All Database Connections


*** Variables ***
${PG_PORT: int}             5432
${PG_PASSWORD: Secret}      %{DATABASEKIT_PASSWORD}
${MIGRATIONS: str}          ${CURDIR}/../data/migrations/streamspace_updown
${BROKEN: str}              ${CURDIR}/../data/migrations/broken_syntax
${SEED: str}                ${CURDIR}/../data/migrations/seed_v1.sql


*** Test Cases ***
Migrations Install, Upgrade With Data And Roll Back
    [Documentation]    The StreamSpace migrations (either layout) install, upgrade with data and roll back.
    [Tags]    migrations
    Create Test Database
    ${install: dict} =    Fresh Install Should Succeed    ${MIGRATIONS}
    Should Be Equal As Integers    ${install}[version]    5
    Create Test Database
    Incremental Migration Should Preserve Data    ${MIGRATIONS}    1    seed=${SEED}
    Rollback Should Restore Schema And Data    ${MIGRATIONS}    steps=2    full_data=True
    Get Schema Version    ==    5    dirty=False

Test Databases Are Gone After The Test
    [Documentation]    The library's listener dropped the previous test's databases.
    [Tags]    cleanup
    Get Row Count    SELECT 1 FROM pg_database WHERE datname LIKE 'kit%'    ==    0

Queries Are Checked With Operators
    [Documentation]    Get Query Rows returns rows as dictionaries; checks take AssertionEngine operators.
    [Tags]    query
    Switch Database Connection    admin
    ${rows: list} =    Get Query Rows    SELECT current_user AS who
    Should Be Equal    ${rows}[0][who]    kit_robot
    Query Value Should Be    SELECT 40 + 2    ==    42
    Query Result Should Be    SELECT datname FROM pg_database WHERE datname = 'postgres'    ==    postgres

A Broken Migration Names The Statement And Keeps The Version
    [Documentation]    A syntax error halfway through a step names file, statement and line; the step rolls back.
    [Tags]    migrations
    Create Test Database
    Run Keyword And Expect Error    *002_agents.up.sql failed at statement 3 of 4 (line 13*
    ...    Migrate Up    ${BROKEN}
    Get Schema Version    ==    1    dirty=False
    Table Should Not Exist    agents
