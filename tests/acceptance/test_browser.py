"""VncKit's browser keywords: headless Chromium with noVNC on a real desktop, and on broken streams.

A real Xvnc desktop with the keyboard display program sits behind a noVNC-style WebSocket bridge that
demands a token, as the platform's VNC route does. Typed text must come back through the browser; a
desktop that ignores keys or only blinks a cursor must fail the same check; a wrong token and a
stream that never sends a frame must fail with the browser's screenshot in the log, and nothing the
browser keywords started may be left running.
"""

from __future__ import annotations

import base64
import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import psutil
import pytest
from PIL import Image
from robot.api import ExecutionResult

from tests.acceptance.test_vnckit import Desktop, running_desktop
from tests.acceptance.test_vnckit_echo import blinking_cursor, scripted_desktop, typed_cells
from tests.acceptance.test_vnckit_failures import ScriptedServer, handshake
from tests.support.ws_bridge import WsBridge
from VncKit import VncKit
from VncKit.browser import chromium
from VncKit.browser import desktop as browser_desktop
from VncKit.browser.desktop import BrowserDesktop, Change
from VncKit.browser.pages import PageServer, _Handler
from VncKit.echo import TypedTextMissing
from VncKit.errors import VncClosed, VncError, VncStalled
from VncKit.framebuffer import Region

REPO = Path(__file__).resolve().parents[2]
KILLED_BUDGET = 10.0  # seconds for the browser of a killed run to die with it (parent-death signals)
TOKEN = "owner-token"  # a test token the bridge demands
PNG_IN_LOG = re.compile(r'data:image/png;base64,([A-Za-z0-9+/=]+)')

pytestmark = pytest.mark.skipif(not (chromium.CHROMIUM.is_file() and chromium.CHROMEDRIVER.is_file()),
                                reason="Debian's chromium and chromium-driver are not installed")


def browser_processes(owner: int) -> dict[int, str]:
    """The processes (pid: name) the browser keywords of process ``owner`` started: they carry the kit's mark."""
    mark = f"vnckit-browser-of-{owner}"
    found = {}
    for process in psutil.process_iter():
        try:
            if process.environ().get(chromium.OWNER_MARK) == mark:
                found[process.pid] = process.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def group_members(pgid: int) -> list[str]:
    """The live processes of process group ``pgid`` (Chromium's helpers drop the kit's mark; the group keeps them)."""
    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(f"{process.pid} {process.name()}")
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return members


@pytest.fixture(scope="module")
def desktop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desktop]:
    yield from running_desktop(tmp_path_factory.mktemp("browser-desktop"), "browser", None)


@pytest.fixture(scope="module")
def bridge(desktop: Desktop) -> Iterator[WsBridge]:
    with WsBridge(target_port=desktop.server.port, token=TOKEN) as running:
        yield running


@pytest.fixture
def vnc() -> Iterator[VncKit]:
    library = VncKit(timeout="10s")
    try:
        yield library
    finally:
        groups = {pid for pid, name in browser_processes(os.getpid()).items() if name == "chromedriver"}
        library.close_all_browser_desktops()
        left = [member for group in groups for member in group_members(group)]
        assert not left, f"closing the browser desktops left processes running: {left}"


@pytest.fixture
def behind_bridge() -> Iterator[Callable[[Callable[[socket.socket, threading.Event], None]], str]]:
    """Serve a scripted RFB server behind a token-free WebSocket bridge; returns the bridge's URL."""
    started: list[tuple[ScriptedServer, WsBridge]] = []

    def serve(script: Callable[[socket.socket, threading.Event], None]) -> str:
        server = ScriptedServer(script)
        ws = WsBridge(target_port=server.port).start()
        started.append((server, ws))
        return ws.url

    yield serve
    for server, ws in started:
        ws.stop()
        server.stop()


def never_draws(conn: socket.socket, stop: threading.Event) -> None:
    """Handshake, then never a frame (the update requests go unanswered)."""
    handshake(conn, 64, 8)
    while not stop.is_set():
        try:
            if not conn.recv(4096):
                return
        except TimeoutError:
            continue


def test_the_browser_shows_what_is_typed_on_a_real_desktop(vnc: VncKit, bridge: WsBridge) -> None:
    vnc.open_desktop_in_browser(bridge.url, token=TOKEN)
    seconds = vnc.typed_text_should_appear_in_browser_desktop("kit", timeout="5s")
    assert 0 < seconds < 5


def test_an_echo_drawn_before_the_wait_starts_is_still_an_echo(vnc: VncKit, bridge: WsBridge,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy machine: the key's echo is drawn, and the keyword's wait for it (a WebDriver round trip after the
    key) begins before the page's own look at the screen after that message (a zero-delay timer, run late here).
    It is an echo all the same, dated by the message that brought it."""
    mark, wait_for_change = BrowserDesktop.mark, BrowserDesktop.wait_for_change

    def starved(self: BrowserDesktop, region: Region) -> Image.Image:
        self.script("if (!window.starved) { const later = window.setTimeout; window.starved = true;"
                    " window.setTimeout = (f, ms, ...a) => later(f, ms ? ms : 2000, ...a); }")  # zero-delay: 2 s
        return mark(self, region)

    def late(self: BrowserDesktop, region: Region, seconds: float) -> Change:
        self.wait_for_quiet(0.3, 1.0)  # the echo has come and been drawn; the page has not looked yet
        return wait_for_change(self, region, seconds)

    monkeypatch.setattr(BrowserDesktop, "mark", starved)
    monkeypatch.setattr(BrowserDesktop, "wait_for_change", late)
    vnc.open_desktop_in_browser(bridge.url, token=TOKEN)
    seconds = vnc.typed_text_should_appear_in_browser_desktop("kit", timeout="5s")
    assert 0 < seconds < 1.3


def test_a_click_in_the_browser_reaches_the_desktop(vnc: VncKit, bridge: WsBridge) -> None:
    vnc.open_desktop_in_browser(bridge.url, token=TOKEN)
    vnc.click_in_browser_desktop(100, 100)
    vnc.wait_until_browser_desktop_changes(region="90,90,21,21", timeout="5s")


def test_keys_typed_in_the_browser_change_the_desktop(vnc: VncKit, bridge: WsBridge) -> None:
    vnc.open_desktop_in_browser(bridge.url, token=TOKEN)
    vnc.type_in_browser_desktop("ab")
    vnc.wait_until_browser_desktop_changes(region="0,0,320,40", timeout="5s")


def test_the_browser_waits_until_the_desktop_is_drawn(vnc: VncKit, bridge: WsBridge,
                                                      behind_bridge: Callable[..., str]) -> None:
    """The kit's session program marks the screen once it listens; a desktop that shows one colour only (its
    programs still starting) is not drawn."""
    vnc.open_desktop_in_browser(bridge.url, token=TOKEN)
    vnc.wait_until_browser_desktop_is_drawn(timeout="5s")
    vnc.open_desktop_in_browser(behind_bridge(scripted_desktop(lambda _k, _t: [])), alias="blank")
    with pytest.raises(VncError, match=r"was not drawn in 0,0,64,8 within 0.5 s: it shows one colour only"):
        vnc.wait_until_browser_desktop_is_drawn(timeout="500ms", alias="blank")


def test_a_still_desktop_does_not_change(vnc: VncKit, behind_bridge: Callable[..., str]) -> None:
    vnc.open_desktop_in_browser(behind_bridge(scripted_desktop(lambda _k, _t: [])))
    vnc.type_in_browser_desktop("ab")
    with pytest.raises(VncError, match=r"did not change in 0,0,64,8 within 0.5 s"):
        vnc.wait_until_browser_desktop_changes(timeout="500ms")


def test_text_frames_are_named_as_the_cause(vnc: VncKit, desktop: Desktop) -> None:
    with WsBridge(target_port=desktop.server.port, text_frames=True) as text, \
            pytest.raises(VncStalled, match=r"handshake did not finish within 3 s.*sent a text frame"):
        vnc.open_desktop_in_browser(text.url, timeout="3s")


def test_a_desktop_that_ignores_keys_fails_at_the_first_key(
        vnc: VncKit, behind_bridge: Callable[..., str]) -> None:
    vnc.open_desktop_in_browser(behind_bridge(scripted_desktop(lambda _k, _t: [])))
    with pytest.raises(TypedTextMissing, match=r"Key 1 of 3 typed in the browser \('k'\) did not come back"):
        vnc.typed_text_should_appear_in_browser_desktop("kit", timeout="1s")


def test_a_blinking_cursor_is_not_typed_text_in_the_browser(vnc: VncKit, behind_bridge: Callable[..., str]) -> None:
    vnc.open_desktop_in_browser(behind_bridge(scripted_desktop(blinking_cursor)))
    with pytest.raises(TypedTextMissing, match=r"(changed no place|did not stay on the screen|did not come back)"):
        vnc.typed_text_should_appear_in_browser_desktop("kit", timeout="1s")


def test_a_scripted_desktop_that_shows_keys_passes(vnc: VncKit, behind_bridge: Callable[..., str]) -> None:
    vnc.open_desktop_in_browser(behind_bridge(scripted_desktop(typed_cells)))
    assert vnc.typed_text_should_appear_in_browser_desktop("kit", timeout="2s") < 2


def test_the_browser_ends_with_the_test_that_opened_it(bridge: WsBridge) -> None:
    library = VncKit(timeout="10s")
    library.cleanup.start_suite(None, None)
    library.cleanup.start_test(None, None)
    try:
        library.open_desktop_in_browser(bridge.url, token=TOKEN)
        groups = {pid for pid, name in browser_processes(os.getpid()).items() if name == "chromedriver"}
        assert groups, "no chromedriver carries the kit's process mark"
        assert [m for g in groups for m in group_members(g) if "chromium" in m], "Chromium is not in the group"
        library.cleanup.end_test(None, None)
        left = [member for group in groups for member in group_members(group)]
        assert not left, f"the end of the test left the browser running: {left}"
        with pytest.raises(VncError, match=r"The browser on ws://.* is closed"):
            library.get_browser_desktop_state()
    finally:
        library.cleanup.run_all()


def test_a_wrong_token_is_a_desktop_that_never_opens(vnc: VncKit, bridge: WsBridge) -> None:
    with pytest.raises(VncClosed, match=r"could not open the desktop.*before any RFB byte"):
        vnc.open_desktop_in_browser(bridge.url, token="not-the-owners", timeout="5s")


def test_a_stream_without_frames_is_a_desktop_that_never_shows(vnc: VncKit,
                                                               behind_bridge: Callable[..., str]) -> None:
    with pytest.raises(VncStalled, match=r"connected to .* but the desktop never showed: no frame within 2 s"):
        vnc.open_desktop_in_browser(behind_bridge(never_draws), timeout="2s")


class DroppingPages(PageServer):
    """The viewer page's server, cutting ``display.js`` (one of noVNC's modules) short ``drops`` times: the
    browser gets a body shorter than its Content-Length, as when it drops requests on a network change."""

    drops = 1
    asked: ClassVar[list[str]] = []

    class handler(_Handler):
        def copyfile(self, source: Any, outputfile: Any) -> None:
            if not self.path.endswith("/core/display.js"):
                super().copyfile(source, outputfile)
                return
            DroppingPages.asked.append(self.path)
            if len(DroppingPages.asked) > DroppingPages.drops:
                super().copyfile(source, outputfile)
                return
            outputfile.write(source.read(100))
            outputfile.flush()
            self.close_connection = True


@pytest.fixture
def dropping(monkeypatch: pytest.MonkeyPatch) -> type[DroppingPages]:
    DroppingPages.asked = []
    monkeypatch.setattr(browser_desktop, "PageServer", DroppingPages)
    return DroppingPages


def test_a_module_the_browser_could_not_fetch_is_loaded_again_at_once(
        vnc: VncKit, bridge: WsBridge, dropping: type[DroppingPages]) -> None:
    dropping.drops = 2
    started = time.monotonic()
    vnc.open_desktop_in_browser(bridge.url, token=TOKEN)
    seconds = time.monotonic() - started
    assert len(dropping.asked) >= 3, f"display.js asked for {len(dropping.asked)} times, not once per load"
    # waiting out the page's script, each dropped load cost the library's timeout (10 s)
    assert seconds < 10, f"two dropped loads took {seconds:.1f} s: a failed load must be seen at once, not after a wait"


def test_a_page_the_browser_never_gets_whole_names_the_dropped_module(
        vnc: VncKit, bridge: WsBridge, dropping: type[DroppingPages]) -> None:
    dropping.drops = 1000
    started = time.monotonic()
    lost = r"did not load noVNC: 5 loads failed; the last: .* a module of it could not be fetched"
    with pytest.raises(VncError, match=lost) as caught:
        vnc.open_desktop_in_browser(bridge.url, token=TOKEN)
    assert time.monotonic() - started < 2 * browser_desktop.PAGE_WAIT, "five failed loads must fail fast"
    # each load asks for it again (a load may also lose another module first: the machine's engines churn)
    assert 2 <= len(dropping.asked) <= browser_desktop.PAGE_LOADS, dropping.asked
    assert "dropped by the browser" in str(caught.value) and "network interface" in str(caught.value)


SUITE = """\
*** Settings ***
Library    VncKit

*** Test Cases ***
Shows Typed Text
    Open Desktop In Browser    ${URL}    token=${TOKEN}
    Typed Text Should Appear In Browser Desktop    kit    timeout=5s

Wrong Token
    Open Desktop In Browser    ${URL}    token=not-the-owners    timeout=5s

No Frame
    Open Desktop In Browser    ${SILENT}    timeout=2s

Ignores Keys
    Open Desktop In Browser    ${DEAF}
    Typed Text Should Appear In Browser Desktop    kit    timeout=1s
"""
FAILURES = {
    "Wrong Token": "could not open the desktop at ws://127.0.0.1:",
    "No Frame": "the desktop never showed: no frame within 2 s",
    "Ignores Keys": "Key 1 of 3 typed in the browser ('k') did not come back as pixels",
}
STATUS_BAR, MARGIN, CELL = 20, 8, 16  # the viewer page's status line; the keyboard display's grid


def embedded_pngs(test: object) -> list[Image.Image]:
    """The PNG images embedded in the log messages of ``test``'s keywords."""
    found: list[Image.Image] = []

    def visit(item: object) -> None:
        for child in getattr(item, "body", []):
            if getattr(child, "html", False):
                found.extend(Image.open(io.BytesIO(base64.b64decode(m)))
                             for m in PNG_IN_LOG.findall(getattr(child, "message", "")))
            visit(child)

    visit(test)
    return found


def typed_cells_shown(shot: Image.Image, keys: int) -> int:
    """How many of the first ``keys`` cells of the keyboard display are painted in a screenshot of the page."""
    rgb = shot.convert("RGB")
    y = STATUS_BAR + MARGIN + CELL // 2
    return sum(1 for key in range(keys) if rgb.getpixel((MARGIN + key * CELL + CELL // 2, y)) != (0, 0, 0))


def test_a_failing_browser_keyword_puts_the_screenshot_in_the_log(
        tmp_path: Path, bridge: WsBridge, behind_bridge: Callable[..., str]) -> None:
    suite = tmp_path / "browser_in_the_log.robot"
    suite.write_text(SUITE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "libraries"), str(REPO)])}
    robot = subprocess.Popen(
        [sys.executable, "-m", "robot", "--outputdir", str(tmp_path), "--variable", f"URL:{bridge.url}",
         "--variable", f"TOKEN:{TOKEN}", "--variable", f"SILENT:{behind_bridge(never_draws)}",
         "--variable", f"DEAF:{behind_bridge(scripted_desktop(lambda _k, _t: []))}", str(suite)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        output, _ = robot.communicate(timeout=240)
    finally:
        robot.kill()
    result = ExecutionResult(str(tmp_path / "output.xml"))
    tests = {t.name: t for t in result.suite.all_tests}
    assert tests["Shows Typed Text"].status == "PASS", output[-3000:]
    shown = [typed_cells_shown(shot, 3) for shot in embedded_pngs(tests["Shows Typed Text"])]
    assert 3 in shown, f"no screenshot in the log shows the 3 typed characters (cells shown: {shown})"
    for name, message in FAILURES.items():
        test = tests[name]
        assert test.status == "FAIL", f"{name} passed"
        assert message in test.message, f"{name}: {test.message}"
        shots = embedded_pngs(test)
        assert shots, f"{name}: the failure has no screenshot in the log"
        assert all(shot.format == "PNG" and shot.size[0] >= 64 for shot in shots), [s.size for s in shots]
    assert "before any RFB byte" in tests["Wrong Token"].message
    assert "The browser at the failure" in (tmp_path / "log.html").read_text()
    assert "not-the-owners" not in tests["Wrong Token"].message
    assert not browser_processes(robot.pid), "the run left browser processes behind"


INTERRUPTED = """\
*** Settings ***
Library    VncKit

*** Test Cases ***
Watching A Still Desktop
    Open Desktop In Browser    ${STILL}
    Wait Until Browser Desktop Changes    timeout=120s
"""


def wait_for_browser(owner: int, robot: subprocess.Popen, timeout: float = 60.0) -> int:
    """Wait until the run ``owner`` has its browser up (Chromium, and chromedriver that started it); returns
    the browser's process group (chromedriver's)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and robot.poll() is None:
        found = {name: pid for pid, name in browser_processes(owner).items()}
        if "chromedriver" in found and "chromium" in found:
            return found["chromedriver"]
        time.sleep(0.2)
    robot.kill()
    output = robot.communicate(timeout=30)[0]
    raise AssertionError(f"the run never started its browser within {timeout:g} s: {output[-1500:]}")


@pytest.fixture
def temp() -> Iterator[Path]:
    """A temp folder for one run, short enough for the Unix sockets Chromium makes in it."""
    folder = Path(tempfile.mkdtemp(prefix="kbt-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_still_desktop(tmp_path: Path, temp: Path, url: str) -> subprocess.Popen:
    """Start a run whose test watches a desktop that never changes; ``temp`` is its temp folder."""
    suite = tmp_path / "interrupted.robot"
    suite.write_text(INTERRUPTED)
    env = {**os.environ, "TMPDIR": str(temp),
           "PYTHONPATH": os.pathsep.join([str(REPO / "libraries"), str(REPO)])}
    robot = subprocess.Popen(
        [sys.executable, "-m", "robot", "--outputdir", str(tmp_path), "--variable", f"STILL:{url}", str(suite)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    return robot


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_leaves_no_browser(tmp_path: Path, temp: Path, behind_bridge: Callable[..., str],
                                              signum: signal.Signals) -> None:
    robot = run_still_desktop(tmp_path, temp, behind_bridge(scripted_desktop(lambda _k, _t: [])))
    try:
        group = wait_for_browser(robot.pid, robot)
        robot.send_signal(signum)
        output, _ = robot.communicate(timeout=60)
    finally:
        robot.kill()
    assert robot.returncode != 0, output[-2000:]
    left = group_members(group)
    assert not left, f"the interrupted run left its browser running: {left}"
    assert not list(temp.iterdir()), f"the interrupted run left temp entries: {list(temp.iterdir())}"
    test = next(iter(ExecutionResult(str(tmp_path / "output.xml")).suite.all_tests))
    assert test.status == "FAIL" and "signal" in test.message, test.message


def test_a_killed_run_leaves_no_browser_running(tmp_path: Path, temp: Path,
                                                behind_bridge: Callable[..., str]) -> None:
    robot = run_still_desktop(tmp_path, temp, behind_bridge(scripted_desktop(lambda _k, _t: [])))
    try:
        group = wait_for_browser(robot.pid, robot)
        robot.kill()
        robot.communicate(timeout=30)
    finally:
        robot.kill()
    deadline = time.monotonic() + KILLED_BUDGET
    while group_members(group) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = group_members(group)
    assert not left, f"{KILLED_BUDGET:g} s after the run was killed its browser still runs: {left}"
    while list(temp.iterdir()) and time.monotonic() < deadline:  # the run's watcher removes its temp folders
        time.sleep(0.1)
    assert not list(temp.iterdir()), f"the killed run left temp entries: {[p.name for p in temp.iterdir()]}"
