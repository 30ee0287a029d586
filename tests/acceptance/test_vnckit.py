"""VncKit against real TigerVNC servers, over TCP and through a WebSocket bridge.

Each module-scoped desktop is an ``Xvnc`` on a free port with ``keyboard_display.py`` on it (a key
press paints a cell, a click paints a cross), so input comes back as changed pixels.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import robot
from PIL import Image
from robot.api.types import Secret
from Xlib import X, display

from environments.local.procs import ManagedProcess, wait_for
from environments.local.vnc_server import VncServer
from kitcore.errors import WaitTimeout
from tests.support.ws_bridge import WsBridge
from VncKit import VncKit
from VncKit.errors import VncAuthFailed, VncRefused
from VncKit.framebuffer import Region
from VncKit.rfb import RfbClient
from VncKit.screen import refresh
from VncKit.transport import parse_target

ROOT = Path(__file__).resolve().parents[2]
KEYBOARD_DISPLAY = ROOT / "environments" / "local" / "session" / "keyboard_display.py"
PASSWORD = "pa55-Wrd"
TOKEN = "tok-3f9a1c"
GEOMETRY = "320x240"


@dataclass
class Desktop:
    server: VncServer
    app: ManagedProcess

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.server.port}"

    def stop(self) -> None:
        self.app.stop()
        self.server.stop()


def start_desktop(workdir: Path, name: str, password: str | None) -> Desktop:
    server = VncServer(workdir, password=password, geometry=GEOMETRY, name=name).start()
    log = workdir / f"{name}-keyboard.log"
    app = ManagedProcess(f"{name}-keyboard", [sys.executable, str(KEYBOARD_DISPLAY)], log,
                         env={"DISPLAY": f":{server.display}"})
    try:
        app.start()
        wait_for(lambda: "ready" in log.read_text(), 15, "keyboard display did not start", log, app.popen)
    except BaseException:
        Desktop(server, app).stop()
        raise
    return Desktop(server, app)


def running_desktop(workdir: Path, name: str, password: str | None) -> Iterator[Desktop]:
    """A desktop for a fixture: started, handed over, and always stopped."""
    found = start_desktop(workdir, name, password)
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    yield from running_desktop(tmp_path_factory.mktemp("vnc-open"), "open", None)


@pytest.fixture(scope="module")
def auth_desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    yield from running_desktop(tmp_path_factory.mktemp("vnc-auth"), "auth", PASSWORD)


@pytest.fixture
def vnc() -> Iterator[VncKit]:
    library = VncKit(timeout="5s")
    try:
        yield library
    finally:
        library.close_all_vnc_connections()


@pytest.fixture
def choppy_bridge(auth_desktop: Desktop) -> Iterator[WsBridge]:
    """Splits every server write into random 1..13-byte binary frames; wants ?token=."""
    with WsBridge(auth_desktop.server.port, token=TOKEN, max_piece=13, seed=7) as bridge:
        yield bridge


# -- handshake --------------------------------------------------------------------------------
def test_handshake_without_security_reports_server_init(vnc: VncKit, desktop: Desktop) -> None:
    vnc.connect_to_vnc(desktop.address)
    assert vnc.get_rfb_protocol_version("==", "3.8") == "3.8"
    assert vnc.get_offered_security_types("==", ["None"]) == ["None"]
    assert vnc.get_desktop_size("==", "320x240") == (320, 240)
    pixel_format = vnc.get_pixel_format()
    assert (pixel_format["depth"], pixel_format["true_colour"], pixel_format["bits_per_pixel"]) == (24, True, 32)
    assert vnc.get_desktop_name("!=", "")
    with pytest.raises(AssertionError, match=r"RFB version .* should be"):
        vnc.get_rfb_protocol_version("==", "3.3")


def test_vnc_authentication_with_secret_password(vnc: VncKit, auth_desktop: Desktop) -> None:
    vnc.connect_to_vnc(auth_desktop.address, password=Secret(PASSWORD), alias="auth")
    assert vnc.get_offered_security_types("contains", "VncAuth") == ["VncAuth"]
    assert vnc.get_rfb_protocol_version() == "3.8"
    assert vnc.request_full_update() >= 0


@pytest.mark.parametrize("version", ["3.3", "3.7"])
def test_older_rfb_versions_are_negotiated(vnc: VncKit, auth_desktop: Desktop, version: str) -> None:
    vnc.connect_to_vnc(auth_desktop.address, password=PASSWORD, rfb_version=version)
    assert vnc.get_rfb_protocol_version("==", version) == version
    assert vnc.get_desktop_size() == (320, 240)


def test_wrong_password_fails_with_the_servers_reason(vnc: VncKit, auth_desktop: Desktop) -> None:
    started = time.monotonic()
    with pytest.raises(VncAuthFailed, match=r"wrong password.*the server said: Authentication failure") as caught:
        vnc.connect_to_vnc(auth_desktop.address, password=Secret("not-the-one"), timeout="3s")
    assert time.monotonic() - started < 3
    assert "not-the-one" not in str(caught.value)
    # one failure is a wrong password, not a block: the hint says so and names no server's setting
    assert "check the password" in str(caught.value) and "BlacklistTimeout" not in str(caught.value)


def test_missing_password_is_named(vnc: VncKit, auth_desktop: Desktop) -> None:
    with pytest.raises(VncAuthFailed, match=r"requires a password.*pass password="):
        vnc.connect_to_vnc(auth_desktop.address, timeout="3s")


def test_aliases_switch_and_close(vnc: VncKit, desktop: Desktop, auth_desktop: Desktop) -> None:
    vnc.connect_to_vnc(desktop.address, alias="open")
    vnc.connect_to_vnc(auth_desktop.address, password=PASSWORD, alias="auth")
    assert vnc.get_offered_security_types() == ["VncAuth"]
    vnc.switch_vnc_connection("open")
    assert vnc.get_offered_security_types() == ["None"]
    vnc.close_vnc_connection()
    with pytest.raises(RuntimeError, match="is closed"):
        vnc.get_desktop_name()
    assert vnc.get_offered_security_types(alias="auth") == ["VncAuth"]
    vnc.close_all_vnc_connections()
    assert not vnc.cleanup.pending()


# -- WebSocket ----------------------------------------------------------------------------------
def test_websocket_frames_split_anywhere_give_the_same_pixels(
    vnc: VncKit, auth_desktop: Desktop, choppy_bridge: WsBridge
) -> None:
    vnc.connect_to_vnc(auth_desktop.address, password=PASSWORD, alias="tcp")
    vnc.type_text_on_desktop("websocket")
    vnc.wait_until_screen_changes(timeout="5s")
    vnc.connect_to_vnc(choppy_bridge.url, password=Secret(PASSWORD), token=Secret(TOKEN), alias="ws",
                       encodings="Raw")
    assert vnc.get_rfb_protocol_version("==", "3.8") == "3.8"
    vnc.request_full_update(alias="tcp")
    vnc.request_full_update(alias="ws")
    tcp, ws = vnc.client("tcp"), vnc.client("ws")
    assert ws.framebuffer.rgb_bytes() == tcp.framebuffer.rgb_bytes()
    assert tcp.framebuffer.colours(Region(0, 0, 320, 240))[1:], "the typed cells should show"
    # the first full frame alone is 307 kB: hundreds of thousands of bytes in 1..13-byte frames
    assert choppy_bridge.frames_sent > 2 * 307_200 / 13


def test_websocket_token_in_header_and_several_messages_per_frame(vnc: VncKit, auth_desktop: Desktop) -> None:
    with WsBridge(auth_desktop.server.port, token=TOKEN, coalesce=0.03) as bridge:
        vnc.connect_to_vnc(bridge.url, password=PASSWORD, token=TOKEN, token_header="Authorization", alias="ws",
                           encodings="Raw")
        vnc.connect_to_vnc(auth_desktop.address, password=PASSWORD, alias="tcp")
        ws = vnc.client("ws")
        for corner in (0, 8, 16):
            ws.request_update(False, Region(corner, corner, 8, 8))
        updates = 0
        while ws.next_message(time.monotonic() + 0.5) is not None:
            updates += 1
        assert updates >= 1
        assert bridge.frames_sent < bridge.bytes_sent / 1000, "coalescing should make large frames"
        vnc.request_full_update(alias="tcp")
        vnc.request_full_update(alias="ws")
        assert ws.framebuffer.rgb_bytes() == vnc.client("tcp").framebuffer.rgb_bytes()


def test_websocket_without_token_is_refused(vnc: VncKit, auth_desktop: Desktop, choppy_bridge: WsBridge) -> None:
    with pytest.raises(VncRefused, match=r"rejected: HTTP 401.*token"):
        vnc.connect_to_vnc(choppy_bridge.url, password=PASSWORD, timeout="3s")


def test_token_never_appears_in_the_logged_address(choppy_bridge: WsBridge) -> None:
    target = parse_target(choppy_bridge.url + "?token=" + TOKEN)
    assert TOKEN not in target.display
    assert "token=***" in target.display


# -- screen and input ---------------------------------------------------------------------------
def test_typing_paints_cells_that_the_framebuffer_shows(vnc: VncKit, desktop: Desktop) -> None:
    vnc.connect_to_vnc(desktop.address)
    before = vnc.client().framebuffer.rgb_bytes()
    vnc.type_text_on_desktop("hello")
    elapsed = vnc.wait_until_screen_changes(timeout="5s")
    assert 0 <= elapsed < 5
    vnc.request_full_update()
    assert vnc.client().framebuffer.rgb_bytes() != before
    vnc.region_should_have_color("300,220,20,20", "black", timeout="2s")
    with pytest.raises(WaitTimeout, match=r"to have colour #ff0000.*last seen: 0\.0% .*#000000"):
        vnc.region_should_have_color("300,220,20,20", "#ff0000", timeout="300ms")


def test_press_key_by_name_and_wait_on_a_region(vnc: VncKit, desktop: Desktop) -> None:
    vnc.connect_to_vnc(desktop.address)
    vnc.press_key_on_desktop("F1")
    vnc.wait_until_screen_changes(timeout="5s")
    with pytest.raises(WaitTimeout, match=r"Screen region 300,220,20,20 .* to change"):
        vnc.wait_until_screen_changes("300,220,20,20", timeout="300ms")
    with pytest.raises(RuntimeError, match="Unknown key 'NoSuchKey'"):
        vnc.press_key_on_desktop("NoSuchKey")


def test_click_paints_a_cross_where_it_lands(vnc: VncKit, desktop: Desktop) -> None:
    vnc.connect_to_vnc(desktop.address)
    vnc.move_pointer(10, 230)
    vnc.click_on_desktop(250, 200)
    vnc.region_should_have_color("249,199,3,3", "#ffffff", timeout="3s")
    assert vnc.get_region_color("249,199,3,3", "==", "#ffffff") == "#ffffff"
    with pytest.raises(RuntimeError, match="outside the 320x240 desktop"):
        vnc.click_on_desktop(400, 10)


def test_a_desktop_is_drawn_once_its_program_runs_and_not_before(vnc: VncKit, desktop: Desktop,
                                                                   tmp_path: Path) -> None:
    """A session's VNC server answers before the program of its desktop runs: the screen is then one colour,
    and a viewer waits until it is not (the kit's session program marks itself ready on the screen)."""
    vnc.connect_to_vnc(desktop.address)
    vnc.wait_until_desktop_is_drawn(timeout="5s")
    bare = VncServer(tmp_path, geometry=GEOMETRY, name="bare").start()
    try:
        vnc.connect_to_vnc(f"127.0.0.1:{bare.port}", alias="bare")
        with pytest.raises(WaitTimeout, match=r"to be drawn .* one colour only \(#000000\)"):
            vnc.wait_until_desktop_is_drawn(timeout="500ms", alias="bare")
        app = ManagedProcess("bare-keyboard", [sys.executable, str(KEYBOARD_DISPLAY)], tmp_path / "keyboard.log",
                             env={"DISPLAY": f":{bare.display}"}).start()
        try:
            vnc.wait_until_desktop_is_drawn(timeout="10s", alias="bare")
        finally:
            app.stop()
    finally:
        bare.stop()


def test_copyrect_is_decoded_when_a_window_moves(vnc: VncKit, tmp_path: Path) -> None:
    server = VncServer(tmp_path, geometry="200x150", name="copyrect").start()
    try:
        x_display = display.Display(f":{server.display}")
        screen = x_display.screen()
        window = screen.root.create_window(10, 10, 30, 20, 0, screen.root_depth, X.InputOutput,
                                           X.CopyFromParent, background_pixel=0xFF0000, override_redirect=True)
        window.map()
        x_display.sync()
        vnc.connect_to_vnc(f"127.0.0.1:{server.port}")
        assert vnc.get_region_color("10,10,30,20") == "#ff0000"
        window.configure(x=120, y=100)
        x_display.sync()
        vnc.wait_until_screen_changes(timeout="3s")
        client = vnc.client()
        assert client.rects_by_encoding["CopyRect"] >= 1
        assert client.framebuffer.dominant_colour(Region(120, 100, 30, 20)) == (255, 0, 0)
        x_display.close()
    finally:
        vnc.close_all_vnc_connections()
        server.stop()


def test_screenshot_is_saved_as_png(vnc: VncKit, desktop: Desktop, tmp_path: Path) -> None:
    vnc.connect_to_vnc(desktop.address)
    saved = vnc.take_vnc_screenshot(str(tmp_path / "shots" / "desk.png"))
    with Image.open(saved) as image:
        assert image.size == (320, 240)
        assert image.format == "PNG"
    region = vnc.take_vnc_screenshot(str(tmp_path / "corner.png"), region="0,0,40,30")
    with Image.open(region) as image:
        assert image.size == (40, 30)


# -- measurements -------------------------------------------------------------------------------
def test_connect_and_first_frame_latency(vnc: VncKit, auth_desktop: Desktop) -> None:
    vnc.connect_to_vnc(auth_desktop.address, password=PASSWORD)
    connect = vnc.measure_connect_latency(samples=3)
    first_frame = vnc.measure_time_to_first_frame(samples=2)
    assert 0 < connect < 2
    assert 0 < first_frame < 3


@pytest.mark.parametrize("transport", ["tcp", "ws"])
def test_input_latency_is_measured(vnc: VncKit, desktop: Desktop, transport: str) -> None:
    if transport == "ws":
        with WsBridge(desktop.server.port, max_piece=4096) as bridge:
            vnc.connect_to_vnc(bridge.url)
            latency = vnc.measure_input_latency(key="b", samples=3)
    else:
        vnc.connect_to_vnc(desktop.address)
        latency = vnc.measure_input_latency(key="b", samples=3)
    assert 0 < latency < 2


def test_input_latency_fails_when_nothing_changes(vnc: VncKit, desktop: Desktop) -> None:
    vnc.connect_to_vnc(desktop.address)
    with pytest.raises(WaitTimeout, match="to change"):
        vnc.measure_input_latency(key="Shift_L", region="300,220,20,20", timeout="300ms")


def test_stream_throughput_counts_the_bytes_of_updates(vnc: VncKit, desktop: Desktop) -> None:
    vnc.connect_to_vnc(desktop.address, encodings="Raw")
    full = vnc.measure_stream_throughput(window="1s", incremental=False)
    assert full > 1_000_000, "back-to-back Raw frames of 307 kB over loopback"
    typist = RfbClient(parse_target(desktop.address), timeout=5).connect()
    stop = threading.Event()

    def type_keys() -> None:
        while not stop.wait(0.02):
            typist.key(0x63, True)
            typist.key(0x63, False)

    worker = threading.Thread(target=type_keys, daemon=True)
    worker.start()
    try:
        incremental = vnc.measure_stream_throughput(window="1s")
    finally:
        stop.set()
        worker.join(2)
        typist.close()
    assert 0 < incremental < full


def test_stream_stability_on_a_healthy_server(vnc: VncKit, desktop: Desktop) -> None:
    vnc.connect_to_vnc(desktop.address)
    max_gap = vnc.check_stream_stability(duration="1s", gap_threshold="500ms", interval="50ms", max_gaps=0)
    assert 0 < max_gap < 0.5


def test_stream_stability_sees_a_frozen_server(vnc: VncKit, tmp_path: Path) -> None:
    server = VncServer(tmp_path, geometry="100x80", name="frozen").start()
    pid = server.process.pid
    freeze = threading.Timer(0.3, os.kill, (pid, signal.SIGSTOP))
    thaw = threading.Timer(0.9, os.kill, (pid, signal.SIGCONT))
    try:
        vnc.connect_to_vnc(f"127.0.0.1:{server.port}")
        freeze.start()
        thaw.start()
        with pytest.raises(AssertionError, match=r"had [12] gaps? longer than 300 ms"):
            vnc.check_stream_stability(duration="1.5s", gap_threshold="300ms", interval="50ms", max_gaps=0)
    finally:
        freeze.cancel()
        thaw.cancel()
        os.kill(pid, signal.SIGCONT)
        vnc.close_all_vnc_connections()
        server.stop()


# -- Robot Framework integration -----------------------------------------------------------------
def test_robot_suite_embeds_a_screenshot_and_hides_the_password(
    auth_desktop: Desktop, choppy_bridge: WsBridge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VNC_PASSWORD", PASSWORD)
    monkeypatch.setenv("VNC_TOKEN", TOKEN)
    rc = robot.run(
        str(Path(__file__).with_name("vnckit_smoke.robot")),
        outputdir=str(tmp_path), variable=[f"VNC_ADDRESS:{auth_desktop.address}", f"VNC_WS_URL:{choppy_bridge.url}"],
        loglevel="TRACE", console="none", stdout=None,
    )
    output = (tmp_path / "output.xml").read_text()
    assert rc == 0, output[-3000:]
    assert output.count('<status status="PASS"') >= 3
    assert "data:image/png;base64," in output
    assert (tmp_path / "desktop.png").exists()
    for name in ("output.xml", "log.html", "report.html"):
        text = (tmp_path / name).read_text()
        assert PASSWORD not in text, f"the password leaked into {name}"
        assert TOKEN not in text, f"the token leaked into {name}"


def test_helpers_leave_no_connection_open(desktop: Desktop) -> None:
    client = RfbClient(parse_target(desktop.address), timeout=5).connect()
    update = refresh(client, Region(0, 0, 10, 10))
    assert update.covers(Region(0, 0, 10, 10))
    client.close()
    assert client.closed


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-days", "1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return str(cert), str(key)


def test_wss_with_a_self_signed_certificate(vnc: VncKit, auth_desktop: Desktop, certificate: tuple[str, str]) -> None:
    with WsBridge(auth_desktop.server.port, token=TOKEN, tls=certificate, max_piece=512) as bridge:
        assert bridge.url.startswith("wss://")
        with pytest.raises(VncRefused, match=r"TLS failed.*Fix: use verify_tls=False"):
            vnc.connect_to_vnc(bridge.url, password=PASSWORD, token=TOKEN, timeout="3s")
        vnc.connect_to_vnc(bridge.url, password=PASSWORD, token=TOKEN, verify_tls=False)
        assert vnc.get_rfb_protocol_version() == "3.8"
        vnc.type_text_on_desktop("tls")
        vnc.wait_until_screen_changes(timeout="5s")
        vnc.close_vnc_connection()
