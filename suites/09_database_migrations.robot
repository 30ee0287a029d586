*** Settings ***
Documentation       Scenario 9 — the target's database migrations, up, down and up again.
...
...                 Schema changes are numbered migrations, each with its way back. The suite takes the migrations
...                 of the platform under test, as the environment names them: the kit's own reference platform
...                 keeps ``NNN_<name>.up.sql`` / ``.down.sql`` pairs that build its schema from an empty database;
...                 StreamSpace v2 keeps ``NNN_<name>.sql`` / ``NNN_<name>_rollback.sql`` pairs that change the base
...                 schema its API creates at start, so they are applied over a copy of the database the running
...                 platform uses. Rows are written first (at the version the environment says), and no table,
...                 column, row or value that was set may be lost going up, and nothing may be left changed coming
...                 down. Every test works in a scratch database of its own on the environment's PostgreSQL, dropped
...                 at the end of the test; the platform's own database is only ever read. A migration that fails
...                 fails its test with the file, the line and the server's error.

Resource            ../resources/migration.resource

Suite Setup         The Migrations And The Environment's Database Are Ready
Suite Teardown      Close All Database Connections

Test Tags           migration    database


*** Test Cases ***
Every Migration Has A Way Back
    [Documentation]    The migrations are numbered 1..n without gaps, in the environment's layout, and each has its
    ...    down migration.
    Then Every Migration Should Have A Way Back

The Migrations Apply Over The Base Schema
    [Documentation]    Every migration applies, in order, over the base schema: an empty database for the reference
    ...    platform, a copy of the running platform's database for StreamSpace.
    Given A Scratch Database With The Base Schema
    Then Every Migration Should Apply In Order

Migrating Up Keeps Every Row
    [Documentation]    A database holding rows migrates up to the last version with no table, column, row or value
    ...    lost; new tables, columns and rows, and values filled where there were none, are allowed.
    Given A Scratch Database With The Base Schema And Rows
    Then Going Up Should Keep Every Row

Each Migration Goes Down To Exactly Where It Started
    [Documentation]    One migration at a time: up, down, up again. After the down the schema and the rows are the
    ...    ones before the up; after the second up the schema is the one after the first. The failure names every
    ...    migration with a defect and the file that causes it; the log lists every defect.
    Given A Scratch Database With The Base Schema And Rows
    Then Every Migration Should Go Down To Where It Started

All Migrations Go Down And Up Again Keeping Every Row
    [Documentation]    Every migration up, all down to where the rows were written, and all up again: the schema
    ...    and the rows come back at each end.
    Given A Scratch Database With The Base Schema And Rows
    Then All Migrations Should Go Down And Up Again Keeping Every Row

The Migrated Schema Is The Contract's Whole Schema
    [Documentation]    After every migration the schema is the whole one the environment's schema file states: every
    ...    table, every column with its type, nullability and default, every index and every constraint.
    Given A Scratch Database With Every Migration Applied
    Then The Schema Should Be The Contract's Whole Schema

The Migrated Schema Has The Contract's Keys
    [Documentation]    After every migration user names, e-mails, agent ids and command ids are unique and the
    ...    foreign keys have the contract's ON DELETE rules.
    Given A Scratch Database With Every Migration Applied
    Then The Schema Should Have The Contract's Keys
