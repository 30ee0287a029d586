"""Run a sample of the scenario tests each alone, as ``robot --test`` does: no test may depend on the
tests before it (a network an earlier test made, a user an earlier test created...).

``python tests/run_alone.py [--sample N] [--seed S] [--output results/output.xml]`` picks N tests at
random (the seed is printed, so a failing pick can be run again) from the last full run's output,
runs each in its own ``robot`` process with a fresh environment, and exits 1 if any fails. Results
go to ``results/alone/<n>/``. ``KIT_ALONE_SAMPLE`` and ``KIT_ALONE_SEED`` set the defaults.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from robot.api import ExecutionResult, ResultVisitor

REPO = Path(__file__).resolve().parents[1]


class _Tests(ResultVisitor):
    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []  # (suite source, test name)

    def visit_test(self, test) -> None:
        if test.status != "SKIP":
            self.found.append((str(test.parent.source), test.name))


def tests_of(output: Path) -> list[tuple[str, str]]:
    visitor = _Tests()
    ExecutionResult(str(output)).visit(visitor)
    return visitor.found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=int(os.environ.get("KIT_ALONE_SAMPLE", "3")))
    parser.add_argument("--seed", default=os.environ.get("KIT_ALONE_SEED")
                        or str(random.SystemRandom().randrange(10**6)))
    parser.add_argument("--output", type=Path, default=REPO / "results" / "output.xml")
    args = parser.parse_args(argv)
    if not args.output.exists():
        print(f"[alone] ERROR: no {args.output}: run the suites first (robot suites/)", file=sys.stderr)
        return 2
    tests = tests_of(args.output)
    picked = random.Random(args.seed).sample(tests, min(args.sample, len(tests)))
    print(f"[alone] {len(picked)} of {len(tests)} tests, each alone (seed {args.seed}; "
          f"KIT_ALONE_SEED={args.seed} picks them again)", flush=True)
    shutil.rmtree(REPO / "results" / "alone", ignore_errors=True)  # no earlier sample counted with this one
    failed = []
    for index, (source, name) in enumerate(picked, 1):
        started = time.monotonic()
        outdir = REPO / "results" / "alone" / str(index)
        # the suites' __init__ file starts and stops the environment: run the folder, select the test
        command = [sys.executable, "-m", "robot", "--outputdir", str(outdir), "--output", "output.xml",
                   "--report", "NONE", "--log", "log.html", "--xunit", "NONE", "--console", "dotted",
                   "--test", name.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]"),
                   "--suite", Path(source).stem, str(REPO / "suites")]
        code = subprocess.run(command, cwd=REPO, stdin=subprocess.DEVNULL, check=False,
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=900).returncode
        verdict = "PASS" if code == 0 else f"FAIL (see {outdir / 'log.html'})"
        print(f"[alone] {verdict}  {Path(source).name} :: {name}  ({time.monotonic() - started:.1f} s)", flush=True)
        if code != 0:
            failed.append(name)
    print(f"[alone] {len(picked) - len(failed)} of {len(picked)} sampled tests passed when run alone", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
