*** Settings ***
Documentation       The test environment is up: every backend the scenarios rely on answers.
...
...                 Run this first when something looks wrong: it tells which part of the
...                 environment is missing before any scenario fails for that reason.
Library             Collections
Library             DatabaseKit
Library             DockerKit
Library             EnvironmentKit
Library             KubeKit
Library             PlatformKit
Library             RedisKit
Library             VncKit
Variables           ../variables/defaults.yaml

Suite Setup         Start Test Environment    ${ENVIRONMENT}
Suite Teardown      Close Every Connection

Test Tags           smoke


*** Test Cases ***
Redis Answers
    [Documentation]    The agent hub's Redis answers PING within a second.
    ${url} =    Get Redis URL
    Connect To Redis Server    url=${url}    alias=smoke
    ${latency} =    Measure Redis Ping Latency
    Should Be True    ${latency} < 1000    Redis took ${latency} ms to answer PING

PostgreSQL Answers
    [Documentation]    The platform's database answers a query.
    ${dsn} =    Get Database DSN
    Connect To PostgreSQL    conninfo=${dsn}    alias=smoke
    Database Should Answer

The Container Engine Answers
    [Documentation]    The container engine the Docker agent uses answers and tells its version.
    [Tags]    docker
    Skip Unless The Environment Has    engine
    ${url} =    Get Container Engine URL
    Connect To Container Engine    ${url}    alias=smoke
    Engine Should Answer
    ${version} =    Get Engine Version
    Should Not Be Empty    ${version}

The Kubernetes API Answers With Its Version
    [Documentation]    The Kubernetes API (a stand-in on the local environment) answers with its version.
    ${url} =    Get Kubernetes API URL
    Connect To Kubernetes    api_url=${url}    alias=smoke
    ${version} =    Get Kubernetes Version
    Should Not Be Empty    ${version}

A VNC Server Speaks The RFB Protocol
    [Documentation]    A session-style VNC server speaks RFB 3.8.
    ${server} =    The VNC Server    vnc-none
    Connect To VNC    ${server}    timeout=5s    alias=smoke
    Get RFB Protocol Version    ==    3.8

A VNC Server With A Password Lets In Who Knows It
    [Documentation]    A VNC server with VNC authentication offers it and accepts the right password.
    ${server} =    The VNC Server    vnc-auth
    ${vnc} =    Get Credentials    vnc
    Connect To VNC    ${server}    password=${vnc}[password]    timeout=5s    alias=auth
    Get Offered Security Types    contains    VncAuth

Every API Replica Is Healthy
    [Documentation]    Every replica of the Control Plane answers its health check.
    ${urls} =    Get API URLs
    Connect To Platform    ${urls}    alias=smoke
    Every API Replica Should Be Healthy


*** Keywords ***
The VNC Server
    [Documentation]    ``host:port`` of one of the environment's plain VNC servers (skips the test when the
    ...    environment has none).
    [Arguments]    ${name}
    ${servers} =    Get VNC Servers
    IF    not $servers    Skip Unless The Environment Has    vnc
    Dictionary Should Contain Key    ${servers}    ${name}    msg=The environment has no VNC server called ${name}
    RETURN    ${servers}[${name}]

Skip Unless The Environment Has
    [Documentation]    Skip the rest of the test (tagged ``no-<component>``, the reason in the log and the report)
    ...    when the environment has no ``component`` (kind has no container engine and no plain VNC servers).
    [Arguments]    ${component}
    ${components} =    Get Component Names
    IF    $component not in $components
        ${environment} =    Get Environment Name
        Set Tags    no-${component}
        Skip    The ${environment} environment has no ${component}: this check does not apply here
    END

Close Every Connection
    [Documentation]    Close what the smoke tests opened.
    Close All Redis Connections
    Close All Database Connections
    Close All Container Engine Connections
    Close All Kubernetes Connections
    Close All VNC Connections
    Close All Platform Connections
