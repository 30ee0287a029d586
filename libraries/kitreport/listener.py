"""A Robot Framework listener that writes the kit's reports when a run has written its outputs.

The kit's set-up adds ``--listener kitreport.listener.ReportListener`` to ``ROBOT_OPTIONS``, so a
plain ``robot suites/`` also leaves the Markdown reports, plots and JUnit file in results/. Figures
unfit to judge a promise (a duration with no budget, no resolution, or one coarser than a tenth of
its budget) are printed as kit errors at the end of the run, and listed in the reports.
"""

from __future__ import annotations

import sys
from pathlib import Path

from kitcore import KitError
from kitreport.generate import generate


class ReportListener:
    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self) -> None:
        self.output: Path | None = None
        self.log: Path | None = None

    def output_file(self, path: Path | None) -> None:
        self.output = Path(path) if path else None

    def log_file(self, path: Path | None) -> None:
        self.log = Path(path) if path else None

    def close(self) -> None:
        if self.output is None:
            return
        try:
            paths = generate(self.output, log=self.log)
        except KitError as error:
            print(f"kitreport: ERROR: {error}", file=sys.__stderr__)
            return
        for error in paths.kit_errors:
            print(f"kitreport: KIT ERROR: {error}", file=sys.__stderr__)
        print(f"Reports: {paths.index}", file=sys.__stdout__)
