*** Settings ***
Documentation       The test environment is up: every backend the scenarios rely on answers.
...
...                 Run this first when something looks wrong: it tells which part of the
...                 environment is missing before any scenario fails for that reason.
Library             EnvironmentKit
Library             RedisKit
Library             DatabaseKit
Library             DockerKit
Library             KubeKit
Library             VncKit
Library             PlatformKit
Variables           ../variables/defaults.yaml

Suite Setup         Start Test Environment    ${ENVIRONMENT}
Suite Teardown      Close Every Connection

Test Tags           smoke


*** Test Cases ***
Redis Answers
    ${url} =    Get Redis URL
    Connect To Redis    url=${url}    alias=smoke
    ${latency} =    Measure Redis Ping Latency
    Should Be True    ${latency} < 1000    Redis took ${latency} ms to answer PING

PostgreSQL Answers
    ${dsn} =    Get Database DSN
    Connect To Database    conninfo=${dsn}    alias=smoke
    Check Query Result    SELECT 1    ==    1

The Container Engine Answers
    ${url} =    Get Container Engine URL
    Connect To Container Engine    ${url}    alias=smoke
    Engine Should Answer
    ${version} =    Get Engine Version
    Should Not Be Empty    ${version}

The Kubernetes API Answers With Its Version
    ${url} =    Get Kubernetes API URL
    Connect To Kubernetes    api_url=${url}    alias=smoke
    ${version} =    Get Kubernetes Version
    Should Not Be Empty    ${version}

A VNC Server Greets With RFB 3.8
    ${topology} =    Get Topology
    ${server} =    Set Variable    ${topology}[vnc][0]
    Connect To VNC    ${server}[host]:${server}[port]    timeout=5s    alias=smoke
    Get RFB Protocol Version    ==    3.8

A VNC Server With A Password Asks For It
    ${topology} =    Get Topology
    ${server} =    Set Variable    ${topology}[vnc][1]
    ${vnc} =    Get Credentials    vnc
    Connect To VNC    ${server}[host]:${server}[port]    password=${vnc}[password]    timeout=5s    alias=auth
    Get Offered Security Types    contains    2

Every API Replica Is Healthy
    ${urls} =    Get API URLs
    Connect To Platform    ${urls}    alias=smoke
    Every API Replica Should Be Healthy


*** Keywords ***
Every API Replica Should Be Healthy
    [Documentation]    ``GET /health`` answers ``healthy`` on every replica of the Control Plane.
    ${names} =    Get Platform Replica Names
    Should Not Be Empty    ${names}    msg=the platform has no API replica
    FOR    ${name}    IN    @{names}
        Get API Health    ${name}    ==    healthy
    END

Close Every Connection
    [Documentation]    Close what the smoke tests opened.
    Close All Redis Connections
    Close All Database Connections
    Close All Container Engine Connections
    Close All Kubernetes Connections
    Close All VNC Connections
    Close All Platform Connections
