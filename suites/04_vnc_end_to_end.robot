*** Settings ***
Documentation       Scenario 4 — VNC end to end, as a browser sees it, for Kubernetes and Docker sessions.
...
...                 A browser opens a WebSocket to any API replica (``/api/v1/vnc/<session>?token=...``,
...                 subprotocol ``binary``). The replica relays the RFB bytes to the agent (through Redis when
...                 another replica holds the agent), the agent tunnels them to the session's VNC server, and
...                 the screen comes back the same way. Typing in the viewer must change the session's screen,
...                 which proves the data flows both ways. Only the owner (or an admin) may connect, only to a
...                 running session, and the stream ends with the session.
...
...                 The tests tagged ``browser`` do it with a real browser: headless Chromium runs noVNC and opens the
...                 same WebSocket, keys are typed in the browser and what it shows is read from its canvas and put in
...                 the log as screenshots.

Resource            ../resources/browser.resource
Resource            ../resources/ha.resource
Resource            ../resources/vnc.resource
Variables           ../variables/thresholds.yaml

Suite Setup         The HA Test Environment Is Running
Suite Teardown      Leave The Platform
Test Setup          The Platform Is Ready
Test Teardown       Close All VNC Connections

Test Tags           vnc


*** Test Cases ***
Session Templates Offer VNC
    [Documentation]    Every template declares a VNC server with every field the contract requires, and a session
    ...    of each platform streams VNC on its template's port.
    [Tags]    kubernetes    docker
    Given Every Template Should Offer VNC
    ${user} =    And A New User Called    alice
    Then A Session On Each Platform Should Offer VNC    ${user}

The Tunnel Reaches A Kubernetes Session's Desktop
    [Documentation]    A viewer through the Control Plane speaks RFB with the desktop of a Kubernetes session.
    [Tags]    kubernetes
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    kubernetes
    ${viewer} =    When A VNC Viewer Is Connected To    ${session}    user=${user}
    Then The Desktop Should Answer    ${viewer}

The Tunnel Reaches A Docker Session's Desktop
    [Documentation]    A viewer through the Control Plane speaks RFB with the desktop of a Docker session.
    [Tags]    docker
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    docker
    ${viewer} =    When A VNC Viewer Is Connected To    ${session}    user=${user}
    Then The Desktop Should Answer    ${viewer}

Typed Input Comes Back As Pixels On Kubernetes
    [Documentation]    Keys typed in a browser-style viewer change the Kubernetes session's screen.
    [Tags]    kubernetes
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    kubernetes
    ${viewer} =    When A VNC Viewer Is Connected To    ${session}    user=${user}
    Then Typed Text Should Come Back As Pixels    ${viewer}

Typed Input Comes Back As Pixels On Docker
    [Documentation]    Keys typed in a browser-style viewer change the Docker session's screen.
    [Tags]    docker
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    docker
    ${viewer} =    When A VNC Viewer Is Connected To    ${session}    user=${user}
    Then Typed Text Should Come Back As Pixels    ${viewer}

A Click Comes Back As Pixels
    [Documentation]    A pointer click in the viewer paints where it landed on the session's screen.
    [Tags]    docker
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    docker
    ${viewer} =    When A VNC Viewer Is Connected To    ${session}    user=${user}
    Then A Click Should Come Back As Pixels    ${viewer}

Any Replica Proxies The Stream To The Agent
    [Documentation]    A viewer connected to a replica that does not hold the agent still reaches the desktop,
    ...    both ways (the replicas relay the stream between them).
    [Tags]    kubernetes    ha
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    kubernetes
    ${holder} =    And The Replica Holding The Agent Of    kubernetes
    ${other} =    And A Replica Other Than    ${holder}
    ${viewer} =    When A VNC Viewer Is Connected To    ${session}    replica=${other}    user=${user}
    Then The Desktop Should Answer    ${viewer}
    And Typed Text Should Come Back As Pixels    ${viewer}

A Viewer Reconnects To The Same Session
    [Documentation]    Closing a viewer and opening a new one works: each connection gets its own tunnel.
    [Tags]    kubernetes
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    kubernetes
    ${viewer} =    And A VNC Viewer Is Connected To    ${session}    user=${user}
    When Close VNC Connection    alias=${viewer}
    ${again} =    And A VNC Viewer Is Connected To    ${session}    user=${user}
    Then Typed Text Should Come Back As Pixels    ${again}

VNC Follows Hibernation And Wake
    [Documentation]    A hibernated session refuses VNC (409); once woken, the desktop answers again.
    [Tags]    docker
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    docker
    When The Session Is Hibernated    ${session}
    Then VNC Of The Session Should Be Refused    ${session}    409    user=${user}
    When The Session Is Woken    ${session}
    ${viewer} =    Then A VNC Viewer Is Connected To    ${session}    user=${user}
    And Typed Text Should Come Back As Pixels    ${viewer}

VNC Needs A Token And The Owner
    [Documentation]    No token gives 401; another user's token gives 403; the owner's gives the desktop.
    [Tags]    kubernetes    security
    ${user} =    Given A New User Called    alice
    ${intruder} =    And A New User Called    mallory
    ${session} =    And A Running Session For    ${user}    kubernetes
    Then VNC Without A Token Should Be Refused    ${session}
    And VNC Of The Session Should Be Refused    ${session}    403    user=${intruder}
    And VNC Of The Session Should Be Open To Its Owner    ${session}    ${user}

The Stream Ends When The Session Is Terminated
    [Documentation]    Terminating a session closes its open viewers and no new one can connect.
    [Tags]    kubernetes    docker
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    kubernetes
    ${viewer} =    And A VNC Viewer Is Connected To    ${session}    user=${user}
    When The Session Is Terminated    ${session}
    Then The Viewer Should Lose The Desktop    ${viewer}
    And VNC Of The Session Should Be Closed For Good    ${session}

A Browser Shows A Kubernetes Session's Desktop And What Is Typed In It
    [Documentation]    A real browser opens the desktop of a Kubernetes session through the Control Plane; keys
    ...    typed in it come back on the desktop the browser shows.
    [Tags]    kubernetes    browser
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    kubernetes
    ${browser} =    When The Desktop Is Opened In A Browser    ${session}    user=${user}
    Then Text Typed In The Browser Should Show On The Desktop    ${browser}

A Browser Shows A Docker Session's Desktop And What Is Typed In It
    [Documentation]    A real browser opens the desktop of a Docker session through the Control Plane; keys typed
    ...    in it and a click come back on the desktop the browser shows.
    [Tags]    docker    browser
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    docker
    ${browser} =    When The Desktop Is Opened In A Browser    ${session}    user=${user}
    Then Text Typed In The Browser Should Show On The Desktop    ${browser}
    And A Click In The Browser Should Show On The Desktop    ${browser}

A Browser Through Another Replica Loses The Desktop When The Session Ends
    [Documentation]    A browser on a replica that does not hold the agent shows the desktop, and the stream ends
    ...    in the browser when the session is terminated.
    [Tags]    kubernetes    browser    ha
    ${user} =    Given A New User Called    alice
    ${session} =    And A Running Session For    ${user}    kubernetes
    ${holder} =    And The Replica Holding The Agent Of    kubernetes
    ${other} =    And A Replica Other Than    ${holder}
    ${browser} =    And The Desktop Is Opened In A Browser    ${session}    replica=${other}    user=${user}
    When The Session Is Terminated    ${session}
    Then The Browser Should Lose The Desktop    ${browser}
