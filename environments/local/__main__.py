"""Start the local reference stack in the foreground: ``python -m environments.local``.

Prints the endpoints and credentials, writes the topology to ``--ready-file`` once everything
is healthy, serves the fault hooks on a loopback control API (see docs/local-stack.md), and
stops everything on Ctrl-C, SIGTERM, ``POST /shutdown``, or when ``--parent-pid`` exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import signal
import sys
import time
from pathlib import Path

from environments.local import reaper
from environments.local.engine import CHOICES, ENGINE_VAR
from environments.local.procs import BackendError
from environments.local.stack import BACKENDS, RUN_LABEL, LocalStack, StackOptions
from kitcore.processes import pid_alive


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m environments.local", description=__doc__.splitlines()[0])
    parser.add_argument("--api-replicas", type=int, default=3, help="Control Plane API replicas (default 3)")
    parser.add_argument("--k8s-agents", type=int, default=3, help="Kubernetes agent replicas (default 3)")
    parser.add_argument("--docker-agents", type=int, default=2, help="Docker agent replicas (default 2)")
    parser.add_argument("--results", type=Path, default=None, help="where component logs go (default results/)")
    parser.add_argument("--ready-file", type=Path, help="write the topology JSON here when ready")
    parser.add_argument("--ready-fd", type=int, help="write the topology JSON to this inherited pipe when ready, "
                                                      "then close it (how EnvironmentKit's local driver waits)")
    parser.add_argument("--parent-pid", type=int, help="stop everything when this process exits")
    parser.add_argument("--quiet", action="store_true", help="do not print credentials")
    parser.add_argument("--platform", default=os.environ.get("KIT_PLATFORM", "reference"),
                        help="the platform under test: a shipped platform file (reference, streamspace) or the "
                             "path of one (default: reference, the kit's own)")
    parser.add_argument("--programs", default=os.environ.get("KIT_PLATFORM_PROGRAMS") or None,
                        help="the folder of the platform's programs (for a platform you built, e.g. StreamSpace)")
    parser.add_argument("--engine", default=os.environ.get(ENGINE_VAR) or "auto", choices=CHOICES,
                        help="the container engine: auto (a Docker engine that answers, else Podman's service), "
                             "docker (a Docker engine that answers, else the kit's private dockerd) or podman "
                             f"(default: ${ENGINE_VAR}, else auto)")
    parser.add_argument("--only", help=f"start only these backends, no platform: a comma list of {', '.join(BACKENDS)}")
    args = parser.parse_args(argv)
    for name in ("api_replicas",):
        if not 1 <= getattr(args, name) <= 10:
            parser.error("--api-replicas must be between 1 and 10")
    if args.only is not None:
        chosen = {part.strip() for part in args.only.split(",") if part.strip()}
        unknown = sorted(chosen - set(BACKENDS))
        if unknown or not chosen:
            parser.error(f"--only takes a comma list of {', '.join(BACKENDS)}; not {', '.join(unknown) or 'nothing'}")
        args.only = frozenset(chosen)
    for name in ("k8s_agents", "docker_agents"):
        if not 0 <= getattr(args, name) <= 10:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 10")
    return args


async def supervise(args: argparse.Namespace) -> int:
    os.environ[ENGINE_VAR] = args.engine  # the stack's Engine reads the choice from here
    options = StackOptions(api_replicas=args.api_replicas, k8s_agents=args.k8s_agents,
                           docker_agents=args.docker_agents, only=args.only, platform=args.platform,
                           programs=args.programs)
    if args.results:
        options.results = args.results.resolve()
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, done.set)  # before the stack makes anything: a stop then removes it
    try:
        stack = LocalStack(options)
    except BackendError as error:
        print(f"[stack] ERROR: {error}", file=sys.stderr, flush=True)
        return 2
    watcher = asyncio.create_task(_watch_parent(args.parent_pid, done)) if args.parent_pid else None
    control = None
    status = 0
    try:
        starting = loop.run_in_executor(None, stack.start, loop)
        # the control API's web framework is imported while the stack starts, not before
        control_module = loop.run_in_executor(None, importlib.import_module, "environments.local.control")
        waiting = asyncio.ensure_future(done.wait())
        finished, _ = await asyncio.wait({starting, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if starting not in finished:
            print("[stack] interrupted while starting; stopping what was started", file=sys.stderr, flush=True)
            stack.cancel()  # no further step begins, a wait in progress ends
            with contextlib.suppress(Exception):
                await starting
            return 130
        topology = starting.result()
        control = await (await control_module).serve_control(stack, done)
        topology["control"] = control.url
        _announce(topology, stack, quiet=args.quiet)
        if args.ready_file:
            _write_private(args.ready_file, json.dumps(topology, indent=2))
            reaper.guard_path(args.ready_file)  # a killed supervisor's ready file must not say it is ready
        if args.ready_fd is not None:
            _write_fd(args.ready_fd, json.dumps(topology))
            args.ready_fd = None
        await done.wait()
    except BackendError as error:
        print(f"[stack] ERROR: {error}", file=sys.stderr, flush=True)
        status = 2
    except Exception as error:  # noqa: BLE001 - any failure to start is reported, then everything stops
        print(f"[stack] ERROR: the stack could not start: {type(error).__name__}: {error}. "
              f"See the component logs in {stack.logs}", file=sys.stderr, flush=True)
        status = 2
    finally:
        if watcher:
            watcher.cancel()
        if control:
            await control.close()
        stopping = time.monotonic()
        await loop.run_in_executor(None, stack.stop)
        stopped_in = time.monotonic() - stopping
        if stack.stop_errors:
            print(f"[stack] ERROR: run {stack.run_id} could not remove everything it made "
                  f"({'; '.join(stack.stop_errors)}). Fix: list what is left with 'python -m environments.local.leaks' "
                  f"and remove what carries the label {RUN_LABEL}={stack.run_id}", file=sys.stderr, flush=True)
            status = status or 3
        if args.ready_file:
            with contextlib.suppress(FileNotFoundError):
                args.ready_file.unlink()
        if args.ready_fd is not None:
            with contextlib.suppress(OSError):
                os.close(args.ready_fd)  # never ready: the reader sees the pipe end without a topology
        took = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in stack.stop_times.items())
        print(f"[stack] stopped in {stopped_in:.1f} s" + (f"\n  stop took: {took}" if took else ""),
              file=sys.stderr, flush=True)
    return status


def _write_fd(fd: int, text: str) -> None:
    """The topology to the reader's pipe, then the pipe closed (a reader that went away is no error)."""
    try:
        with os.fdopen(fd, "w", closefd=True) as pipe:
            pipe.write(text)
    except (BrokenPipeError, OSError) as error:
        print(f"[stack] the topology could not be handed over on fd {fd}: {error}", file=sys.stderr, flush=True)


async def _watch_parent(pid: int, done: asyncio.Event) -> None:
    """Set ``done`` when process ``pid`` exits: woken by its pidfd (polled where the kernel has none)."""
    gone = asyncio.Event()
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        handle = None
        gone.set()
    except OSError:
        handle = None
    if handle is not None:
        asyncio.get_running_loop().add_reader(handle, gone.set)
    try:
        while not gone.is_set():
            if handle is None and not pid_alive(pid):
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(gone.wait(), None if handle is not None else 0.5)
    finally:
        if handle is not None:
            asyncio.get_running_loop().remove_reader(handle)
            os.close(handle)
    if not done.is_set():
        print(f"[stack] parent {pid} is gone; stopping", file=sys.stderr, flush=True)
        done.set()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)


def _announce(topology: dict, stack: LocalStack, quiet: bool) -> None:
    lines = [f"[stack] local stack {stack.run_id} ({stack.platform.name} platform) ready in {stack.started_in:.1f} s"]
    if stack.start_times:
        lines.append("  took: " + ", ".join(f"{name} {took:.2f} s" for name, took in stack.start_times.items()))
    for api in topology["api"]:
        lines.append(f"  {api['name']:<16} {api['url']}")
    for key in ("redis", "postgres", "kubernetes", "engine"):
        info = topology[key]
        kind = f" ({info['kind']})" if key == "engine" and info.get("kind") else ""
        lines.append(f"  {key:<16} {info.get('url') or info.get('dsn')}{kind}")
    lines.append(f"  {'control':<16} {topology['control']}")
    lines.append(f"  {'logs':<16} {topology['logs']}")
    if not quiet:
        creds = topology["credentials"]
        lines.append(f"  admin password   {creds['admin']['password']}")
        lines += [f"  {u['username']:<16} {u['password']}" for u in creds["users"]]
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(supervise(parse_args(argv)))


if __name__ == "__main__":
    code = main()
    # everything is stopped and every guard released: exit without tearing the interpreter's modules
    # down one by one (a few tenths of a second of CPU that would only delay the exit)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
