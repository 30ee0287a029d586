"""Headless Chromium driven by chromedriver: both Debian's, nothing downloaded, in a process group of its own."""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from kitcore import reaper
from kitcore.processes import OWNER_MARK, kill_mentioning
from VncKit.errors import VncError

CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium package
CHROMEDRIVER = Path("/usr/bin/chromedriver")  # Debian's chromium-driver package
TIED = Path(__file__).resolve().parent / "chromium-tied"  # Chromium under a parent-death signal
PR_SET_PDEATHSIG = 1
# Chromium puts Unix sockets under its TMPDIR (<root>/kit-browser-<8>/org.chromium.Chromium.<6>/SingletonSocket):
# a socket's path holds at most 107 bytes
MAX_TEMP_ROOT = 40
PAGE_LOAD_TIMEOUT = 10.0  # seconds at least for a page of the kit's own, on loopback
STOP_GRACE = 5.0  # seconds chromedriver gets to be reaped once its group is killed
FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions",
         "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-crash-reporter", "--disable-breakpad",
         "--metrics-recording-only", "--hide-scrollbars", "--force-device-scale-factor=1")

_guards: dict[Path, list[int]] = {}  # a browser's temp directory -> its registrations with the watcher


def _missing(path: Path, package: str) -> VncError:
    return VncError(f"{path} is missing: the browser keywords need Debian's {package} package",
                    fix="install chromium, chromium-driver and novnc ('./kit setup' does)")


def start(width: int, height: int, timeout: float) -> tuple[object, subprocess.Popen, Path]:
    """Start chromedriver (its own process group, marked) and a headless Chromium window of ``width`` x ``height``.

    Selenium Manager never runs: the driver and the browser are given by path, and ``SE_OFFLINE`` is set.
    Both get a temp directory of their own (the profile, and ``TMPDIR`` for what they make themselves).
    Returns the WebDriver, chromedriver's process and that directory (removed by :func:`stop`).
    """
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not path.is_file():
            raise _missing(path, package)
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    tied = TIED.is_file() and os.access(TIED, os.X_OK) and shutil.which("setpriv") is not None
    options.binary_location = str(TIED if tied else CHROMIUM)
    home = Path(tempfile.mkdtemp(prefix="kit-browser-", dir=_short_temp_root()))
    _guards[home] = [reaper.guard_path(home)]  # removed by the run's watcher if the run is killed
    for flag in (*FLAGS, f"--window-size={width},{height}", f"--user-data-dir={home / 'profile'}"):
        options.add_argument(flag)
    options.page_load_strategy = "normal"
    env = {**os.environ, OWNER_MARK: f"vnckit-browser-of-{os.getpid()}", "KIT_CHROMIUM": str(CHROMIUM),
           "TMPDIR": str(home),
           # its crash handler's database and its caches too: nothing of it outside this folder
           "HOME": str(home), "XDG_CONFIG_HOME": str(home / "config"), "XDG_CACHE_HOME": str(home / "cache")}
    service = Service(executable_path=str(CHROMEDRIVER), env=env, log_output=subprocess.DEVNULL,
                      popen_kw={"start_new_session": True, "preexec_fn": _die_with_parent})
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except BaseException as error:  # failed, or interrupted (Ctrl-C, a stop signal) while starting
        stop(None, service.process, home)
        if not isinstance(error, WebDriverException):
            raise
        raise VncError("Headless Chromium did not start", str(error.msg or error).strip().splitlines()[0],
                       "check that chromium and chromium-driver are installed and of the same version") from None
    _guards[home].append(reaper.guard_group(service.process.pid, "chromedriver"))
    driver.set_page_load_timeout(max(timeout, PAGE_LOAD_TIMEOUT))
    driver.set_script_timeout(timeout + 10)
    return driver, service.process, home


def _short_temp_root() -> str:
    """The temp folder, unless it is too deep for the Unix sockets Chromium makes in it: then /tmp."""
    root = tempfile.gettempdir()
    return root if len(root) <= MAX_TEMP_ROOT else "/tmp"


def _die_with_parent() -> None:
    """In chromedriver's process before it runs: SIGKILL it when the process that started it dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def stop(driver: object, process: subprocess.Popen | None, home: Path | None) -> None:
    """Quit Chromium through the driver, kill whatever of chromedriver's group is left, remove their temp directory."""
    if driver is not None:
        with contextlib.suppress(Exception):  # a dead browser or driver: the group kill below still ends it
            driver.quit()  # type: ignore[attr-defined]
    if process is not None:
        kill_group(process)
    if home is not None:
        kill_mentioning(home)  # Chromium's crash handler runs in a session of its own, with its database in home
        shutil.rmtree(home, ignore_errors=True)
        for token in _guards.pop(home, []):
            reaper.release(token)


def kill_group(process: subprocess.Popen) -> None:
    """End chromedriver's process group: chromedriver and every Chromium process it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_GRACE)
