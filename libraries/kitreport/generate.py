"""Write every report for one run: Markdown per suite, the index, plots and JUnit XML."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from kitcore import KitError
from kitreport import markdown, plots
from kitreport.junit import write_junit
from kitreport.model import RunReport, read_output

PLOTS_DIR = "plots"


@dataclass
class ReportPaths:
    """What :func:`generate` wrote."""

    index: Path
    junit: Path
    suites: dict[str, Path] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kit_errors: list[str] = field(default_factory=list)


def _remove_stale(outdir: Path) -> None:
    """Reports and plots of an earlier run (only the files this generator names)."""
    for old in outdir.glob("report-*.md"):
        old.unlink(missing_ok=True)
    plots_dir = outdir / PLOTS_DIR
    if plots_dir.is_dir():
        for old in plots_dir.glob("*.png"):
            old.unlink(missing_ok=True)


def _log_reference(outdir: Path, log: Path | None) -> str | None:
    if log is None or not log.is_file():
        return None
    return Path(os.path.relpath(log, outdir)).as_posix()


def _suite_plots(run: RunReport, outdir: Path, paths: ReportPaths) -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for suite in run.suites:
        found[suite.slug] = []
        for title, make, suffix in (("Measured figures", plots.figures_chart, "figures"),
                                    ("Recovery timeline", plots.timeline_chart, "timeline"),
                                    ("Figures per concurrency step", plots.concurrency_chart, "concurrency")):
            target = outdir / PLOTS_DIR / f"{suite.slug}-{suffix}.png"
            try:
                written = make(suite, target)
            except Exception as error:  # noqa: BLE001 - a chart must never cost the reports
                paths.warnings.append(f"plot {target.name} was not drawn: {type(error).__name__}: {error}")
                continue
            if written is not None:
                paths.plots.append(written)
                found[suite.slug].append((title, f"{PLOTS_DIR}/{written.name}"))
    return found


def generate(output: str | Path = "results/output.xml", outdir: str | Path | None = None,
             log: str | Path | None = None, draw: bool = True) -> ReportPaths:
    """Read ``output`` and write the reports into ``outdir`` (default: next to ``output``).

    ``log`` is the log.html to link to (default: ``log.html`` next to ``output``).
    Raises KitError (naming the file and the fix) when the reports cannot be written.
    """
    run = read_output(output)
    target = Path(outdir) if outdir is not None else Path(output).parent
    try:
        target.mkdir(parents=True, exist_ok=True)
        _remove_stale(target)
    except OSError as error:
        raise KitError(f"Cannot write reports into '{target}'", cause=str(error),
                       fix="make the folder writable or give another one with --outdir") from None
    log_ref = _log_reference(target, Path(log) if log else Path(output).parent / "log.html")
    paths = ReportPaths(index=target / "REPORT.md", junit=target / "junit.xml", kit_errors=run.kit_errors())
    if log_ref is None:
        paths.warnings.append("no log.html next to output.xml: the reports carry no log links")
    suite_plots = _suite_plots(run, target, paths) if draw else {s.slug: [] for s in run.suites}
    index_plots: list[tuple[str, str]] = []
    if draw and run.suites:
        try:
            chart = plots.verdicts_chart(run, target / PLOTS_DIR / "verdicts.png")
        except Exception as error:  # noqa: BLE001
            paths.warnings.append(f"plot verdicts.png was not drawn: {type(error).__name__}: {error}")
        else:
            if chart is not None:
                paths.plots.append(chart)
                index_plots.append(("Verdicts per suite", f"{PLOTS_DIR}/{chart.name}"))
    try:
        reports: dict[str, str] = {}
        for suite in run.suites:
            file = target / f"report-{suite.slug}.md"
            markdown.write(file, markdown.suite_report(suite, log_ref, suite_plots[suite.slug]))
            paths.suites[suite.slug] = file
            reports[suite.slug] = file.name
        markdown.write(paths.index, markdown.index_report(run, log_ref, reports, index_plots))
        write_junit(run, paths.junit, log_ref)
    except OSError as error:
        raise KitError(f"Cannot write reports into '{target}'", cause=str(error),
                       fix="make the folder writable (and not full) or give another one with --outdir") from None
    return paths
