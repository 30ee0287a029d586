"""A parallel run on one environment: ``python -m EnvironmentKit.parallel [--processes N] [options] PATH...``.

pabot runs every suite in a process of its own, and each process would start an environment of its
own. This runner starts the environment the run's variables choose (as ``Start Test Environment``
does: ``variables/defaults.yaml``, then ``--variablefile``, then ``--variable``) once, runs pabot with
every process attached to it (``KIT_TOPOLOGY``, ``KIT_SHARED_ENVIRONMENT``), and stops it after the
last suite, also when the run is interrupted: Ctrl-C or SIGTERM stop pabot's processes as Ctrl-C stops
Robot (teardowns run), then the environment. Killed outright, the environment stops by itself (it
watches this process) and the kit's watcher stops pabot's processes.

Suites that break or measure shared components ask for an environment of their own
(``Start Test Environment    own=${TRUE}``: chaos, leader election, replica restarts, load); in this run
they start one for their duration. The suites run in the order of ``variables/suite-order.txt``
(longest first, so that the long ones do not start last); suites it does not name run after them.
Every other option goes to pabot and Robot unchanged; the results go to ``results/`` unless
``--outputdir`` says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psutil
from robot.errors import DataError
from robot.variables import Variables

from EnvironmentKit import state
from EnvironmentKit.drivers import create_driver
from EnvironmentKit.keywords.lifecycle import environment_request
from kitcore import KitError, reaper, to_seconds
from kitcore.processes import stop_like_ctrl_c
from kitreport.__main__ import main as write_reports

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = ROOT / "variables" / "defaults.yaml"
ORDER = ROOT / "variables" / "suite-order.txt"
BIN = Path(sys.executable).parent  # robot and pabot beside this Python
INTERRUPT_GRACE = 45.0  # seconds pabot's processes get to run their teardowns after Ctrl-C (a stack stops in 30)
STOP_TIMEOUT = 30.0
REPORTS = "kitreport.listener.ReportListener"  # the kit's reports, when the set-up put them in ROBOT_OPTIONS


def parse(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m EnvironmentKit.parallel", allow_abbrev=False,
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=3, help="suites at once (default 3)")
    parser.add_argument("-V", "--variablefile", action="append", default=[], help="as robot's")
    parser.add_argument("-v", "--variable", action="append", default=[], help="as robot's (NAME:value)")
    parser.add_argument("-d", "--outputdir", type=Path, default=ROOT / "results", help="as robot's (default: results/)")
    args, rest = parser.parse_known_args(argv)
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if not [arg for arg in rest if not arg.startswith("-")]:
        parser.error("give the suites to run (a folder or files), e.g. suites/")
    return args, rest


def run_variables(files: Sequence[str], variables: Sequence[str]) -> Variables:
    """The run's variables as its suites see them: the kit's defaults, the variable files, the variables."""
    found = Variables()
    for path in [str(DEFAULTS), *files]:
        try:
            found.set_from_file(path, overwrite=True)
        except Exception as error:  # noqa: BLE001 - Robot raises DataError and others for a bad file
            raise KitError(f"Cannot read the variable file '{path}'", cause=str(error),
                           fix="give a variable file robot can read (robot -V takes the same)") from None
    for item in variables:
        name, _, value = item.partition(":")
        found["${" + name + "}"] = value
    return found


def lookup_in(variables: Variables) -> Callable[[str], Any]:
    """``lookup(NAME)``: the value of ``${NAME}``, None when the run does not set it."""
    def lookup(name: str) -> Any:
        try:
            return variables["${" + name + "}"]
        except DataError:
            return None
    return lookup


def pabot_command(args: argparse.Namespace, rest: Sequence[str]) -> list[str]:
    command = [str(BIN / "pabot"), "--processes", str(args.processes),
               "--no-pabotlib", "--outputdir", str(args.outputdir)]
    if ORDER.exists():
        command += ["--ordering", str(ORDER)]
    for path in args.variablefile:
        command += ["--variablefile", path]
    for item in args.variable:
        command += ["--variable", item]
    return [*command, *rest]


def run_pabot(command: list[str], env: dict[str, str]) -> int:
    """pabot in a process group of its own (guarded by the kit's watcher); Ctrl-C or SIGTERM here reach it as
    Ctrl-C, so that every suite's teardown runs before the environment stops."""
    process = subprocess.Popen(command, env=env, process_group=0)
    guard = reaper.guard_group(process.pid, "pabot")
    try:
        try:
            return process.wait()
        except KeyboardInterrupt:
            print("[parallel] interrupted: stopping the suites (their teardowns run), then the environment",
                  file=sys.stderr, flush=True)
            _interrupt(process.pid)
            try:
                process.wait(INTERRUPT_GRACE)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):  # too slow, or a second Ctrl-C: now
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            return 130
    finally:
        reaper.release(guard)


def _interrupt(pabot: int) -> None:
    """Ctrl-C to pabot's process group once it runs suites (its robot processes stop as Robot does, running
    their teardowns; pabot stops scheduling, merges what they wrote and exits). Still starting, pabot hangs
    on Ctrl-C: then it is asked to stop (SIGTERM)."""
    with contextlib.suppress(psutil.NoSuchProcess, ProcessLookupError):
        if psutil.Process(pabot).children():
            os.killpg(pabot, signal.SIGINT)
        else:
            os.kill(pabot, signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    args, rest = parse(argv)
    stop_like_ctrl_c()
    try:
        lookup = lookup_in(run_variables(args.variablefile, args.variable))
        name, module, options = environment_request(lookup)
        driver = create_driver(name, module=module, **options)
        budget = to_seconds(lookup("ENVIRONMENT_START_TIMEOUT") or "3 min")
    except KitError as error:
        print(f"[parallel] ERROR: {error}", file=sys.stderr)
        return 2
    with reaper.temp_dir("kit-parallel-") as folder:
        try:
            print(f"[parallel] starting the '{name}' environment for every suite", file=sys.stderr, flush=True)
            topology = driver.start(budget)
            file = folder / "topology.json"  # credentials inside: readable by this user only
            file.touch(mode=0o600)
            file.write_text(json.dumps(topology.data))
            env = {**os.environ, state.TOPOLOGY_ENV_VAR: str(file), state.SHARED_ENV_VAR: "1",
                   "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),  # pabot runs `robot`
                   "ROBOT_OPTIONS": os.environ.get("ROBOT_OPTIONS", "").replace(f"--listener {REPORTS}", "")}
            code = run_pabot(pabot_command(args, rest), env)
        except KitError as error:
            print(f"[parallel] ERROR: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
        finally:
            print("[parallel] stopping the environment", file=sys.stderr, flush=True)
            driver.stop(STOP_TIMEOUT)
    output = args.outputdir / "output.xml"
    if output.exists() and REPORTS in os.environ.get("ROBOT_OPTIONS", ""):
        write_reports([str(output)])  # the kit's reports of the whole run (each process's were not written)
    return code


if __name__ == "__main__":
    sys.exit(main())
