"""The desktop the VNC benchmarks measure: a local Xvnc (VNC authentication) running the sessions'
keyboard display (a key press paints a cell), in a temp folder removed afterwards."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for entry in (str(ROOT), str(ROOT / "libraries")):
    if entry not in sys.path:
        sys.path.insert(0, entry)

from environments.local import reaper  # noqa: E402
from environments.local.procs import ManagedProcess, wait_for  # noqa: E402
from environments.local.vnc_server import VncServer  # noqa: E402

KEYBOARD_DISPLAY = ROOT / "environments/local/session/keyboard_display.py"


@contextlib.contextmanager
def keyboard_desktop(password: str, geometry: str) -> Iterator[VncServer]:
    """A running Xvnc of ``geometry`` with ``password``, the keyboard display on it; stopped after the block."""
    with reaper.temp_dir("kit-vnc-bench-") as workdir:
        server = VncServer(workdir, password=password, geometry=geometry, name="bench")
        log = workdir / "keyboard.log"
        app = ManagedProcess("keyboard", [sys.executable, str(KEYBOARD_DISPLAY)], log)
        try:
            server.start()
            app.env = {"DISPLAY": f":{server.display}"}
            app.start()
            wait_for(lambda: "ready" in log.read_text(), 15, "keyboard display did not start", log, app.popen)
            yield server
        finally:
            app.stop()
            server.stop()
