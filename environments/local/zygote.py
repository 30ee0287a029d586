"""A zygote for the stack's Python programs: one process imports what they import, once, then forks each of them.

A program of the kit's reference platform (``python -m environments.local.platform...``) spends most of its start
importing aiohttp, psycopg, redis, docker...: 0.2-0.5 CPU-seconds each, and a stack starts eight of them (a chaos
test restarts some). The zygote imports them once, while the backends start; each program is then a fork of it
that runs its module's ``main(args)`` with its own arguments, environment, folder and log, in a session of its own,
as ``subprocess.Popen(..., start_new_session=True)`` would have started it. A command the zygote cannot run exactly
as written (another Python, another ``PYTHONPATH``, a module outside the platform) is started as before.

The stack talks to it over a socket pair: a request (module, arguments, environment, folder, log) is answered with
the program's pid once the program leads its own session; each exit is reported with its code, as ``Popen`` gives
it (negative: the signal that ended it). The zygote exits when the stack closes its end (or dies).

Its programs show the zygote's command line (which names the stack's folder, so ``./kit leaks`` and the
watcher still tie them to their stack) and, in ``/proc/<pid>/environ``, the zygote's environment with the
kit's process mark; their own environment is what they read.

    python -m environments.local.zygote --fd N --state DIR MODULE...   (started by the stack)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from kitcore.processes import OWNER_MARK, pid_alive

# the programs a zygote may run: the reference platform's (the kubelet stand-in is one of them)
PLATFORM = "environments.local.platform."
PRELOAD = ("environments.local.platform.api.__main__", "environments.local.platform.agents.kubernetes",
           "environments.local.platform.agents.docker", "environments.local.platform.agents.kubelet")
REPLY_TIMEOUT = 10.0  # seconds for the zygote to answer a request (a fork and a setsid)
MESSAGE = 1 << 20  # bytes at most in one message (a program's environment)


class ZygoteError(RuntimeError):
    """The zygote cannot run a program (it is gone, or did not answer)."""


class ForkedProcess:
    """A program the zygote forked: what :class:`subprocess.Popen` offers the stack (``pid``, ``returncode``,
    ``poll``, ``wait``), its exit code reported by the zygote."""

    def __init__(self, zygote: Zygote, pid: int, args: Sequence[str]) -> None:
        self.zygote = zygote
        self.pid = pid
        self.args = list(args)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.zygote.exit_code(self.pid, 0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self.zygote.exit_code(self.pid, timeout)
            if self.returncode is None:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        return self.returncode


class Zygote:
    """The stack's side: starts the zygote, asks it for programs, learns their exit codes."""

    def __init__(self, state: Path, log: Path, pythonpath: str, name: str = "zygote", modules: str = PLATFORM) -> None:
        self.state = state
        self.log = log
        self.pythonpath = pythonpath
        self.name = name
        self.modules = modules  # the prefix of the modules it runs
        self.process: subprocess.Popen | None = None
        self.sock: socket.socket | None = None
        self._lock = threading.Lock()  # one request at a time
        self._changed = threading.Condition()
        self._replies: list[dict] = []
        self._exits: dict[int, int] = {}
        self._gone = False
        self._guard: int | None = None

    def start(self) -> Zygote:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        try:
            with open(self.log, "ab") as handle:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "environments.local.zygote", "--fd", str(theirs.fileno()),
                     "--state", str(self.state), *PRELOAD],
                    stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT, pass_fds=(theirs.fileno(),),
                    env={**os.environ, OWNER_MARK: self.name, "PYTHONPATH": self.pythonpath, "PYTHONUNBUFFERED": "1"},
                    # in the stack's folder, as its programs: python -m puts the folder it runs in first on the
                    # path, and the modules must come from PYTHONPATH (a mutant's copy), not from there
                    cwd=self.state, start_new_session=True)
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        from environments.local import reaper

        self._guard = reaper.guard_group(self.process.pid, self.name)
        threading.Thread(target=self._read, name="zygote-reader", daemon=True).start()
        return self

    def accepts(self, argv: Sequence[str], env: dict[str, str]) -> str | None:
        """The module of ``argv`` when the zygote can run it as written, else None."""
        if self._gone or self.sock is None or len(argv) < 3 or list(argv[:2]) != [sys.executable, "-m"]:
            return None
        module = argv[2]
        if not module.startswith(self.modules) or env.get("PYTHONPATH") != self.pythonpath:
            return None
        return module

    def spawn(self, argv: Sequence[str], env: dict[str, str], cwd: Path | None, log: Path) -> ForkedProcess:
        """Fork the program ``argv`` (``python -m MODULE ARGS...``); it leads its own session when this returns."""
        request = {"module": argv[2], "args": list(argv[3:]), "env": env, "cwd": str(cwd or os.getcwd()),
                   "log": str(log)}
        with self._lock:
            try:
                self.sock.send(json.dumps(request).encode())  # type: ignore[union-attr]
            except OSError as error:
                raise ZygoteError(f"the zygote is gone ({error})") from None
            reply = self._reply()
        if "pid" not in reply:
            raise ZygoteError(f"the zygote could not start {argv[2]}: {reply.get('error', reply)}")
        return ForkedProcess(self, int(reply["pid"]), argv)

    def exit_code(self, pid: int, timeout: float | None) -> int | None:
        """The exit code of program ``pid`` once the zygote reported it; waits up to ``timeout`` (None: for ever)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while pid not in self._exits:
                if self._gone:  # its exits are no longer reported: gone is gone
                    return None if pid_alive(pid) else -signal.SIGKILL
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._changed.wait(left)  # woken by each report, and when the zygote goes
            return self._exits[pid]

    def stop(self, grace: float = 5.0) -> None:
        """Close the socket (the zygote exits), then end its process group; never raises."""
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()
            self.sock = None
        if self.process is not None:
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(grace)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)
        if self._guard is not None:
            from environments.local import reaper

            reaper.release(self._guard)
            self._guard = None

    def _reply(self) -> dict:
        deadline = time.monotonic() + REPLY_TIMEOUT
        with self._changed:
            while not self._replies:
                left = deadline - time.monotonic()
                if self._gone or left <= 0:
                    raise ZygoteError("the zygote is gone" if self._gone else
                                      f"the zygote did not answer within {REPLY_TIMEOUT:g} s")
                self._changed.wait(left)
            return self._replies.pop(0)

    def _read(self) -> None:
        sock = self.sock
        try:
            while sock is not None:
                data = sock.recv(MESSAGE)
                if not data:
                    break
                message = json.loads(data)
                with self._changed:
                    if "exit" in message:
                        self._exits[int(message["exit"])] = int(message["code"])
                    else:
                        self._replies.append(message)
                    self._changed.notify_all()
        except (OSError, ValueError):
            pass
        with self._changed:
            self._gone = True
            self._changed.notify_all()


# ------------------------------------------------------------------------------------- the zygote's side
def serve(control: socket.socket, preload: Sequence[str]) -> int:
    """Import ``preload``, then fork a program per request until the stack closes ``control``."""
    for module in preload:
        try:
            importlib.import_module(module)
        except Exception:  # noqa: BLE001 - the program that needs it will fail with this traceback itself
            traceback.print_exc()
    import gc

    gc.freeze()  # what the imports made stays shared by the programs: the collector never writes to it
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is for the programs; the stack stops the zygote
    while True:
        ready, _, _ = select.select([control, wake_r], [], [])
        if wake_r in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_r, 4096)
        _reap(control)
        if control in ready:
            try:
                data = control.recv(MESSAGE)
            except OSError:
                data = b""
            if not data:
                return 0
            try:
                reply = {"pid": _fork(json.loads(data), (control.fileno(), wake_r, wake_w))}
            except Exception as error:  # noqa: BLE001 - said to the stack, which starts it the usual way
                reply = {"error": f"{type(error).__name__}: {error}"}
            control.send(json.dumps(reply).encode())


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        with contextlib.suppress(OSError):
            control.send(json.dumps({"exit": pid, "code": os.waitstatus_to_exitcode(status)}).encode())


def _fork(request: dict, inherited: tuple[int, ...]) -> int:
    started_r, started_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the program
        code = 127
        try:
            os.close(started_r)
            os.setsid()
            os.close(started_w)  # the zygote answers once the program leads its own session
            code = _run(request, inherited)
        finally:
            os._exit(code)
    os.close(started_w)
    os.read(started_r, 1)  # end of file: the child closed its end (or died)
    os.close(started_r)
    return pid


def _run(request: dict, inherited: tuple[int, ...]) -> int:
    """In the forked child: become the program the request names, run it, return its exit code."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for fd in inherited:
        os.close(fd)
    log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    import random

    random.seed()  # not the zygote's sequence
    module, args = request["module"], request["args"]
    code = 0
    try:
        program = importlib.import_module(module)
        if not hasattr(program, "main") and hasattr(program, "__path__"):  # a package: python -m runs __main__
            program = importlib.import_module(f"{module}.__main__")
        sys.argv = [getattr(program, "__file__", module), *args]
        code = _exit_code(program.main(args))
    except SystemExit as ended:
        code = _exit_code(ended.code)
    except KeyboardInterrupt:
        traceback.print_exc()
        _flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # end by SIGINT, as python does
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:  # noqa: BLE001 - reported as python reports an uncaught exception
        traceback.print_exc()
        code = 1
    with contextlib.suppress(Exception):
        threading._shutdown()  # type: ignore[attr-defined] - python's own exit: non-daemon threads first
    with contextlib.suppress(Exception):
        import atexit

        atexit._run_exitfuncs()
    _flush()
    return code


def _exit_code(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, int):
        return value & 0xFF
    print(value, file=sys.stderr)
    return 1


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m environments.local.zygote", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fd", type=int, required=True, help="the socket the stack asks on")
    parser.add_argument("--state", required=True, help="the stack's folder (named so that its programs are its)")
    parser.add_argument("preload", nargs="*", help="modules to import before forking")
    args = parser.parse_args(argv)
    with socket.socket(fileno=args.fd) as control:
        return serve(control, args.preload)


if __name__ == "__main__":
    sys.exit(main())
