"""How long the local stack takes to start and to stop, as a user of ``python -m environments.local`` sees it.

    .venv/bin/python -m benchmarks.stack_start_stop [--runs 5] [--compare DIR] [-- supervisor options]

Each run starts the supervisor with ``--ready-fd`` and measures, from events only:

- **ready**: from starting the supervisor's process to the topology arriving on the ready pipe;
- the supervisor's own count (``ready in``: from the start of its first step, after its imports) and
  each **step** it reports when ready (its ``took:`` line: backends, API replicas, agents online...)
  and, when stopping, its ``stopped in`` line;
- **CPU when ready**: the CPU time the supervisor and every process it started used until then (with what
  the children they waited for used), from ``/proc``;
- **stop**: from SIGTERM to the supervisor's exit; **gone**: from SIGTERM until every process it had
  started (its descendants when ready, whatever their session) has exited, each seen through a pidfd
  (one still there 10 s after the supervisor's exit fails the benchmark, naming it).

Prints the median, min and max of each figure over the runs. ``--compare DIR`` measures the kit in
``DIR`` too (e.g. an earlier commit: ``git archive <commit> | tar -x -C DIR``), one run of each in
turn, so that both see the same load on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from kitcore.processes import descendants, stat_fields

REPO = Path(__file__).resolve().parents[1]
STEP = re.compile(r"([a-z][a-z -]*?) (\d+\.\d+) s")
READY_IN = re.compile(r"ready in (\d+\.\d+) s")
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 60.0
GONE_TIMEOUT = 10.0  # after the supervisor's exit, for what it started to be gone too


class StackTimer:
    """One supervisor: started with a ready pipe, its output read as it comes, stopped by SIGTERM."""

    def __init__(self, extra: list[str], repo: Path = REPO) -> None:
        self.extra = extra
        self.repo = repo
        self.lines: list[str] = []
        self.steps: dict[str, float] = {}
        self.process: subprocess.Popen[str] | None = None

    def start_and_wait_ready(self) -> tuple[float, dict]:
        reader, writer = os.pipe()
        argv = [sys.executable, "-m", "environments.local", "--quiet", "--ready-fd", str(writer),
                "--parent-pid", str(os.getpid()), *self.extra]
        began = time.monotonic()
        self.process = subprocess.Popen(argv, cwd=self.repo, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, text=True, pass_fds=(writer,))
        os.close(writer)
        threading.Thread(target=self._read_output, daemon=True).start()
        text = _read_until_eof(reader, READY_TIMEOUT)
        ready = time.monotonic() - began
        if not text:
            self.stop()
            raise SystemExit(f"the stack did not become ready within {READY_TIMEOUT:g} s (the ready pipe closed "
                             f"without a topology); its output:\n" + "\n".join(self.lines[-20:]))
        return ready, json.loads(text)

    def _read_output(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if found := READY_IN.search(line):
                self.steps["start (its own count)"] = float(found.group(1))
            if line.lstrip().startswith("took:") or line.lstrip().startswith("stop took:"):
                prefix = "stop " if line.lstrip().startswith("stop") else ""
                for name, took in STEP.findall(line.split(":", 1)[1]):
                    self.steps[prefix + name.strip()] = float(took)

    def stop(self) -> float:
        """SIGTERM; the seconds until the supervisor exits."""
        assert self.process is not None
        began = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
            raise SystemExit(f"the stack did not stop within {STOP_TIMEOUT:g} s of SIGTERM") from None
        return time.monotonic() - began


def _read_until_eof(fd: int, timeout: float) -> str:
    """What the supervisor writes on the ready pipe, until it closes it (the ready event)."""
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    try:
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)
        return ""
    finally:
        os.close(fd)


def started_by(pid: int) -> dict[int, tuple[str, str]]:
    """Every process ``pid`` started (in any session): pid -> (start time, command line)."""
    found = {}
    for child, start in descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        found[child] = (start, command.strip()[:80])
    return found


def cpu_seconds(pids: list[int]) -> float:
    """The CPU time ``pids`` used so far, with that of the children each waited for (clock ticks of
    ``/proc/<pid>/stat``: utime, stime, cutime, cstime)."""
    ticks = 0
    for pid in pids:
        fields = stat_fields(pid)
        if len(fields) > 14:
            ticks += sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_gone(processes: dict[int, tuple[str, str]], timeout: float) -> list[str]:
    """Wait until each of ``processes`` has exited (a pidfd each); what is still there after ``timeout``."""
    handles: dict[int, int] = {}
    for pid, (start, _) in processes.items():
        fields = stat_fields(pid)
        if fields and fields[19] == start:  # the same process, not a later one with its number
            try:
                handles[os.pidfd_open(pid)] = pid
            except ProcessLookupError:
                continue
    deadline = time.monotonic() + timeout
    try:
        while handles and (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select(list(handles), [], [], left)
            for handle in readable:
                os.close(handle)
                del handles[handle]
        return [f"{processes[pid][1]} (pid {pid})" for pid in handles.values()]
    finally:
        for handle in handles:
            os.close(handle)


def summary(name: str, samples: list[float]) -> str:
    return (f"{name:<24} median {statistics.median(samples):6.2f} s   min {min(samples):6.2f} s   "
            f"max {max(samples):6.2f} s   ({len(samples)} runs)")


def one_run(label: str, run: int, repo: Path, extra: list[str], figures: dict[str, list[float]]) -> None:
    timer = StackTimer(extra, repo)
    ready, _topology = timer.start_and_wait_ready()
    assert timer.process is not None
    processes = started_by(timer.process.pid)
    cpu = cpu_seconds([timer.process.pid, *processes])
    began = time.monotonic()
    stopped = timer.stop()
    left = wait_gone(processes, GONE_TIMEOUT)
    gone = time.monotonic() - began
    if left:
        raise SystemExit(f"{label} run {run}: the stack exited but {len(left)} of the processes it started were "
                         f"still running {GONE_TIMEOUT:g} s later: {', '.join(left)}")
    figures.setdefault("ready", []).append(ready)
    figures.setdefault("stop", []).append(stopped)
    figures.setdefault("gone", []).append(gone)
    figures.setdefault("CPU when ready", []).append(cpu)
    for name, took in timer.steps.items():
        figures.setdefault(name, []).append(took)
    print(f"{label} run {run}: ready {ready:.2f} s ({cpu:.2f} CPU-seconds), stop {stopped:.2f} s, all "
          f"{len(processes)} processes gone {gone:.2f} s after SIGTERM", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="how many start/stop cycles (default 5)")
    parser.add_argument("--compare", type=Path, help="measure the kit in this folder too, in turn with this one")
    parser.add_argument("extra", nargs="*", help="options for the supervisor (after --), e.g. --engine podman")
    args = parser.parse_args(argv)
    trees = {"this": REPO, **({"compared": args.compare.resolve()} if args.compare else {})}
    figures: dict[str, dict[str, list[float]]] = {label: {} for label in trees}
    for run in range(1, args.runs + 1):
        for label, repo in trees.items():
            one_run(label, run, repo, args.extra, figures[label])
    for label, repo in trees.items():
        print(f"\n{label} ({repo}):")
        for name, samples in figures[label].items():
            print(summary(name, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
