*** Settings ***
Documentation       Scenario 9 — the Control Plane's database migrations.
...
...                 Schema changes are numbered migrations, each with its way back. v1 held users, templates and
...                 sessions (one Control Plane per platform); v2 adds agents, durable agent commands, the
...                 sessions' platform and agent columns with a backfill, and user quotas. Every test works on a
...                 throwaway database of its own on the environment's PostgreSQL (dropped at the end of the
...                 test), never on the platform's live database.

Resource            ../resources/migration.resource
Variables           ../variables/thresholds.yaml

Suite Setup         Start Test Environment
Suite Teardown      Close All Database Connections

Test Tags           migration    database


*** Test Cases ***
Every Migration Has A Way Back
    [Documentation]    The migrations are numbered 1..n without gaps and each has its down migration.
    Then Every Migration Should Have A Way Back

A Fresh Install Builds The Whole Schema
    [Documentation]    Every migration applies, in order, to an empty database.
    Given A Throwaway Database
    Then A Fresh Install Should Build The Whole Schema
    And The Version Two Tables Should Exist

The Migration From v1 To v2 Keeps Every Row
    [Documentation]    A v1 database full of users, templates and sessions migrates to v2 with no row lost or
    ...    changed, and every session gets its template's platform.
    Given A Throwaway Database At Version    ${V1}
    And Version One Data Is Present
    When Incremental Migration Should Preserve Data    ${MIGRATIONS}    ${V1}    alias=${SCRATCH_ALIAS}
    Then Get Schema Version    ==    ${V2}    dirty=${False}    alias=${SCRATCH_ALIAS}
    And Sessions Should Have Been Given Their Platform

Rolling Back v2 Restores The v1 Schema And Data
    [Documentation]    Going down from v2 to v1 gives back exactly the schema a fresh v1 has, with the v1 data
    ...    intact; going up again gives back the v2 schema and every v1 row. (Rows the v2 backfill rebuilds,
    ...    like user_quotas, carry a new updated_at, so only the v1 tables are compared row for row.)
    Given A Throwaway Database At Version    ${V1}
    And Version One Data Is Present
    And Migrate Up    ${MIGRATIONS}    alias=${SCRATCH_ALIAS}
    When Rollback Should Restore Schema And Data    ${MIGRATIONS}    steps=1    alias=${SCRATCH_ALIAS}
    Then Get Schema Version    ==    ${V2}    dirty=${False}    alias=${SCRATCH_ALIAS}

Going Down To v1 Removes What v2 Added And Keeps The Rest
    [Documentation]    After the down migration the v2 tables are gone and the v1 rows are all still there.
    Given A Throwaway Database At Version    ${V1}
    And Version One Data Is Present
    And Migrate Up    ${MIGRATIONS}    alias=${SCRATCH_ALIAS}
    When Migrate Down    ${MIGRATIONS}    steps=1    alias=${SCRATCH_ALIAS}
    Then Get Schema Version    ==    ${V1}    dirty=${False}    alias=${SCRATCH_ALIAS}
    And The Version Two Tables Should Be Gone
    And Get Row Count    sessions    ==    3    alias=${SCRATCH_ALIAS}

Data Survives A Round Trip Up Down And Up
    [Documentation]    v1 data migrated up, down and up again reads the same as after the first migration up.
    Given A Throwaway Database At Version    ${V1}
    And Version One Data Is Present
    And Migrate Up    ${MIGRATIONS}    alias=${SCRATCH_ALIAS}
    ${first} =    And Get Table Checksums    users    sessions    catalog_templates    alias=${SCRATCH_ALIAS}
    When Migrate Down    ${MIGRATIONS}    steps=1    alias=${SCRATCH_ALIAS}
    And Migrate Up    ${MIGRATIONS}    alias=${SCRATCH_ALIAS}
    ${second} =    Then Get Table Checksums    users    sessions    catalog_templates    alias=${SCRATCH_ALIAS}
    And Table Checksums Should Be Equal    ${first}    ${second}    names=first up,second up

The v2 Schema Matches The Contract
    [Documentation]    The columns the Control Plane and the agents rely on have the contract's names and types.
    Given A Throwaway Database At Version    ${V2}
    Then The Version Two Tables Should Exist
    And The Version Two Columns Should Match The Contract

The v2 Constraints Are In Place
    [Documentation]    Unique names, foreign keys with their ON DELETE rules and the command index exist.
    Given A Throwaway Database At Version    ${V2}
    Then The Version Two Constraints Should Exist

The Database Enforces Its Constraints
    [Documentation]    Duplicate user names, unknown platforms, unknown command states and sessions of unknown
    ...    users are all refused by the database itself.
    Given A Throwaway Database At Version    ${V2}
    And Version One Data Is Present
    Then The Database Should Refuse    INSERT INTO users (username, password_hash) VALUES ('alice', 'x')    *unique*
    And The Database Should Refuse    INSERT INTO agents (agent_id, platform) VALUES ('a1', 'vms')    *check*
    And The Database Should Refuse
    ...    INSERT INTO sessions (id, user_id, template_name) VALUES ('s-x', 'nobody', 'desktop-docker')    *foreign key*
    And Deleting An Agent Should Delete Its Commands

Deleting A User Deletes Their Sessions
    [Documentation]    Sessions belong to their user: ON DELETE CASCADE removes them with the user.
    Given A Throwaway Database At Version    ${V2}
    And Version One Data Is Present
    When Execute SQL    DELETE FROM users WHERE id = 'u-alice'    alias=${SCRATCH_ALIAS}
    Then Get Row Count    SELECT 1 FROM sessions WHERE user_id = 'u-alice'    ==    0    alias=${SCRATCH_ALIAS}
    And Get Row Count    SELECT 1 FROM sessions    ==    1    alias=${SCRATCH_ALIAS}
