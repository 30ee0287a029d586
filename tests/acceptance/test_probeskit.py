"""ProbesKit: probes against real processes -- zero when calm, the fault when one is made."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ProbesKit.probes.commands import CommandDeliveryProbe
from ProbesKit.probes.stream import StreamProbe

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from test_environmentkit import SERVERS, run_suite, start_fake, stop_fake  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_ticker(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(SERVERS), "ticker", "--port", str(port), "--every-ms", "20"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError("the ticker did not start") from None
            time.sleep(0.05)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


@pytest.fixture
def ticker():
    port = free_port()
    procs = [start_ticker(port)]
    try:
        yield port, procs
    finally:
        for proc in procs:
            stop(proc)


@pytest.fixture
def fake_stack(tmp_path):
    proc, ready = start_fake(tmp_path)
    try:
        yield ready
    finally:
        stop_fake(proc)


def wait_until(check, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_robot_suite(fake_stack, ticker, tmp_path):
    port, _ = ticker
    rc, output = run_suite("probeskit.robot", tmp_path, ENVIRONMENT_TOPOLOGY_FILE=str(fake_stack),
                           STREAM_URL=f"tcp://127.0.0.1:{port}")
    assert rc == 0, f"{rc} Robot test(s) failed; see {tmp_path}/log.html"
    assert 'pass="10" fail="0"' in output
    assert "test-token" not in output


def test_stream_probe_sees_the_gap_while_the_server_is_down_and_reconnects(ticker):
    port, procs = ticker
    probe = StreamProbe("s", f"tcp://127.0.0.1:{port}", interval=0.02, max_duration=30, gap_threshold=0.3)
    probe.start()
    try:
        wait_until(lambda: len(probe.arrivals) >= 10)
        stop(procs[0])
        down_at = time.monotonic()
        wait_until(lambda: probe.disconnects >= 1)
        time.sleep(0.6)  # the outage we measure
        procs.append(start_ticker(port))
        wait_until(lambda: probe.reconnects >= 1 and probe.arrivals[-1] > down_at - probe.started_mono + 0.5)
    finally:
        report = probe.stop()
    assert report["disconnects"] >= 1
    assert report["reconnects"] >= 1
    assert 0.6 <= report["max_gap"] < 5
    assert report["gaps_over_threshold"] == 1


def test_stream_probe_reads_any_transport_with_a_read_method():
    class Transport:
        def __init__(self) -> None:
            self.calls = 0

        def read(self, timeout: float) -> bytes | None:
            self.calls += 1
            time.sleep(min(timeout, 0.01))
            return b"x" if self.calls % 2 else None

    probe = StreamProbe("t", Transport(), interval=0.02, max_duration=0.5, gap_threshold=0.2)
    probe.start()
    probe.join(5)  # stops by itself at max_duration
    report = probe.stop()
    assert report["running"] is False
    assert 0.4 <= report["duration"] < 1.5
    assert report["chunks"] > 5
    assert report["max_gap"] < 0.2


def test_command_delivery_with_a_callable_counts_lost_and_duplicates():
    completions: list[dict] = []
    probe = CommandDeliveryProbe("c", source=lambda: list(completions), interval=0.01, max_duration=30)
    probe.start()
    for i in range(5):
        probe.record_issued(f"cmd-{i}")
    completions += [{"commandId": "cmd-0"}, {"commandId": "cmd-1"}, {"commandId": "cmd-2"}]
    completions += [{"commandId": "cmd-1"}]  # executed twice
    completions += [{"commandId": "cmd-x"}]  # never issued
    wait_until(lambda: probe.pending() == 2)
    probe.request_stop()
    probe.join()
    probe.settle(0.1)
    report = probe.stop()
    assert report["issued"] == 5
    assert report["completed"] == 3
    assert report["lost"] == report["rpo"] == 2
    assert report["lost_ids"] == ["cmd-3", "cmd-4"]
    assert report["duplicates"] == 1 and report["duplicate_ids"] == ["cmd-1"]
    assert report["unexpected"] == 1


def test_command_delivery_reports_zero_when_everything_completes():
    done: list[str] = []
    probe = CommandDeliveryProbe("c", source=lambda: list(done), interval=0.01, max_duration=30)
    probe.start()
    for i in range(3):
        probe.record_issued(f"cmd-{i}")
        done.append(f"cmd-{i}")
    probe.request_stop()
    probe.join()
    probe.settle(2)
    report = probe.stop()
    assert (report["issued"], report["lost"], report["duplicates"]) == (3, 0, 0)


def test_a_probe_stops_by_itself_at_its_max_duration():
    probe = CommandDeliveryProbe("c", source=list, interval=0.01, max_duration=0.3)
    started = time.monotonic()
    probe.start()
    probe.join(5)
    assert not probe.running
    assert time.monotonic() - started < 2


@pytest.fixture
def http_server():
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(SERVERS), "http", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: _answers(port), timeout=10)
        yield port
    finally:
        stop(proc)


def _answers(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


def test_stream_probe_over_a_websocket(http_server):
    probe = StreamProbe("ws", f"ws://127.0.0.1:{http_server}/ws-ticks", interval=0.02, max_duration=30,
                        subprotocols=["binary"])
    probe.start()
    try:
        wait_until(lambda: len(probe.arrivals) >= 20)
    finally:
        report = probe.stop()
    assert report["chunks"] >= 20
    assert report["bytes"] == 8 * report["chunks"]
    assert report["max_gap"] < 0.5
    assert report["disconnects"] == 0


def test_stream_probe_reads_a_vnckit_style_transport():
    """recv(timeout): TimeoutError when nothing came, b'' once closed."""
    class Transport:
        def __init__(self) -> None:
            self.calls = 0

        def recv(self, timeout: float) -> bytes:
            self.calls += 1
            if self.calls > 30:
                return b""  # closed
            if self.calls % 3 == 0:
                time.sleep(min(timeout, 0.01))
                raise TimeoutError
            return b"rfb"

    probe = StreamProbe("vnc", Transport(), interval=0.02, max_duration=0.5)
    probe.start()
    probe.join(5)
    report = probe.stop()
    assert report["chunks"] == 20
    assert report["disconnects"] >= 1
    assert "closed" in report["last_error"]
