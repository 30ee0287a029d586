"""A program for the zygote's tests: says how it was started, waits to be signalled, or fails.

    python -m tests.support.zygote_program report FILE   (writes what it sees to FILE, exits 3)
    python -m tests.support.zygote_program wait FILE     (writes FILE, then waits for a signal)
    python -m tests.support.zygote_program raise         (an uncaught exception)
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[0] == "report":
        print("a line to the log", flush=True)
        seen = {"args": args, "probe": os.environ.get("KIT_PROBE"), "cwd": os.getcwd(), "sid": os.getsid(0),
                "pgid": os.getpgid(0), "argv0": sys.argv[0], "stdin": sys.stdin.read()}
        Path(args[1]).write_text(json.dumps(seen))
        return 3
    if args[0] == "wait":
        Path(args[1]).write_text("waiting")
        signal.pause()
        return 0
    raise RuntimeError("a program that fails")


if __name__ == "__main__":
    sys.exit(main())
