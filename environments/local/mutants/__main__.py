"""``python -m environments.local.mutants [NAME ...] [--fast] [--processes N] [--baseline] [--list] [--keep]
[--timeout S]`` (``./kit mutants``): the kit's mutation score on its reference platform.

Prints each mutant, the test that killed it and the first line of its failure message, then
``mutants: N killed / M`` and the time of the whole run. Exits 0 when every mutant was killed,
1 when any survived, was stillborn or was caught off target, 2 on a wrong argument, 130 when
interrupted (Ctrl-C or SIGTERM: the robot runs stop their stacks, the mutated copies are removed).
With ``--processes N``, N mutants run at once, each on a stack of its own.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

from environments.local.mutants.catalogue import MUTANTS, Mutant, by_name
from environments.local.mutants.runner import KILLED, Stopped, Verdict, allow_runs, run_mutant, stop_all_runs
from environments.local.procs import restore_sigint
from kitcore.processes import stop_like_ctrl_c


def choose(names: list[str], fast: bool) -> list[Mutant]:
    chosen = by_name(names) if names else list(MUTANTS)
    return [mutant for mutant in chosen if mutant.fast] if fast else chosen


MORE_LINES = 15  # of a verdict other than killed, the lines of its message after the first


def _cut(text: str, limit: int = 600) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def show(index: int, total: int, verdict: Verdict) -> str:
    mutant = verdict.mutant
    lines = [f"[{index}/{total}] {mutant.name}: {mutant.defect}"]
    where = f" by {verdict.test}" if verdict.test else ""
    lines.append(f"    {verdict.status}{where} in {verdict.seconds:.1f} s")
    if verdict.first_line:
        lines.append(f"    message: {_cut(verdict.first_line)}")
    if verdict.naming_line:
        lines.append(f"    names it: {_cut(verdict.naming_line)}")
    if verdict.status != KILLED:  # why: a platform that did not start says it in its log's tail
        lines += [f"    | {_cut(line, 200)}" for line in verdict.rest_of_message[:MORE_LINES]]
    return "\n".join(lines)


def summary(verdicts: list[Verdict], seconds: float) -> str:
    killed = sum(v.status == KILLED for v in verdicts)
    lines = [f"mutants: {killed} killed / {len(verdicts)} in {seconds:.0f} s"]
    for status in ("survived", "off-target", "stillborn", "broken", "baseline-fails"):
        names = [v.mutant.name for v in verdicts if v.status == status]
        if names:
            lines.append(f"  {status}: {', '.join(names)}")
    return "\n".join(lines)


def run_all(mutants: list[Mutant], run: Callable[[Mutant], Verdict], processes: int = 1,
            say: Callable[[str], None] = print) -> list[Verdict]:
    """Run ``mutants``, ``processes`` at once, saying each one's verdict as it comes; the verdicts so far.
    Interrupted (KeyboardInterrupt), every robot run in flight is stopped and waited for (their stacks
    stop, their copies are removed), no other mutant starts, and the KeyboardInterrupt goes on with the
    verdicts so far in ``error.verdicts``."""
    allow_runs()
    verdicts: list[Verdict] = []
    lock = threading.Lock()

    def one(index: int, mutant: Mutant) -> None:
        with lock:
            say(f"[{index}/{len(mutants)}] {mutant.name} ...")
        verdict = run(mutant)
        with lock:
            verdicts.append(verdict)
            say(show(index, len(mutants), verdict))

    pool = ThreadPoolExecutor(max(1, processes), thread_name_prefix="kit-mutant")
    futures = [pool.submit(one, index, mutant) for index, mutant in enumerate(mutants, 1)]
    try:
        for future in as_completed(futures):
            future.result()
    except BaseException as error:  # interrupted (or a fault of the runner's): nothing may run on
        try:
            stop_all_runs()
            pool.shutdown(wait=True, cancel_futures=True)
        except KeyboardInterrupt:  # interrupted again: no more grace
            stop_all_runs(grace=0)
            pool.shutdown(wait=True, cancel_futures=True)
        error.verdicts = list(verdicts)  # type: ignore[attr-defined]
        raise
    pool.shutdown()
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./kit mutants", description=__doc__.split("\n\n")[1])
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these mutants (default: all)")
    parser.add_argument("--fast", action="store_true", help="only the fast subset CI runs")
    parser.add_argument("--processes", type=int, default=1, metavar="N",
                        help="mutants run at once, each on a stack of its own (1)")
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests, run nothing")
    parser.add_argument("--baseline", action="store_true",
                        help="first run each mutant's tests without the defect: they must pass there")
    parser.add_argument("--keep", action="store_true", help="keep each mutant's copy and Robot logs (printed)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds one robot run may take (900)")
    args = parser.parse_args(argv)
    if args.processes < 1:
        print(f"--processes must be 1 or more, not {args.processes}", file=sys.stderr)
        return 2
    try:
        mutants = choose(args.names, args.fast)
    except KeyError as error:
        print(error.args[0], file=sys.stderr)
        return 2
    if args.list:
        for mutant in mutants:
            fast = " [fast]" if mutant.fast else ""
            print(f"{mutant.name}{fast}: {mutant.defect}")
            for test in mutant.tests:
                print(f"    {test}")
        return 0
    restore_sigint()
    stop_like_ctrl_c(signal.SIGTERM)
    started = time.monotonic()

    def say(text: str) -> None:
        print(text, flush=True)

    try:
        verdicts = run_all(mutants, lambda mutant: run_mutant(mutant, timeout=args.timeout, keep=args.keep, say=say,
                                                             baseline=args.baseline), args.processes, say)
    except (KeyboardInterrupt, Stopped) as error:
        verdicts = getattr(error, "verdicts", [])
        print(summary(verdicts, time.monotonic() - started), flush=True)
        print(f"interrupted after {len(verdicts)} of {len(mutants)} mutants", file=sys.stderr)
        return 130
    print(summary(verdicts, time.monotonic() - started), flush=True)
    return 0 if verdicts and all(v.status == KILLED for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
