"""``python -m environments.local.mutants [NAME ...] [--fast] [--baseline] [--list] [--keep] [--timeout S]``
(``./kit mutants``): the kit's mutation score on its reference platform.

Prints each mutant, the test that killed it and the first line of its failure message, then
``mutants: N killed / M`` and the time of the whole run. Exits 0 when every mutant was killed,
1 when any survived, was stillborn or was caught off target, 2 on a wrong argument, 130 when
interrupted (Ctrl-C or SIGTERM: the robot run stops its stack, the mutated copies are removed).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from environments.local.mutants.catalogue import MUTANTS, Mutant, by_name
from environments.local.mutants.runner import KILLED, Verdict, run_mutant
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./kit mutants", description=__doc__.split("\n\n")[1])
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these mutants (default: all)")
    parser.add_argument("--fast", action="store_true", help="only the fast subset CI runs")
    parser.add_argument("--list", action="store_true", help="list the mutants and their tests, run nothing")
    parser.add_argument("--baseline", action="store_true",
                        help="first run each mutant's tests without the defect: they must pass there")
    parser.add_argument("--keep", action="store_true", help="keep each mutant's copy and Robot logs (printed)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds one robot run may take (900)")
    args = parser.parse_args(argv)
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
    verdicts: list[Verdict] = []
    try:
        for index, mutant in enumerate(mutants, 1):
            print(f"[{index}/{len(mutants)}] {mutant.name} ...", flush=True)
            verdict = run_mutant(mutant, timeout=args.timeout, keep=args.keep, say=print, baseline=args.baseline)
            verdicts.append(verdict)
            print(show(index, len(mutants), verdict), flush=True)
    except KeyboardInterrupt:
        print(summary(verdicts, time.monotonic() - started), flush=True)
        print(f"interrupted after {len(verdicts)} of {len(mutants)} mutants", file=sys.stderr)
        return 130
    print(summary(verdicts, time.monotonic() - started), flush=True)
    return 0 if verdicts and all(v.status == KILLED for v in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
