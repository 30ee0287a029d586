"""The Markdown reports: one per scenario suite, and the index ``REPORT.md``."""

from __future__ import annotations

from pathlib import Path

from kitreport.figures import Figure
from kitreport.model import RunReport, SuiteReport, TestReport

VERDICT = {"PASS": "✅ PASS", "FAIL": "❌ FAIL", "SKIP": "⏭ SKIP", "NOT RUN": "⏭ NOT RUN"}
KEY_FIGURES = 4


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", "").replace("\n", "<br>").strip()


def fenced(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def first_paragraph(doc: str) -> str:
    return doc.strip().split("\n\n", 1)[0].replace("\n", " ").strip()


def log_link(log: str | None, anchor: str, label: str = "log") -> str:
    return f"[{label}]({log}#{anchor})" if log else label


def figures_text(figures: dict[str, Figure]) -> str:
    return "<br>".join(cell(f"{f.name} = {f.text}") for f in figures.values())


def budget_text(figure: Figure) -> str:
    return f"{figure.budget_kind} {figure.budget:g} {figure.unit}".strip() if figure.budget is not None else "—"


def resolution_text(figure: Figure) -> str:
    return f"{figure.resolution:g} {figure.unit}".strip() if figure.resolution is not None else "—"


def kit_errors_section(errors: list[str]) -> list[str]:
    """The figures that cannot judge a promise: listed as errors of the kit, not of the platform."""
    if not errors:
        return []
    return ["## Kit errors", "",
            f"{len(errors)} figure(s) cannot judge the promise they measure (every duration needs a budget, "
            "and a resolution no coarser than a tenth of it):", ""] + [f"- {cell(e)}" for e in errors] + [""]


def suite_report(suite: SuiteReport, log: str | None, plots: list[tuple[str, str]]) -> str:
    """A scenario suite's report; ``log`` is log.html's path relative to the report (None: no log)."""
    lines = [f"# {suite.name}", ""]
    if suite.documentation:
        lines += [first_paragraph(suite.documentation), ""]
    lines += [
        f"- **Verdict:** {VERDICT.get(suite.status, suite.status)} — {len(suite.tests)} tests: "
        f"{suite.passed} passed, {suite.failed} failed, {suite.skipped} skipped",
        f"- **Source:** `{suite.source}`" if suite.source else "- **Source:** (not recorded)",
        f"- **Started:** {suite.start or 'n/a'}, took {suite.elapsed:.1f} s",
        f"- **Log:** {log_link(log, suite.id, 'log.html')}" if log else "- **Log:** log.html was not written",
        "",
    ]
    if suite.setup_failure:
        lines += ["**The suite setup failed**, so its tests did not run as written:", "",
                  fenced(suite.setup_failure), ""]
    lines += ["## Tests", "", "| Test | Verdict | Time | Figures | Log |", "|---|---|---:|---|---|"]
    for test in suite.tests:
        lines.append(f"| {cell(test.name)} | {VERDICT.get(test.status, test.status)} | {test.elapsed:.1f} s | "
                     f"{figures_text(test.figures) or '—'} | {log_link(log, test.id)} |")
    lines.append("")
    figures = [(t.name, f) for t in suite.tests for f in t.figures.values()]
    figures = [("(suite)", f) for f in suite.figures.values()] + figures
    lines += ["## Measured figures", ""]
    if figures:
        lines += ["| Figure | Value | Unit | Budget | Resolution | Test |", "|---|---:|---|---|---|---|"]
        lines += [f"| {cell(f.name)} | {cell(f.value)} | {cell(f.unit)} | {cell(budget_text(f))} | "
                  f"{cell(resolution_text(f))} | {cell(where)} |" for where, f in figures]
    else:
        lines.append("This suite recorded no figures.")
    lines.append("")
    lines += kit_errors_section(suite.kit_errors())
    problems = [t for t in suite.tests if t.status in ("FAIL", "SKIP", "NOT RUN")]
    if problems:
        lines += ["## Failures and skips", ""]
        for test in problems:
            lines += [f"### {VERDICT.get(test.status, test.status)}: {test.name}", "",
                      fenced(test.failure_message or "(no message)"), "",
                      f"Details: {log_link(log, test.id, 'log.html#' + test.id)}", ""]
    if plots:
        lines += ["## Plots", ""]
        for title, path in plots:
            lines += [f"![{title}]({path})", ""]
    return "\n".join(lines).rstrip() + "\n"


def summarise(name: str, figures: list[Figure]) -> str:
    """``name = value unit``, or ``name = min–max unit (n×)`` for a figure several tests measured."""
    numbers = [f.number for f in figures if f.number is not None]
    units = {f.unit for f in figures}
    if len(figures) > 1 and len(numbers) == len(figures) and len(units) == 1:
        low, high = min(numbers), max(numbers)
        span = f"{low:g}" if low == high else f"{low:g}–{high:g}"
        return f"{name} = {span} {figures[0].unit}".rstrip() + f" ({len(figures)}×)"
    return f"{name} = {figures[-1].text}"


def key_figures(suite: SuiteReport) -> str:
    grouped: dict[str, list[Figure]] = {}
    for figure in suite.all_figures():
        grouped.setdefault(figure.name, []).append(figure)
    shown = [cell(summarise(name, figures)) for name, figures in list(grouped.items())[:KEY_FIGURES]]
    if len(grouped) > KEY_FIGURES:
        shown.append(f"… {len(grouped) - KEY_FIGURES} more")
    return "<br>".join(shown) or "—"


def index_report(run: RunReport, log: str | None, reports: dict[str, str], plots: list[tuple[str, str]]) -> str:
    tests: list[TestReport] = run.tests
    passed = sum(1 for t in tests if t.status == "PASS")
    failed = sum(1 for t in tests if t.status == "FAIL")
    skipped = len(tests) - passed - failed
    lines = [f"# Test report: {run.name}", "",
             f"**{VERDICT.get(run.status, run.status)}** — {len(run.suites)} scenario suites, {len(tests)} tests: "
             f"{passed} passed, {failed} failed, {skipped} skipped; took {run.elapsed:.1f} s.", "",
             f"Full log: {log_link(log, 's1', 'log.html')}" if log else "log.html was not written.", "",
             "| Suite | Verdict | Passed | Failed | Skipped | Key figures | Report |",
             "|---|---|---:|---:|---:|---|---|"]
    for suite in run.suites:
        lines.append(f"| {cell(suite.name)} | {VERDICT.get(suite.status, suite.status)} | {suite.passed} | "
                     f"{suite.failed} | {suite.skipped} | {key_figures(suite)} | "
                     f"[{suite.slug}]({reports[suite.slug]}) |")
    lines.append("")
    failures = [(s, t) for s in run.suites for t in s.tests if t.status == "FAIL"]
    if failures:
        lines += ["## Failed tests", ""]
        for suite, test in failures:
            message = test.failure_message.splitlines()[0] if test.failure_message else "(no message)"
            lines.append(f"- **{cell(suite.name)} / {cell(test.name)}**: {cell(message)} "
                         f"({log_link(log, test.id)})")
        lines.append("")
    lines += kit_errors_section(run.kit_errors())
    if run.errors:
        lines += ["## Execution errors and warnings", ""] + [f"- {cell(e)}" for e in run.errors[:20]] + [""]
    if plots:
        lines += ["## Plots", ""] + [f"![{title}]({path})\n" for title, path in plots]
    return "\n".join(lines).rstrip() + "\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
