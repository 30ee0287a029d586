*** Settings ***
Documentation       EnvironmentKit, ChaosKit, ProbesKit and LoadKit against the real local stack
...                 (python -m environments.local), started by Start Test Environment and stopped after.
...                 Sessions are made through PlatformKit.

Library             Collections
Library             ChaosKit
Library             EnvironmentKit
Library             LoadKit
Library             PlatformKit
Library             ProbesKit

Suite Setup         Start The Stack And Log In
Suite Teardown      Stop Test Environment


*** Test Cases ***
The Topology Names Every Endpoint
    [Documentation]    Endpoints and credentials of the running stack.
    ${urls: list} =    Get API URLs
    Length Should Be    ${urls}    2
    ${redis: str} =    Get Redis URL
    Should Start With    ${redis}    redis://
    ${dsn: str} =    Get Database DSN
    Should Match Regexp    ${dsn}    port=\\d+
    ${kube: str} =    Get Kubernetes API URL
    Should Start With    ${kube}    http://
    ${admin: dict} =    Get Credentials    admin
    Should Be Equal    ${{ type($admin['password']).__name__ }}    Secret
    ${leader: str} =    Get Agent Leader    kubernetes    !=    ${None}    timeout=30s
    Should Start With    ${leader}    k8s-agent-

Killing One API Replica Leaves The Service Up
    [Documentation]    One replica down: its own downtime shows, the service has none; healed, it answers.
    Start Availability Probe    interval=0.1s    name=api
    Get Probe Figure    api    checks    >=    10    timeout=10s
    Kill API Replica    2
    Get Probe Figure    api    errors    >=    3    timeout=10s
    Heal Everything
    Component Should Be Running    api-2    timeout=30s
    Get Probe Figure    api    up_now    ==    ${True}    timeout=30s
    ${report: dict} =    Stop Probe    api
    Should Be Equal    ${report}[downtime]    ${0}
    Should Be True    ${report}[replica_downtime] > 0

Killing The Agent Leader Elects Another
    [Documentation]    The killed leader's follower takes the lease; the killed replica is started again.
    ${old: str} =    Kill Agent Leader    kubernetes
    ${new: str} =    Wait Until Agent Leader Changes    kubernetes    ${old}    timeout=30s
    Should Not Be Equal    ${new}    ${old}
    Heal Everything
    Component Should Be Running    ${old}    timeout=30s

Killing The Docker Agent Leader Elects Another
    [Documentation]    The Docker agent's other replica takes the Redis leader lock.
    ${old: str} =    Kill Docker Agent
    ${new: str} =    Wait Until Agent Leader Changes    docker    ${old}    timeout=30s
    Should Not Be Equal    ${new}    ${old}
    Heal Everything
    Component Should Be Running    ${old}    timeout=30s

Redis Comes Back After A Timed Loss
    [Documentation]    Redis lost for 2 s is back by itself.
    Lose Redis    duration=2s
    Component Should Be Running    redis    timeout=30s
    Chaos Should Be Undone    timeout=10s

A Partition Is Cut And Healed
    [Documentation]    The control API lists the cut until it is healed.
    Partition    api-1    redis
    ${cuts: list} =    Get Partitions
    Should Not Be Empty    ${cuts}
    Heal All Partitions
    ${healed: list} =    Get Partitions
    Should Be Empty    ${healed}

Health Load Succeeds And Resources Are Sampled
    [Documentation]    Load on the health route succeeds; API processes and database connections are sampled.
    ${url: str} =    Get API URL    1
    ${dsn: str} =    Get Database DSN
    Start Resource Sampling    process_pattern=environments\\.local\\.platform\\.api    dsn=${dsn}    interval=0.2s
    ${summary: dict} =    Run Load    GET ${url}/health    count=200    concurrency=10
    ${usage: dict} =    Stop Resource Sampling
    Should Be Equal    ${summary}[success_rate]    ${100.0}
    Should Be True    ${usage}[targets][processes][max_rss_mb] > 10
    Should Be True    ${usage}[targets][postgres][max_connections] >= 1

Sessions Stay Running While An API Replica Dies
    [Documentation]    The session-state probe sees no session leave running while api-1 is down.
    ${first: str} =    Create Session From Template    desktop-kubernetes    platform=kubernetes
    ${second: str} =    Create Session From Template    desktop-kubernetes    platform=kubernetes
    Wait Until Sessions Are    ${{ [$first, $second] }}    running    timeout=60s
    ${token: Secret} =    Get Access Token
    Start Session State Probe    ${first}    ${second}    token=${token}    interval=0.2s    name=sessions
    Get Probe Figure    sessions    polls    >=    4    timeout=10s
    Kill API Replica    1
    Get Probe Figure    sessions    polls    >=    20    timeout=20s
    Heal Everything
    ${report: dict} =    Stop Probe    sessions
    Should Be Empty    ${report}[left_steady]
    Should Be Equal    ${report}[sessions][${first}][states]    ${{ ['running'] }}

Hibernate Commands Are Delivered
    [Documentation]    The command delivery probe counts a hibernate command as delivered, none lost.
    ${name: str} =    Create Session From Template    desktop-kubernetes    platform=kubernetes
    Wait Until Session Is    ${name}    running    timeout=60s
    ${token: Secret} =    Get Access Token
    Start Command Delivery Probe    token=${token}    interval=0.2s    name=commands
    ${command: str} =    Hibernate Session    ${name}
    Record Command Issued    ${command}    session=${name}    expect=hibernated    probe=commands
    ${report: dict} =    Stop Probe    commands    settle=30s
    Should Be Equal    ${report}[issued]    ${1}
    Should Be Equal    ${report}[lost]    ${0}


*** Keywords ***
Start The Stack And Log In
    [Documentation]    Start a small local stack, connect PlatformKit to its replicas and log the admin in.
    ${topology: dict} =    Start Test Environment    local    timeout=3 min    api_replicas=2    k8s_agents=2
    ...    docker_agents=2
    Connect To Platform    ${topology}[api]    timeout=10s    round_robin=True
    ${admin: dict} =    Get Credentials    admin
    Log In As    ${admin}[username]    ${admin}[password]
