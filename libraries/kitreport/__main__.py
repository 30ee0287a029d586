"""``python -m kitreport [results/output.xml] [--outdir DIR] [--log FILE] [--no-plots]``.

Exit 0 when the reports were written (also when tests failed), 2 when they could not be. Figures
unfit to judge a promise are printed as kit errors (and listed in the reports).
"""

from __future__ import annotations

import argparse
import sys

from kitcore import KitError
from kitreport.generate import generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kitreport",
                                     description="Markdown reports, plots and JUnit XML from a Robot Framework "
                                                 "output.xml (written next to it unless --outdir is given).")
    parser.add_argument("output", nargs="?", default="results/output.xml", help="default: results/output.xml")
    parser.add_argument("--outdir", help="where to write the reports (default: the folder of output.xml)")
    parser.add_argument("--log", help="the log.html to link to (default: log.html next to output.xml)")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG charts")
    args = parser.parse_args(argv)
    try:
        paths = generate(args.output, args.outdir, args.log, draw=not args.no_plots)
    except KitError as error:
        print(f"kitreport: ERROR: {error}", file=sys.stderr)
        return 2
    for warning in paths.warnings:
        print(f"kitreport: warning: {warning}", file=sys.stderr)
    for error in paths.kit_errors:
        print(f"kitreport: KIT ERROR: {error}", file=sys.stderr)
    print(f"kitreport: {len(paths.suites)} suite report(s), index {paths.index}, JUnit {paths.junit}, "
          f"{len(paths.plots)} plot(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
