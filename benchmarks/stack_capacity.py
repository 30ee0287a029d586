"""The local reference stack's own figures: start time, session start time, and capacity.

    .venv/bin/python benchmarks/stack_capacity.py [--samples 10] [--levels 10,20,50,100]

Prints:
- the stack's start time (supervisor spawned -> topology ready), cold or warm as the machine is;
- session create -> running, median and p95, for each platform (sessions one at a time);
- for each level N of concurrent sessions (half Kubernetes, half Docker, created 10 at a time):
  median / p95 create -> running, whether all N were running together, and the wall time; it
  stops at the first level that fails or whose median is more than 2x the first level's.
Everything it creates is terminated, and the stack is stopped, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from environments.local import reaper
from kitcore.processes import stop_like_ctrl_c

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("kubernetes", "docker")


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


class Api:
    def __init__(self, url: str, admin_password: str) -> None:
        self.url = url
        self.http = requests.Session()
        token = self.call("POST", "/auth/login", {"username": "admin", "password": admin_password})["token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict | None = None, ok: tuple[int, ...] = (200, 201, 202)) -> dict:
        response = self.http.request(method, f"{self.url}/api/v1{path}", json=body, timeout=30)
        if response.status_code not in ok:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json()

    def start_session(self, user: str, platform: str) -> tuple[str, float]:
        started = time.monotonic()
        name = self.call("POST", "/sessions", {"user": user, "template": f"desktop-{platform}",
                                               "resources": {"memory": "256Mi", "cpu": "250m"},
                                               "persistentHome": False, "tags": ["bench"]})["name"]
        self.wait_state(name, "running", 300)
        return name, time.monotonic() - started

    def wait_state(self, name: str, state: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            seen = self.call("GET", f"/sessions/{name}")["state"]
            if seen == state:
                return
            if seen == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"session {name} is {seen}, not {state}")
            time.sleep(0.1)

    def terminate(self, names: list[str]) -> None:
        for name in names:
            self.call("DELETE", f"/sessions/{name}", ok=(202, 404, 409))
        for name in names:
            self.wait_state(name, "terminated", 120)


def start_stack(results: Path) -> tuple[subprocess.Popen, dict, float]:
    ready = results / "ready.json"
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "environments.local", "--ready-file", str(ready), "--quiet",
                             "--results", str(results), "--parent-pid", str(os.getpid())],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(results / "stack.log", "w"))  # noqa: SIM115
    while not ready.exists():
        if proc.poll() is not None:
            raise SystemExit(f"the stack did not start:\n{(results / 'stack.log').read_text()[-2000:]}")
        if time.monotonic() - started > 300:
            proc.terminate()
            raise SystemExit("the stack was not ready within 300 s")
        time.sleep(0.05)
    return proc, json.loads(ready.read_text()), time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--levels", default="10,20,50,100")
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    stop_like_ctrl_c()
    with reaper.temp_dir("kit-bench-stack-") as tmp:
        proc, topology, start_seconds = start_stack(tmp)
        created: list[str] = []
        try:
            print(f"stack start: {start_seconds:.1f} s "
                  f"({len(topology['api'])} API replicas, Kubernetes and Docker agents, engine, Redis, PostgreSQL)")
            api = Api(topology["api"][0]["url"], topology["credentials"]["admin"]["password"])
            user = api.call("POST", "/users", {"username": "bench", "email": "bench@example.test",
                                               "fullName": "Bench", "password": "bench-pass-1", "role": "user"})
            api.call("PUT", f"/users/{user['id']}/quota", {"maxSessions": max(levels) + 10})
            for platform in PLATFORMS:
                times = []
                for _ in range(args.samples):
                    name, seconds = api.start_session("bench", platform)
                    times.append(seconds)
                    api.terminate([name])
                print(f"session create->running, {platform}: median {statistics.median(times):.2f} s, "
                      f"p95 {p95(times):.2f} s (n={len(times)})")
            baseline = None
            for level in levels:
                began = time.monotonic()
                with ThreadPoolExecutor(10) as pool:
                    futures = [pool.submit(api.start_session, "bench", PLATFORMS[i % 2]) for i in range(level)]
                    outcomes = []
                    for future in futures:
                        try:
                            outcomes.append(future.result())
                        except Exception as error:  # noqa: BLE001 - a failure is the figure we look for
                            outcomes.append(error)
                names = [o[0] for o in outcomes if isinstance(o, tuple)]
                created += names
                errors = [o for o in outcomes if not isinstance(o, tuple)]
                running = api.call("GET", "/sessions?state=running&user=bench")["total"]
                times = [o[1] for o in outcomes if isinstance(o, tuple)]
                median = statistics.median(times) if times else float("nan")
                baseline = baseline or median
                print(f"{level:>4} concurrent sessions: {len(names)} started, {len(errors)} failed, {running} running "
                      f"together; create->running median {median:.2f} s, p95 {p95(times) if times else 0:.2f} s; "
                      f"wall {time.monotonic() - began:.1f} s")
                api.terminate(names)
                created = [n for n in created if n not in names]
                if errors or running < level:
                    print(f"  capacity reached at {level}: {errors[0] if errors else 'not all running together'}")
                    break
                if median > 2 * baseline:
                    print(f"  slowed past 2x the first level ({median:.2f} s vs {baseline:.2f} s) at {level}")
                    break
        finally:
            if created:
                api.terminate(created)
            proc.terminate()
            proc.wait(120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
