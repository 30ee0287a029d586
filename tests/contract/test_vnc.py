"""The VNC proxy (docs/contract.md §6): binary RFB through any replica, and its checks in order."""

from __future__ import annotations

import struct
from typing import Any

import pytest
import websocket

from tests.contract.agent import ContractAgent
from tests.contract.conftest import DOCKER_TEMPLATE, K8S_TEMPLATE
from tests.contract.helpers import create, terminate, wait_state
from tests.contract.stack import Api, Replica, Stack


def open_vnc(replica: Replica, session: str, token: str) -> websocket.WebSocket:
    return websocket.create_connection(f"{replica.ws_url}/api/v1/vnc/{session}?token={token}",
                                       subprotocols=["binary"], timeout=5)


def read_exactly(ws: websocket.WebSocket, size: int, buffer: bytearray) -> bytes:
    while len(buffer) < size:
        opcode, data = ws.recv_data()
        assert opcode == websocket.ABNF.OPCODE_BINARY, f"expected a binary frame, got opcode {opcode}"
        buffer.extend(data)
    chunk = bytes(buffer[:size])
    del buffer[:size]
    return chunk


def rfb_handshake(ws: websocket.WebSocket) -> tuple[int, int]:
    """Version, security None, ClientInit; returns the framebuffer size from ServerInit."""
    buffer = bytearray()
    assert read_exactly(ws, 12, buffer) == b"RFB 003.008\n"
    ws.send_binary(b"RFB 003.008\n")
    count = read_exactly(ws, 1, buffer)[0]
    types = read_exactly(ws, count, buffer)
    assert 1 in types, f"security None not offered: {list(types)}"
    ws.send_binary(b"\x01")
    assert read_exactly(ws, 4, buffer) == b"\x00\x00\x00\x00"
    ws.send_binary(b"\x01")  # shared
    width, height = struct.unpack(">HH", read_exactly(ws, 4, buffer))
    return width, height


@pytest.fixture(scope="module")
def dave_session(stack: Stack, tokens: dict[str, str], k8s_agent: ContractAgent) -> Any:
    dave = Api(stack["api-1"], tokens["dave"])
    name = create(dave, K8S_TEMPLATE)["name"]
    wait_state(dave, name, "running")
    yield name
    terminate(dave, name)


@pytest.mark.parametrize("replica", ["api-1", "api-3"])
def test_rfb_greeting_and_handshake_through_any_replica(stack: Stack, tokens: dict[str, str],
                                                        k8s_agent: ContractAgent, dave_session: str,
                                                        replica: str) -> None:
    assert k8s_agent.connected_to == stack["api-1"].url  # api-3 does not hold the agent: relay over Redis
    ws = open_vnc(stack[replica], dave_session, tokens["dave"])
    try:
        assert ws.subprotocol == "binary"
        assert rfb_handshake(ws) == (800, 600)
    finally:
        ws.close()


def test_vnc_checks_404_403_409_401_in_order(stack: Stack, tokens: dict[str, str], dave_session: str) -> None:
    dave = Api(stack["api-2"], tokens["dave"])
    cases = [("dave-nothing-00000000", tokens["dave"], 404), (dave_session, tokens["alice"], 403),
             (dave_session, "not-a-token", 401)]
    for session, token, status in cases:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            open_vnc(stack["api-2"], session, token)
        assert refused.value.status_code == status, (session, status)
    assert dave.call("PUT", f"/api/v1/sessions/{dave_session}/hibernate").status_code == 202
    wait_state(dave, dave_session, "hibernated")
    with pytest.raises(websocket.WebSocketBadStatusException) as asleep:
        open_vnc(stack["api-2"], dave_session, tokens["dave"])
    assert asleep.value.status_code == 409
    assert dave.call("PUT", f"/api/v1/sessions/{dave_session}/wake").status_code == 202
    wait_state(dave, dave_session, "running")
    ws = open_vnc(stack["api-2"], dave_session, tokens["dave"])  # a new tunnel after wake
    try:
        assert rfb_handshake(ws) == (800, 600)
    finally:
        ws.close()


def test_vnc_without_a_connected_agent_is_503(stack: Stack, admin: Api, creds: dict[str, Any],
                                             tokens: dict[str, str], vnc_server: Any) -> None:
    agent = ContractAgent("docker-vnc", "docker", [stack["api-2"].url], creds["agentKey"],
                          vnc_port=vnc_server.port).start()
    try:
        name = create(admin, DOCKER_TEMPLATE, user="erin")["name"]
        wait_state(admin, name, "running")
    finally:
        agent.stop()
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            open_vnc(stack["api-3"], name, tokens["erin"])
        assert refused.value.status_code == 503
    finally:
        admin.call("DELETE", f"/api/v1/sessions/{name}")
