"""What the kit knows about the processes of this machine: the mark its processes carry, a process's
descendants and start time, mount points under a folder."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path

# Every process the kit starts carries this variable (children inherit it), so a leak audit
# can find whatever a run left behind without guessing from command lines.
OWNER_MARK = "STREAMSPACE_KIT_PROCESS"


def stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/<pid>/stat`` after the command name (state, ppid, ... start time at 19)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def start_time(pid: int) -> str:
    """The start time of ``pid`` in clock ticks since boot (tells a reused pid apart); empty when it is gone."""
    fields = stat_fields(pid)
    return fields[19] if len(fields) > 19 else ""


def descendants(pid: int) -> list[tuple[int, str]]:
    """Every living descendant of ``pid`` as (pid, start time), in any process group or session."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = stat_fields(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        fields = stat_fields(child)
        if fields:
            found.append((child, fields[19]))
        todo += children.get(child, [])
    return found


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (one of another user's too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def alive(family: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Those of ``family`` (from :func:`descendants`) still alive -- the same processes, not reused pids."""
    living = []
    for pid, started in family:
        fields = stat_fields(pid)
        if fields and fields[19] == started and fields[0] != "Z":
            living.append((pid, started))
    return living


def signal_each(family: list[tuple[int, str]], signum: int) -> None:
    """Send ``signum`` to those of ``family`` still alive."""
    for pid, _ in alive(family):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signum)


def kill_survivors(family: list[tuple[int, str]]) -> None:
    """SIGKILL those of ``family`` (from :func:`descendants`) still alive -- the same processes, not reused pids."""
    signal_each(family, signal.SIGKILL)


def kill_mentioning(path: Path) -> list[int]:
    """SIGKILL every process whose command line names ``path`` or a file below it (a helper a program
    started in a session of its own, e.g. Chromium's crash handler with its database in the profile);
    returns their pids."""
    needle = str(path).encode()
    killed = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if needle not in handle.read():
                    continue
            os.kill(int(entry), signal.SIGKILL)
            killed.append(int(entry))
        except (OSError, ProcessLookupError):
            continue
    return killed


def mounts_under(*roots: Path) -> list[str]:
    """Mount points at or below ``roots``, deepest first (dockerd bind-mounts its data root on itself)."""
    tops = [str(r).rstrip("/") for r in roots]
    points = []
    with contextlib.suppress(OSError), open("/proc/self/mountinfo") as handle:
        for line in handle:
            point = line.split()[4].encode().decode("unicode_escape")
            if any(point == top or point.startswith(top + "/") for top in tops):
                points.append(point)
    return sorted(set(points), key=len, reverse=True)


def stop_like_ctrl_c(*signums: int) -> None:
    """SIGTERM and SIGHUP (or ``signums``) stop this program as Ctrl-C does: a KeyboardInterrupt, so
    its ``finally`` blocks remove what it started (a CI system cancels a job with SIGTERM)."""

    def interrupted(signum: int, _frame: object) -> None:
        signal.signal(signum, signal.SIG_IGN)  # a second signal must not cut the cleanup short
        raise KeyboardInterrupt(f"stopped by signal {signal.Signals(signum).name}")

    for signum in signums or (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)


__all__ = ["OWNER_MARK", "alive", "descendants", "kill_mentioning", "kill_survivors", "mounts_under", "pid_alive",
           "signal_each", "start_time", "stat_fields", "stop_like_ctrl_c"]

