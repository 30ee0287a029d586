"""Charts (matplotlib, Agg backend: no display needed) where a picture reads better than a table."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kitreport.figures import Figure, concurrency_series, recovery_figures
from kitreport.model import RunReport, SuiteReport

COLOURS = {"PASS": "#2e7d32", "FAIL": "#c62828", "SKIP": "#9e9e9e"}
MAX_BARS = 30


def _pyplot():  # noqa: ANN202 - matplotlib's module
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig: object, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)  # type: ignore[attr-defined]
    _pyplot().close(fig)
    return path


def _numeric(rows: Sequence[tuple[str, Figure]]) -> list[tuple[str, Figure]]:
    return [(label, f) for label, f in rows if f.number is not None][:MAX_BARS]


def figures_chart(suite: SuiteReport, path: Path) -> Path | None:
    """Horizontal bars of a suite's numeric figures (one per test that measured it), one panel per unit."""
    rows = _numeric(suite.labelled_figures())
    if not rows:
        return None
    first_seen = {f.name: i for i, (_, f) in reversed(list(enumerate(rows)))}
    rows.sort(key=lambda row: first_seen[row[1].name])  # stable: one figure's measurements side by side
    units: dict[str, list[tuple[str, Figure]]] = {}
    for label, figure in rows:
        units.setdefault(figure.unit or "(no unit)", []).append((label, figure))
    plt = _pyplot()
    heights = [max(1.8, 0.45 * len(v) + 1.0) for v in units.values()]
    fig, axes = plt.subplots(len(units), 1, figsize=(8, sum(heights)), squeeze=False, layout="constrained",
                             gridspec_kw={"height_ratios": heights})
    for ax, (unit, group) in zip(axes[:, 0], units.items(), strict=True):
        names = [label for label, _ in group]
        values = [f.number or 0.0 for _, f in group]
        bars = ax.barh(names, values, color="#1565c0")
        ax.bar_label(bars, labels=[f"{v:g}" for v in values], padding=3, fontsize=8)
        ax.set_xlabel(unit)
        if values and min(values) >= 0 and max(values) == 0:
            ax.set_xlim(0, 1)  # all zero (nothing lost): show the bars' baseline, not a symmetric axis
        ax.invert_yaxis()
        ax.margins(x=0.15)
    axes[0, 0].set_title(f"{suite.name}: measured figures")
    return _save(fig, path)


def timeline_chart(suite: SuiteReport, path: Path) -> Path | None:
    """Seconds from the fault until each recovery step, as a timeline starting at the fault."""
    recovery = {id(f) for f in recovery_figures(suite.all_figures())}
    rows = [(label, f) for label, f in _numeric(suite.labelled_figures()) if id(f) in recovery]
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, max(2.6, 0.5 * len(rows) + 1.6)), layout="constrained")
    for row, (_, figure) in enumerate(rows):
        value = figure.number or 0.0
        ax.hlines(row, 0, value, colors="#ef6c00", linewidth=6)
        ax.plot([value], [row], marker="|", markersize=14, color="#e65100")
        ax.annotate(f"{value:g} s", (value, row), xytext=(6, -3), textcoords="offset points", fontsize=8)
    ax.axvline(0, color="#c62828", linestyle="--")
    ax.annotate(" fault", (0, 1), xycoords=("data", "axes fraction"), va="top", color="#c62828", fontsize=8)
    ax.set_yticks(range(len(rows)), [label for label, _ in rows])
    ax.set_xlabel("seconds after the fault")
    ax.set_xlim(left=0)
    ax.margins(x=0.15)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_title(f"{suite.name}: recovery timeline")
    return _save(fig, path)


def concurrency_chart(suite: SuiteReport, path: Path) -> Path | None:
    """One line per figure measured at several concurrency steps."""
    series = concurrency_series(suite.all_figures())
    if not series:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(len(series), 1, figsize=(7, 2.6 * len(series)), squeeze=False, layout="constrained")
    for ax, (base, points) in zip(axes[:, 0], series.items(), strict=True):
        steps = [step for step, _ in points]
        values = [figure.number or 0.0 for _, figure in points]
        ax.plot(steps, values, marker="o", color="#6a1b9a")
        unit = points[0][1].unit
        ax.set_ylabel(f"{base}" + (f" ({unit})" if unit else ""), fontsize=8)
        ax.set_xlabel("concurrency")
        ax.set_xticks(steps)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title(f"{suite.name}: figures per concurrency step")
    return _save(fig, path)


def verdicts_chart(run: RunReport, path: Path) -> Path | None:
    """Passed / failed / skipped tests per suite, stacked; only for two suites or more (the chart compares
    suites: one suite's verdicts read as well from the report's table, and a run of one suite without
    figures then loads no plotting library, half a CPU-second)."""
    if len(run.suites) < 2:
        return None
    plt = _pyplot()
    names = [s.name for s in run.suites]
    fig, ax = plt.subplots(figsize=(8, max(2.6, 0.45 * len(names) + 1.6)), layout="constrained")
    left = [0.0] * len(names)
    for status, label in (("PASS", "passed"), ("FAIL", "failed"), ("SKIP", "skipped")):
        counts = [float(s.passed if status == "PASS" else s.failed if status == "FAIL" else s.skipped)
                  for s in run.suites]
        ax.barh(names, counts, left=left, color=COLOURS[status], label=label)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.set_xlabel("tests")
    ax.invert_yaxis()
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Verdicts per suite")
    return _save(fig, path)
