"""How fast is LoadKit's load generator, what does it cost, and how fine do probes see?

    .venv/bin/python benchmarks/load_generator.py [--seconds 3] [--concurrency 1,4,8,16]

Prints:
1. the runner's own ceiling: a no-op Python operation (no I/O) -- ops/s and CPU per op;
2. the maximum HTTP request rate against a trivial local endpoint (an aiohttp server in its
   own process answering GET /health), per concurrency, with the generator's CPU use (% of one
   core), its CPU per request and the server's CPU -- so it is clear which side limits;
3. a probe's timing resolution: the check spacing an availability probe achieves at a 10 ms
   and 50 ms interval, and the downtime it measures for an outage of known length.
"""

from __future__ import annotations

import argparse
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "libraries")]

from LoadKit.operations import HttpOperation  # noqa: E402
from LoadKit.runner import run_load  # noqa: E402
from LoadKit.summary import summarise  # noqa: E402
from ProbesKit.probes.availability import AvailabilityProbe  # noqa: E402

SERVER = ROOT / "tests" / "acceptance" / "test_environmentkit_servers.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(SERVER), "http", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the benchmark server did not start") from None
            time.sleep(0.02)


def kill(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def runner_ceiling(seconds: float) -> None:
    count = 20_000
    result = run_load(lambda: None, count=count, concurrency=4)
    s = summarise(result)
    print(f"runner ceiling (no-op operation, 4 threads): {s['throughput_per_s']:,.0f} ops/s, "
          f"{s['client_cpu_per_op_ms'] * 1000:.1f} us CPU per op")


def http_rate(port: int, server: subprocess.Popen, levels: list[int], seconds: float) -> None:
    url = f"http://127.0.0.1:{port}/health"
    server_proc = psutil.Process(server.pid)
    print(f"\nHTTP GET /health against a one-process aiohttp server ({psutil.cpu_count()} cores):")
    print(f"{'conc':>5} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'client CPU %':>12} "
          f"{'CPU/req us':>10} {'server CPU %':>12}")
    for level in levels:
        op = HttpOperation("GET", url, pool_size=level)
        run_load(op, count=200, concurrency=level)  # warm up connections
        probe = summarise(run_load(op, count=500, concurrency=level))
        count = max(500, int(probe["throughput_per_s"] * seconds))
        server_proc.cpu_percent(None)
        s = summarise(run_load(op, count=count, concurrency=level))
        server_cpu = server_proc.cpu_percent(None)
        print(f"{level:>5} {s['throughput_per_s']:>8,.0f} {s['p50_ms']:>7.2f} {s['p99_ms']:>7.2f} {s['failed']:>6} "
              f"{s['client_cpu_percent']:>12.0f} {s['client_cpu_per_op_ms'] * 1000:>10.0f} {server_cpu:>12.0f}")
        op.pool.clear()
    print("(a side near 100 % CPU of one core is the limit; Python threads share one core's worth of GIL)")


def probe_resolution(port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    print("\nprobe timing resolution (availability probe, one URL):")
    for interval in (0.01, 0.05):
        probe = AvailabilityProbe("bench", [url], interval=interval, timeout=1.0, max_duration=60)
        probe.start()
        time.sleep(1.5)
        probe.stop()
        starts = [t for t, _ in probe.checkers[0].series()]
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        print(f"  interval {interval * 1000:.0f} ms: {len(starts)} checks in 1.5 s, spacing median "
              f"{statistics.median(gaps) * 1000:.1f} ms, max {max(gaps) * 1000:.1f} ms")


def measured_outage(port: int, server: subprocess.Popen, outage: float = 0.5) -> subprocess.Popen:
    url = f"http://127.0.0.1:{port}"
    probe = AvailabilityProbe("outage", [url], interval=0.01, timeout=0.5, max_duration=60)
    probe.start()
    time.sleep(0.3)
    down = time.monotonic()
    kill(server)
    time.sleep(outage)
    server = start_server(port)
    up = time.monotonic()  # the server accepts connections again
    time.sleep(0.3)
    report = probe.stop()
    actual = up - down
    print(f"  outage of {actual * 1000:.0f} ms (kill -> accepting again) measured as "
          f"{report['downtime'] * 1000:.0f} ms downtime (difference {abs(report['downtime'] - actual) * 1000:.0f} ms, "
          f"{report['outages']} outage)")
    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each HTTP step")
    parser.add_argument("--concurrency", default="1,4,8,16")
    args = parser.parse_args()
    runner_ceiling(args.seconds)
    port = free_port()
    server = start_server(port)
    try:
        http_rate(port, server, [int(c) for c in args.concurrency.split(",")], args.seconds)
        probe_resolution(port)
        server = measured_outage(port, server)
    finally:
        kill(server)


if __name__ == "__main__":
    main()
