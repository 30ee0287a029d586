"""Wall time of the full scenario run, serially and in parallel on one shared stack, and per suite.

    .venv/bin/python benchmarks/suite_times.py [--processes 3] [--skip-serial] [--skip-pabot]

Runs `robot suites/` (one stack for the run) and `python -m EnvironmentKit.parallel --processes N
suites/` (pabot, every process on one shared stack; the suites that break or measure components on
stacks of their own) into temporary folders, and prints the wall time of each run, its pass/fail
counts, every suite's elapsed time read from output.xml, and the parallel run's wall time as a
share of the serial one's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from robot.api import ExecutionResult

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(command: list[str], outdir: Path) -> tuple[float, Path]:
    started = time.monotonic()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # pabot runs `robot`
    subprocess.run([*command, "--outputdir", str(outdir), "suites/"], cwd=ROOT, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False, timeout=3600, env=env)
    return time.monotonic() - started, outdir / "output.xml"


def report(title: str, wall: float, output: Path) -> None:
    if not output.exists():
        print(f"{title}: no output.xml after {wall:.0f} s")
        return
    result = ExecutionResult(str(output))
    stats = result.statistics.total
    print(f"{title}: wall {wall:.0f} s; {stats.passed} passed, {stats.failed} failed")
    for suite in result.suite.suites:
        print(f"    {suite.name:<40} {suite.elapsed_time.total_seconds():7.1f} s  "
              f"{suite.statistics.passed:>3} passed {suite.statistics.failed:>3} failed")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=3)
    parser.add_argument("--skip-serial", action="store_true")
    parser.add_argument("--skip-pabot", action="store_true")
    args = parser.parse_args()
    walls: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-suites-") as tmp:
        if not args.skip_serial:
            walls["serial"], output = run([str(BIN / "robot")], Path(tmp) / "serial")
            report("serial (robot)", walls["serial"], output)
        if not args.skip_pabot:
            walls["parallel"], output = run([sys.executable, "-m", "EnvironmentKit.parallel",
                                             "--processes", str(args.processes)], Path(tmp) / "pabot")
            report(f"parallel (pabot --processes {args.processes}, one shared stack)", walls["parallel"], output)
    if len(walls) == 2:
        print(f"parallel / serial wall time: {walls['parallel'] / walls['serial']:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
