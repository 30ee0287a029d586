"""Plots of load runs and resource samples: PNG files under the output folder, embedded in log.html."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from robot.libraries.BuiltIn import BuiltIn, RobotNotRunningError

from kitcore.logging import log_png
from LoadKit.runner import Sample


def output_dir(folder_name: str = "plots") -> Path:
    """``plots/`` (or ``folder_name``) under Robot's output folder (where every picture of a run goes), else
    under ``results/``."""
    try:
        folder = BuiltIn().get_variable_value("${OUTPUT DIR}")
    except RobotNotRunningError:
        folder = None
    path = (Path(folder) if folder else Path("results")) / folder_name
    path.mkdir(parents=True, exist_ok=True)
    return path


def _test_name() -> str:
    """The running test's name (a plot's file name starts with it: the same load level in two tests
    makes two files that say which test drew them), or nothing outside a test."""
    try:
        return str(BuiltIn().get_variable_value("${TEST NAME}") or "")
    except RobotNotRunningError:
        return ""


def run_folder_name(label: str) -> str:
    """A folder name for one run's files that says which test made them, new in ``locust/`` each time."""
    test = _test_name()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{test} {label}" if test else label).strip("-").lower()[:80] or "load"
    folder = output_dir("locust")
    name, number = safe, 1
    while (folder / name).exists():
        number += 1
        name = f"{safe}-{number}"
    return name


def _figure(width: float = 8, height: float = 3.6) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    return pyplot.subplots(figsize=(width, height), dpi=90)


def _save(fig: Any, title: str, stem: str) -> Path:
    from matplotlib import pyplot

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    pyplot.close(fig)
    png = buffer.getvalue()
    test = _test_name()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{test} {stem}" if test else stem).strip("-").lower() or "plot"
    folder = output_dir()
    path = folder / f"{safe}.png"
    number = 1
    while path.exists():
        number += 1
        path = folder / f"{safe}-{number}.png"
    path.write_bytes(png)
    log_png(f"{title} (saved as {path.name})", png, width=720)
    return path


def plot_latency(samples: Sequence[Sample], name: str) -> Path:
    """Latency over time; failed calls in red at the bottom."""
    fig, axes = _figure()
    good = [s for s in samples if s.ok]
    bad = [s for s in samples if not s.ok]
    axes.scatter([s.start for s in good], [s.latency * 1000 for s in good], s=4, label="ok")
    if bad:
        axes.scatter([s.start for s in bad], [0 for _ in bad], s=8, color="red", marker="x", label="error")
    axes.set_xlabel("time since start (s)")
    axes.set_ylabel("latency (ms)")
    axes.set_title(f"{name}: latency over time")
    axes.legend(loc="upper right")
    return _save(fig, f"Latency over time: {name}", f"load-{name}-latency")


def plot_steps(steps: Sequence[dict[str, Any]], name: str) -> Path:
    """Throughput (bars) and p95 latency (line) per concurrency step."""
    fig, axes = _figure()
    labels = [str(s["concurrency"]) for s in steps]
    axes.bar(labels, [s["success_throughput_per_s"] for s in steps], color="tab:blue")
    axes.set_xlabel("concurrency")
    axes.set_ylabel("successful ops/s", color="tab:blue")
    twin = axes.twinx()
    twin.plot(labels, [s["p95_ms"] for s in steps], color="tab:orange", marker="o")
    twin.set_ylabel("p95 latency (ms)", color="tab:orange")
    axes.set_title(f"{name}: throughput per concurrency step")
    return _save(fig, f"Throughput per concurrency step: {name}", f"load-{name}-steps")


def plot_resources(series: dict[str, list[tuple[float, float]]], ylabel: str, name: str) -> Path:
    fig, axes = _figure()
    for label, points in series.items():
        axes.plot([p[0] for p in points], [p[1] for p in points], label=label)
    axes.set_xlabel("time since start (s)")
    axes.set_ylabel(ylabel)
    axes.set_title(f"{name}: {ylabel}")
    if series:
        axes.legend(loc="upper right", fontsize="small")
    return _save(fig, f"{ylabel}: {name}", f"resources-{name}-{ylabel}")
