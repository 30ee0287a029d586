"""A Robot Framework listener that writes the kit's reports when a run has written its outputs.

The kit's set-up adds ``--listener kitreport.listener.ReportListener`` to ``ROBOT_OPTIONS``, so a
plain ``robot suites/`` also leaves the Markdown reports, plots and JUnit file in results/.
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

    def output_file(self, path: Path) -> None:
        self.output = Path(path)

    def log_file(self, path: Path) -> None:
        self.log = Path(path)

    def close(self) -> None:
        if self.output is None:
            return
        try:
            paths = generate(self.output, log=self.log)
        except KitError as error:
            print(f"kitreport: ERROR: {error}", file=sys.__stderr__)
            return
        print(f"Reports: {paths.index}", file=sys.__stdout__)
