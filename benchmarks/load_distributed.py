"""How many requests per second LoadKit's Locust generator reaches with one and with two workers.

    .venv/bin/python benchmarks/load_distributed.py [--count 3000] [--concurrency 16] [--workers 1,2]

Starts the local reference stack (one API replica, one agent of each kind), logs in as admin and
lists sessions through the API (``GET /api/v1/sessions`` with the admin's token) ``--count`` times
from ``--concurrency`` Locust users, once per worker count, after one run of the kit's
single-process threads generator at the same concurrency for comparison. Prints per run: requests
per second, p50/p95 latency, failures, the requests each worker made and the busiest generator
process's CPU (% of one core) -- so it is clear whether the generator or the API limits. On a small
machine the API shares the cores with the generator, so the figures say what this machine reaches,
not what the platform can take. The stack is stopped at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "libraries")]

from environments.local import reaper  # noqa: E402
from kitcore import CleanupListener  # noqa: E402
from kitcore.processes import stop_like_ctrl_c  # noqa: E402
from LoadKit.distributed import GeneratorSettings, run_distributed  # noqa: E402
from LoadKit.operations import HttpOperation  # noqa: E402
from LoadKit.runner import run_load  # noqa: E402
from LoadKit.summary import summarise  # noqa: E402

START_TIMEOUT = 300.0


def start_stack(results: Path) -> tuple[subprocess.Popen, dict[str, Any]]:
    ready = results / "ready.json"
    proc = subprocess.Popen([sys.executable, "-m", "environments.local", "--ready-file", str(ready), "--quiet",
                             "--results", str(results), "--parent-pid", str(os.getpid()), "--api-replicas", "1",
                             "--k8s-agents", "1", "--docker-agents", "1"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(results / "stack.log", "w"))  # noqa: SIM115
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if proc.poll() is not None:
            raise SystemExit(f"the stack did not start:\n{(results / 'stack.log').read_text()[-2000:]}")
        if time.monotonic() > deadline:
            proc.terminate()
            raise SystemExit(f"the stack was not ready within {START_TIMEOUT:g} s")
        time.sleep(0.05)
    return proc, json.loads(ready.read_text())


def line(title: str, summary: dict[str, Any]) -> str:
    workers = summary.get("requests_per_worker")
    return (f"{title:<22} {summary['throughput_per_s']:>8.1f} req/s  p50 {summary['p50_ms']:>7.2f} ms  "
            f"p95 {summary['p95_ms']:>7.2f} ms  failed {summary['failed']:>4}/{summary['count']}  "
            f"busiest generator CPU {summary['client_cpu_percent']:>5.1f} %"
            + (f"  per worker {workers}" if workers else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", default="1,2")
    args = parser.parse_args()
    stop_like_ctrl_c()
    with reaper.temp_dir("kit-bench-locust-") as tmp:
        proc, topology = start_stack(tmp)
        try:
            url = topology["api"][0]["url"]
            admin = topology["credentials"]["admin"]
            login = requests.post(f"{url}/api/v1/auth/login", json={"username": admin["username"],
                                                                    "password": admin["password"]}, timeout=30)
            login.raise_for_status()
            operation = HttpOperation("GET", f"{url}/api/v1/sessions", token=login.json()["token"])
            print(f"GET /api/v1/sessions x {args.count}, {args.concurrency} users, on {os.cpu_count()} cores "
                  f"(the API runs on the same machine)")
            threads = summarise(run_load(operation, args.count, args.concurrency), "threads")
            print(line("threads (1 process)", threads))
            for workers in [int(n) for n in args.workers.split(",")]:
                result = run_distributed(operation, f"list-{workers}", args.count, args.concurrency, None, 600.0,
                                         GeneratorSettings("locust", workers), CleanupListener("benchmark"),
                                         tmp / "locust")
                print(line(f"locust, {workers} worker{'s' if workers > 1 else ''}", summarise(result, "locust")))
        finally:
            proc.terminate()
            proc.wait(120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
