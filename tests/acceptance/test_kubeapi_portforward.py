"""Pod port-forward over WebSocket, with the official Python client (``kubernetes.stream.portforward``,
what KubeKit and the kind environment's relays use), and the loopback rule of both variants.

The "pod" is a TCP server of the test on a loopback address of its own; the pod's ``status.podIP``
names it, as the kubelet stand-in does for the local stack's pods. SPDY port-forward is tested with
raw frames in ``test_kubeapi_protocols.py``, with client-go in ``test_kubeapi_clientgo.py`` and with
kubectl (which tunnels SPDY through a WebSocket) in ``test_kubeapi_kubectl.py``.
"""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import pytest
import websocket
from kubernetes import client
from kubernetes.stream import portforward

from environments.local.kubeapi.portforward import connect
from environments.local.kubeapi.spdy import SYN_REPLY, Codec
from tests.support.spdy_forward import upgrade

POD_IP = "127.0.206.5"
TIMEOUT = 5


class PodServer:
    """A TCP server on ``POD_IP``; ``handle(conn)`` serves each connection; ``ended`` counts the connections that
    saw the client's end (EOF)."""

    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self.handle = handle
        self.server = socket.create_server((POD_IP, 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.ended = threading.Semaphore(0)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            self.handle(conn)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.server.close()


@pytest.fixture
def pod_server() -> Iterator[Callable[[Callable[[socket.socket], None]], PodServer]]:
    servers: list[PodServer] = []

    def make(handle: Callable[[socket.socket], None]) -> PodServer:
        servers.append(PodServer(handle))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def echo(transform: Callable[[bytes], bytes] = lambda data: data) -> Callable[[socket.socket], None]:
    def handle(conn: socket.socket) -> None:
        while data := conn.recv(65536):
            conn.sendall(transform(data))
    return handle


@pytest.fixture
def core(kube_api) -> Iterator[client.CoreV1Api]:
    with client.ApiClient(client.Configuration(host=kube_api.url)) as api:
        yield client.CoreV1Api(api)


@pytest.fixture
def ns(core) -> Iterator[str]:
    name = f"pf-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}}, _request_timeout=TIMEOUT)
    yield name
    core.delete_namespace(name, _request_timeout=TIMEOUT)


def make_pod(core: client.CoreV1Api, ns: str, name: str = "pod", ip: str | None = POD_IP) -> str:
    core.create_namespaced_pod(ns, {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "i"}]}},
                               _request_timeout=TIMEOUT)
    if ip is not None:
        core.patch_namespaced_pod_status(name, ns, {"status": {"phase": "Running", "podIP": ip}},
                                         _request_timeout=TIMEOUT)
    return name


def forward(core: client.CoreV1Api, ns: str, pod: str, *ports: int) -> portforward:
    return portforward(core.connect_get_namespaced_pod_portforward, pod, ns, ports=",".join(map(str, ports)))


def read_exactly(sock: socket.socket, size: int) -> bytes:
    sock.settimeout(TIMEOUT)
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, f"the connection closed after {len(data)} of {size} bytes"
        data.extend(chunk)
    return bytes(data)


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(client.ApiException) as caught:
        call()
    return str(caught.value)


# -- the Python client ---------------------------------------------------------------------------------------
def test_bytes_go_both_ways_in_many_frames(core, ns, pod_server):
    server = pod_server(echo())
    stream = forward(core, ns, make_pod(core, ns), server.port)
    sock = stream.socket(server.port)
    payload = os.urandom(3 << 20)  # 3 MiB: several WebSocket messages each way
    sender = threading.Thread(target=sock.sendall, args=(payload,))
    sender.start()
    try:
        assert read_exactly(sock, len(payload)) == payload
    finally:
        sender.join(TIMEOUT)
        stream.close()
    assert stream.error(server.port) is None


def test_two_ports_at_once_each_on_its_own_channels(core, ns, pod_server):
    plain, upper = pod_server(echo()), pod_server(echo(bytes.upper))
    stream = forward(core, ns, make_pod(core, ns), plain.port, upper.port)
    try:
        for round_trip in range(3):
            message = b"frame %d" % round_trip
            stream.socket(upper.port).sendall(message)
            stream.socket(plain.port).sendall(message)
            assert read_exactly(stream.socket(plain.port), len(message)) == message
            assert read_exactly(stream.socket(upper.port), len(message)) == message.upper()
    finally:
        stream.close()


def test_a_refused_port_is_reported_on_its_error_channel_and_the_other_port_works(core, ns, pod_server):
    server = pod_server(echo())
    closed = socket.create_server((POD_IP, 0))
    refused = closed.getsockname()[1]
    closed.close()  # a port where nothing listens
    stream = forward(core, ns, make_pod(core, ns), refused, server.port)
    try:
        sock = stream.socket(refused)
        sock.settimeout(TIMEOUT)
        assert sock.recv(16) == b""
        error = stream.error(refused)
        assert error == f"error forwarding port {refused} to pod pod: dial tcp {POD_IP}:{refused}: connect: " \
                        "connection refused", error
        stream.socket(server.port).sendall(b"still here")
        assert read_exactly(stream.socket(server.port), 10) == b"still here"
    finally:
        stream.close()


def test_the_pod_closing_ends_the_forward_after_its_last_bytes(core, ns, pod_server):
    def greet_and_close(conn: socket.socket) -> None:
        conn.sendall(b"RFB 003.008\n")

    server = pod_server(greet_and_close)
    stream = forward(core, ns, make_pod(core, ns), server.port)
    sock = stream.socket(server.port)
    assert read_exactly(sock, 12) == b"RFB 003.008\n"
    assert sock.recv(16) == b""  # the WebSocket closed: one port, so the whole forward ends
    deadline = time.monotonic() + TIMEOUT
    while stream.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not stream.connected and stream.error(server.port) is None


def test_the_client_closing_ends_the_pods_connection(core, ns, pod_server):
    def serve_until_eof(conn: socket.socket) -> None:
        echo()(conn)
        server.ended.release()

    server = pod_server(serve_until_eof)
    stream = forward(core, ns, make_pod(core, ns), server.port)
    stream.socket(server.port).sendall(b"x")
    assert read_exactly(stream.socket(server.port), 1) == b"x"
    stream.close()
    assert server.ended.acquire(timeout=TIMEOUT), "the pod's connection did not end when the client closed"


def test_errors_before_the_upgrade(core, ns):
    assert "404" in refusal(lambda: forward(core, ns, "missing", 80))
    make_pod(core, ns, "pending", ip=None)
    answer = refusal(lambda: forward(core, ns, "pending", 80))
    assert "400" in answer and "not running" in answer


# -- the loopback rule ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("ip", ["10.0.0.7", "192.168.1.20", "0.0.0.0", "localhost"])
def test_a_pod_off_loopback_is_refused_over_websocket_and_spdy_naming_the_rule(core, ns, kube_api, ip):
    name = make_pod(core, ns, ip=ip)
    answer = refusal(lambda: forward(core, ns, name, 80))
    assert "403" in answer and "not a loopback address" in answer and "127.0.0.0/8" in answer, answer
    sock, status, body = upgrade(kube_api.url, ns, name)
    sock.close()
    assert status == 403 and b"not a loopback address" in body and b"127.0.0.0/8" in body
    assert f"unserved: GET /api/v1/namespaces/{ns}/pods/{name}/portforward" in kube_api.process.log.read_text()


def test_the_connection_itself_refuses_an_address_off_loopback():
    with pytest.raises(PermissionError, match="not a loopback address"):
        asyncio.run(connect("10.0.0.7", 80))


# -- the WebSocket protocols, without the Python client -------------------------------------------------------
def ws_url(base: str, ns: str, pod: str, query: str) -> str:
    return f"ws://{urlparse(base).netloc}/api/v1/namespaces/{ns}/pods/{pod}/portforward{query}"


def test_subprotocols_the_kubelet_serves_and_the_ones_it_refuses(core, ns, kube_api, pod_server):
    server = pod_server(echo())
    pod = make_pod(core, ns)
    port = struct.pack("<H", server.port)
    url = ws_url(kube_api.url, ns, pod, f"?ports={server.port}")
    plain = websocket.create_connection(url, timeout=TIMEOUT)  # no subprotocol: the binary channel protocol
    try:
        assert plain.getsubprotocol() is None
        assert [plain.recv(), plain.recv()] == [b"\x00" + port, b"\x01" + port]
        plain.send_binary(b"\x00ping")
        assert plain.recv() == b"\x00ping"
    finally:
        plain.close()
    text = websocket.create_connection(url, timeout=TIMEOUT, subprotocols=["v4.base64.channel.k8s.io"])
    try:
        assert text.getsubprotocol() == "v4.base64.channel.k8s.io"
        assert text.recv() == "0" + base64.b64encode(port).decode()
        assert text.recv() == "1" + base64.b64encode(port).decode()
        text.send("0" + base64.b64encode(b"pong").decode())
        assert text.recv() == "0" + base64.b64encode(b"pong").decode()
    finally:
        text.close()
    for offered in (["v5.channel.k8s.io"], ["channel.k8s.io"]):  # exec's protocols, not port-forward's
        with pytest.raises(websocket.WebSocketBadStatusException) as caught:
            websocket.create_connection(url, timeout=TIMEOUT, subprotocols=offered)
        assert caught.value.status_code == 403 and b"v4.channel.k8s.io" in caught.value.resp_body
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(ws_url(kube_api.url, ns, pod, ""), timeout=TIMEOUT)
    assert caught.value.status_code == 400 and b"is required" in caught.value.resp_body
    with pytest.raises(websocket.WebSocketBadStatusException) as caught:
        websocket.create_connection(ws_url(kube_api.url, ns, pod, "?ports=70000"), timeout=TIMEOUT)
    assert caught.value.status_code == 400


def test_spdy_tunnelled_in_a_websocket_as_kubectl_does(core, ns, kube_api, pod_server):
    server = pod_server(echo())
    pod = make_pod(core, ns)
    ws = websocket.create_connection(ws_url(kube_api.url, ns, pod, ""), timeout=TIMEOUT,
                                     subprotocols=["SPDY/3.1+portforward.k8s.io"])
    codec = Codec()
    try:
        assert ws.getsubprotocol().lower() == "spdy/3.1+portforward.k8s.io"  # the client lowercases it
        headers = {"port": str(server.port), "requestid": "0"}
        ws.send_binary(codec.syn_stream(1, {"streamtype": "error", **headers}))
        ws.send_binary(codec.syn_stream(3, {"streamtype": "data", **headers}))
        ws.send_binary(codec.data(3, b"through the tunnel"))
        data, replies = bytearray(), 0
        while len(data) < 18:
            for frame in codec.feed(ws.recv()):
                replies += frame.control and frame.kind == SYN_REPLY
                if not frame.control and frame.stream_id == 3:
                    data.extend(frame.payload)
        assert bytes(data) == b"through the tunnel" and replies == 2
    finally:
        ws.close()
