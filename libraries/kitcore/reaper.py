"""What a process of the kit leaves when it dies without cleaning up, removed by a watcher that outlives it.

A process that starts programs or makes temp directories registers each of them here
(:func:`guard_group`, :func:`guard_path`, or :func:`guard` with a kind of its own) and drops the
registration once it removed the thing itself (:func:`release`). The first registration starts a
small watcher process (``python -m kitcore.reaper``) in a session of its own; the owner keeps the
writing end of a pipe to it. When the owner ends in any way -- an orderly exit, an exception,
SIGKILL -- the kernel closes that pipe, the watcher reads its end and removes what is still
registered, newest first: process groups (SIGTERM, then SIGKILL), the things of other kinds, temp
directories last. Nothing polls for the owner's death: the end of the pipe is the event.

Kinds other than ``group`` and ``path`` name the module that removes them (``module=``): the watcher
imports it and calls its ``remove_left(item)``, which returns what it removed; after everything, each
such module's ``after_clean(items)`` (if it has one) returns what else it removed and what failed.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kitcore.processes import (
    OWNER_MARK,
    alive,
    descendants,
    kill_mentioning,
    kill_survivors,
    mounts_under,
    signal_each,
    start_time,
)

GROUP_GRACE = 3.0  # seconds a process group gets between SIGTERM and SIGKILL
BUILT_IN = ("group", "path")
REMOVE_TRIES = 5  # removals of a temp directory before the watcher reports it as left

_lock = threading.Lock()
_state: dict[str, Any] = {"fd": None, "owner": 0, "watcher": None}
_ids = itertools.count(1)


# -- the owner's side ---------------------------------------------------------------------------
def _forget_after_fork() -> None:
    """A forked child is not the owner: it must not hold the pipe open (the watcher would wait for it)."""
    fd = _state["fd"]
    _state.update(fd=None, owner=0, watcher=None)
    if fd is not None:
        with contextlib.suppress(OSError):
            os.close(fd)


os.register_at_fork(after_in_child=_forget_after_fork)


def _import_path() -> str:
    """This process's import roots, so that the watcher finds the modules named by ``module=``."""
    roots = [entry for entry in sys.path if entry and Path(entry).is_dir()]
    return os.pathsep.join(dict.fromkeys([*roots, *filter(None, [os.environ.get("PYTHONPATH")])]))


def _pipe() -> int:
    if _state["fd"] is None or _state["owner"] != os.getpid():
        read, write = os.pipe()  # both ends close-on-exec: no program the owner starts holds them
        try:
            env = {**os.environ, OWNER_MARK: f"reaper-of-{os.getpid()}", "PYTHONPATH": _import_path()}
            watcher = subprocess.Popen([sys.executable, "-m", "kitcore.reaper", str(os.getpid())],
                                       stdin=read, stdout=subprocess.DEVNULL, env=env, start_new_session=True)
        finally:
            os.close(read)
        _state.update(fd=write, owner=os.getpid(), watcher=watcher)
    return int(_state["fd"])


def _send(message: dict[str, Any]) -> None:
    line = (json.dumps(message) + "\n").encode()
    with _lock:
        try:
            os.write(_pipe(), line)  # one short line: a single atomic write
        except BrokenPipeError:  # the watcher was killed: a new one watches from now on
            with contextlib.suppress(OSError):
                os.close(_state["fd"])
            _state.update(fd=None, owner=0, watcher=None)
            os.write(_pipe(), line)


def start() -> None:
    """Start this process's watcher now rather than at the first registration (for a leak check
    that compares a process's children and descriptors before and after)."""
    with _lock:
        _pipe()


def guard(kind: str, **fields: Any) -> int:
    """Register one thing to remove if this process dies with it; returns the token for :func:`release`.
    A kind other than ``group`` and ``path`` needs ``module=``, the module whose ``remove_left`` removes it."""
    if kind not in BUILT_IN and not fields.get("module"):
        raise ValueError(f"a '{kind}' needs module= (the module whose remove_left(item) removes it)")
    token = next(_ids)
    _send({"op": "add", "id": token, "kind": kind, **fields})
    return token


def release(token: int | None) -> None:
    """This process removed the thing of ``token`` itself: the watcher forgets it."""
    if token is not None and _state["fd"] is not None and _state["owner"] == os.getpid():
        with contextlib.suppress(OSError):
            _send({"op": "drop", "id": token})


def guard_group(pid: int, name: str, grace: float = GROUP_GRACE, module: str | None = None) -> int:
    """The process group led by ``pid`` (a program started in a session of its own); ``module``: one
    whose ``after_clean`` must run once the group is stopped."""
    extra = {"module": module} if module else {}
    return guard("group", pgid=pid, started=start_time(pid), name=name, grace=grace, **extra)


def guard_path(path: Path) -> int:
    """A temp directory (or a file) of this process: removed last, and never across a mount point."""
    return guard("path", path=str(path))


@contextlib.contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A fresh temp directory, removed when the block ends -- or by the watcher if this process is killed."""
    with tempfile.TemporaryDirectory(prefix=prefix) as path:
        token = guard_path(Path(path))
        try:
            yield Path(path)
        finally:
            release(token)


# -- the watcher's side -------------------------------------------------------------------------
def _group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if os.getpgid(int(entry)) == pgid and not _zombie(int(entry)):
                    members.append(int(entry))
    return members


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _still_ours(item: dict[str, Any]) -> bool:
    """The group is the one registered: its leader has the same start time, or the leader is gone and
    members are left (the kernel reuses no pid that is still a group's id)."""
    pgid = int(item["pgid"])
    now = start_time(pgid)
    return now == item.get("started") if now else bool(_group_members(pgid))


def _stop_groups(items: list[dict[str, Any]]) -> list[str]:
    """SIGTERM to each group; within the grace the groups and every descendant they had (a stack a test
    started in a session of its own, which stops itself once its parent is gone) end by themselves; then
    SIGKILL to the groups, and what is left of the descendants gets SIGTERM (an X server removes its lock
    files then) and, after a short grace, SIGKILL."""
    groups = [item for item in items if _still_ours(item)]
    family = [member for item in groups for member in descendants(int(item["pgid"]))]
    for item in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(item["pgid"]), signal.SIGTERM)
    deadline = time.monotonic() + max((float(item.get("grace", GROUP_GRACE)) for item in groups), default=0)
    while time.monotonic() < deadline and (any(_group_members(int(item["pgid"])) for item in groups)
                                           or alive(family)):
        time.sleep(0.05)
    for item in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(item["pgid"]), signal.SIGKILL)
    survivors = alive(family)
    signal_each(survivors, signal.SIGTERM)
    deadline = time.monotonic() + GROUP_GRACE
    while time.monotonic() < deadline and alive(survivors):
        time.sleep(0.05)
    kill_survivors(survivors)
    return [f"process group {item['pgid']} ({item.get('name', '?')})" for item in groups]


def _remove_path(item: dict[str, Any]) -> list[str]:
    path = Path(item["path"])
    if not path.exists():
        return []
    if not path.is_dir():
        path.unlink(missing_ok=True)
        return [f"file {path}"]
    mounted = mounts_under(path)
    if mounted:
        raise RuntimeError(f"{path} is not removed: file systems are still mounted under it ({', '.join(mounted)})")
    kill_mentioning(path)  # what still works in it from a session of its own (no group of the owner's holds it)
    for _ in range(REMOVE_TRIES):  # a process dying in it may still write a file while the tree is removed
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return [f"temp dir {path}"]
        time.sleep(0.1)
    left = sorted(entry.name for entry in path.iterdir())[:5] if path.is_dir() else []
    raise RuntimeError(f"{path} is not removed: entries keep appearing in it ({', '.join(left)})")


def _remove_other(item: dict[str, Any]) -> list[str]:
    return list(importlib.import_module(str(item["module"])).remove_left(item))


def clean(items: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Remove ``items`` newest first (runs of process groups together), temp directories last;
    returns what was removed and what failed."""
    removed: list[str] = []
    failed: list[str] = []
    ordered = [i for i in reversed(items) if i["kind"] != "path"] + [i for i in reversed(items) if i["kind"] == "path"]
    for kind, run in itertools.groupby(ordered, key=lambda item: item["kind"]):
        batch = list(run)
        if kind == "group":
            removed += _stop_groups(batch)
            continue
        for item in batch:
            try:
                removed += _remove_path(item) if kind == "path" else _remove_other(item)
            except Exception as error:  # noqa: BLE001 - go on with the rest, report each failure
                what = item.get("label") or item.get("path") or item.get("home") or item.get("name")
                failed.append(f"{kind} {what}: {error}")
    for name in dict.fromkeys(str(item["module"]) for item in items if item.get("module")):
        try:
            after = getattr(importlib.import_module(name), "after_clean", None)
            if after is not None:
                gone, errors = after(items)
                removed += gone
                failed += errors
        except Exception as error:  # noqa: BLE001 - reported like the others
            failed.append(f"the clean-up of {name}: {error}")
    return removed, failed


def watch(owner: int, stream: Any) -> int:
    """Read registrations until the owner's end of the pipe closes, then remove what is left."""
    for sig in (signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)  # a Ctrl-C to the terminal is for the owner, who cleans up
    items: dict[int, dict[str, Any]] = {}
    for line in stream:
        with contextlib.suppress(ValueError, KeyError):
            message = json.loads(line)
            if message["op"] == "add":
                items[int(message["id"])] = message
            else:
                items.pop(int(message["id"]), None)
    if not items:
        return 0
    removed, failed = clean(list(items.values()))
    if removed:
        print(f"[kit] process {owner} ended without removing what it started; removed: {', '.join(removed)}",
              file=sys.stderr, flush=True)
    for failure in failed:
        print(f"[kit] ERROR: after process {owner} ended, could not remove {failure}. Fix: list what is left "
              "with './kit leaks'", file=sys.stderr, flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(watch(int(sys.argv[1]), sys.stdin.buffer))
