*** Settings ***
Documentation       VncKit from Robot Framework: a handshake over TCP, typing over a WebSocket that
...                 splits frames anywhere, a screenshot embedded in log.html, and a password and a
...                 token that never reach the logs. Run by tests/acceptance/test_vnckit.py.

Library             VncKit    timeout=5s

Test Teardown       Close All VNC Connections

Test Tags           vnc


*** Variables ***
${VNC_ADDRESS: str}         127.0.0.1:5900
${VNC_WS_URL: str}          ws://127.0.0.1:6080/websockify
${VNC_PASSWORD: Secret}     %{VNC_PASSWORD}
${VNC_TOKEN: Secret}        %{VNC_TOKEN}


*** Test Cases ***
Handshake Over TCP Reports RFB Version And VNC Authentication
    [Documentation]    The server speaks RFB 3.8, offers VNC authentication and a 320x240 desktop.
    [Tags]    handshake
    Connect To VNC    ${VNC_ADDRESS}    password=${VNC_PASSWORD}    alias=tcp
    Get RFB Protocol Version    ==    3.8
    Get Offered Security Types    contains    VncAuth
    Get Desktop Size    ==    320x240
    Take VNC Screenshot    ${OUTPUT_DIR}/desktop.png

Typing Over WebSocket Changes The Screen
    [Documentation]    Keys typed through the WebSocket come back as changed pixels, quickly.
    [Tags]    websocket    input
    Connect To VNC    ${VNC_WS_URL}    password=${VNC_PASSWORD}    token=${VNC_TOKEN}
    Type Text On Desktop    robot
    Wait Until Screen Changes    timeout=5s
    Take VNC Screenshot
    ${latency: float} =    Measure Input Latency    key=r    samples=3
    Should Be True    ${latency} < 2

Every Encoding Shows The Same Desktop
    [Documentation]    The desktop decoded with Raw and with Hextile, ZRLE and lossless Tight is the
    ...    same pixel for pixel; with JPEG (as a browser asks) it stays within the error bound.
    [Tags]    encodings
    Connect To VNC    ${VNC_ADDRESS}    password=${VNC_PASSWORD}    encodings=Raw    alias=raw
    Connect To VNC    ${VNC_ADDRESS}    password=${VNC_PASSWORD}    encodings=Hextile    alias=hextile
    Connect To VNC    ${VNC_ADDRESS}    password=${VNC_PASSWORD}    encodings=ZRLE    alias=zrle
    Connect To VNC    ${VNC_ADDRESS}    password=${VNC_PASSWORD}    encodings=Tight    jpeg_quality=${NONE}
    ...    alias=tight
    Connect To VNC    ${VNC_ADDRESS}    password=${VNC_PASSWORD}    alias=browser
    Screens Should Match    raw    hextile
    Screens Should Match    raw    zrle
    Screens Should Match    raw    tight
    Screens Should Match    raw    browser    max_mean_error=3    max_error=48    outliers=0.01
    Get Used Encodings    contains    Tight    alias=browser

A Wrong Password Is Refused With The Server's Reason
    [Documentation]    A wrong password fails the connection with the server's own words.
    [Tags]    negative
    Run Keyword And Expect Error    *wrong password*Authentication failure*
    ...    Connect To VNC    ${VNC_ADDRESS}    password=wrong-one
