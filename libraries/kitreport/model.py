"""A run's results as the reports need them, read with Robot Framework's result API."""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from robot.api import ExecutionResult, ResultVisitor
from robot.errors import DataError
from robot.result import Message, TestCase, TestSuite

from kitcore import KitError
from kitreport.figures import Figure, kit_errors, merge, parse_figure, parse_figure_lines

FIGURE_LEVELS = ("INFO", "WARN")


@dataclass
class TestReport:
    """One test: verdict, message, figures and its anchor in log.html (``s1-s2-t3``)."""

    id: str
    name: str
    status: str
    message: str
    elapsed: float
    tags: list[str]
    documentation: str
    figures: dict[str, Figure] = field(default_factory=dict)

    @property
    def failure_message(self) -> str:
        """The message without figure lines (what went wrong, for a failed or skipped test)."""
        return "\n".join(line for line in self.message.splitlines() if parse_figure(line) is None).strip()


@dataclass
class SuiteReport:
    """One scenario suite (a suite with tests of its own)."""

    id: str
    name: str
    longname: str
    source: str
    slug: str
    status: str
    documentation: str
    elapsed: float
    start: str
    tests: list[TestReport]
    figures: dict[str, Figure] = field(default_factory=dict)
    setup_failure: str = ""

    def count(self, status: str) -> int:
        return sum(1 for t in self.tests if t.status == status)

    @property
    def passed(self) -> int:
        return self.count("PASS")

    @property
    def failed(self) -> int:
        return self.count("FAIL")

    @property
    def skipped(self) -> int:
        return self.count("SKIP") + self.count("NOT RUN")

    def labelled_figures(self) -> list[tuple[str, Figure]]:
        """Every figure with a chart label: its name, plus ``(test N)`` when several tests measured it."""
        rows = [("suite", f) for f in self.figures.values()]
        rows += [(f"test {t.id.rsplit('-t', 1)[-1]}", f) for t in self.tests for f in t.figures.values()]
        counts = Counter(f.name for _, f in rows)
        return [(f.name if counts[f.name] == 1 else f"{f.name} ({where})", f) for where, f in rows]

    def kit_errors(self) -> list[str]:
        """Figures unfit to judge a promise (no budget, no resolution, too coarse), with their test."""
        errors = [f"(suite): {e}" for f in self.figures.values() for e in kit_errors(f)]
        errors += [f"{t.name}: {e}" for t in self.tests for f in t.figures.values() for e in kit_errors(f)]
        return errors

    def all_figures(self) -> list[Figure]:
        """Suite-level figures then every test's, in order (a name may appear per test)."""
        figures = list(self.figures.values())
        for test in self.tests:
            figures += list(test.figures.values())
        return figures


@dataclass
class RunReport:
    source: Path
    name: str
    status: str
    elapsed: float
    suites: list[SuiteReport]
    errors: list[str]

    @property
    def tests(self) -> list[TestReport]:
        return [t for s in self.suites for t in s.tests]

    def kit_errors(self) -> list[str]:
        """Every suite's figures that are unfit to judge a promise, named by suite and test."""
        return [f"{s.name} / {e}" for s in self.suites for e in s.kit_errors()]


class _FigureMessages(ResultVisitor):
    """Collects figure lines from log messages (keywords, control structures, setup, teardown)."""

    def __init__(self) -> None:
        self.figures: list[Figure] = []

    def visit_message(self, msg: Message) -> None:
        if msg.level in FIGURE_LEVELS and not msg.html:
            self.figures += parse_figure_lines(msg.message)


def _messages_figures(item: TestCase | TestSuite, suite_fixtures_only: bool = False) -> list[Figure]:
    visitor = _FigureMessages()
    if suite_fixtures_only and isinstance(item, TestSuite):
        for fixture in (item.setup, item.teardown):
            if fixture:
                fixture.visit(visitor)
    else:
        item.visit(visitor)
    return visitor.figures


def slug_for(suite: TestSuite) -> str:
    """``01_multi_replica_api`` for suites/01_multi_replica_api.robot; a cleaned name otherwise."""
    if suite.source and Path(suite.source).is_file():
        return Path(suite.source).stem
    if suite.source and Path(suite.source).suffix in (".robot", ".txt", ".resource", ".rst"):
        return Path(suite.source).stem
    cleaned = "".join(c.lower() if c.isalnum() else "_" for c in suite.name).strip("_")
    return cleaned or suite.id


def _relative(source: object) -> str:
    if not source:
        return ""
    path = Path(str(source))
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _test_report(test: TestCase) -> TestReport:
    # log messages first, then the message lines (the test's final word) win
    figures = merge(_messages_figures(test), parse_figure_lines(test.message))
    return TestReport(id=test.id, name=test.name, status=test.status, message=test.message or "",
                      elapsed=test.elapsed_time.total_seconds(), tags=list(test.tags),
                      documentation=test.doc or "", figures=figures)


def _suite_report(suite: TestSuite, slug: str) -> SuiteReport:
    metadata = [parse_figure(f"{key} = {value}") for key, value in suite.metadata.items()
                if key.lower().startswith("figure ")]
    test_figure_names = {name for t in suite.tests for name in _test_figure_names(t)}
    suite_level = merge(_messages_figures(suite, suite_fixtures_only=True),
                        [f for f in metadata if f is not None and f.name not in test_figure_names])
    setup_failure = suite.setup.message if suite.setup and suite.setup.status == "FAIL" else ""
    return SuiteReport(id=suite.id, name=suite.name, longname=suite.full_name, source=_relative(suite.source),
                       slug=slug, status=suite.status, documentation=suite.doc or "",
                       elapsed=suite.elapsed_time.total_seconds(),
                       start=suite.start_time.isoformat(timespec="seconds") if suite.start_time else "",
                       tests=[_test_report(t) for t in suite.tests], figures=suite_level,
                       setup_failure=setup_failure)


def _test_figure_names(test: TestCase) -> set[str]:
    return {f.name for f in parse_figure_lines(test.message)} | {f.name for f in _messages_figures(test)}


def _scenario_suites(suite: TestSuite) -> list[TestSuite]:
    found = [suite] if suite.tests else []
    for child in suite.suites:
        found += _scenario_suites(child)
    return found


def read_output(path: str | Path) -> RunReport:
    """Read ``output.xml``; a missing or unreadable file raises a KitError naming the file and the fix."""
    source = Path(path)
    if not source.is_file():
        raise KitError(f"Cannot write reports from '{source}'",
                       cause="the file does not exist" if not source.exists() else "it is not a file",
                       fix="run the suites first (./kit run writes results/output.xml) or give the path of a "
                           "Robot Framework output.xml: python -m kitreport path/to/output.xml")
    try:
        result = ExecutionResult(str(source))
    except DataError as error:
        raise KitError(f"Cannot read '{source}' as Robot Framework output",
                       cause=str(error).replace("\n", " "),
                       fix="give the output.xml of a finished run; a run that was killed leaves it incomplete -- "
                           "run the suites again, or rebuild it from parts with 'rebot --output output.xml'") from None
    top = result.suite
    slugs: dict[str, int] = {}
    suites = []
    for suite in _scenario_suites(top):
        slug = slug_for(suite)
        slugs[slug] = slugs.get(slug, 0) + 1
        if slugs[slug] > 1:  # two suites with the same file stem in different folders
            slug = f"{slug}_{slugs[slug]}"
        suites.append(_suite_report(suite, slug))
    errors = [f"{m.level}: {m.message}" for m in result.errors.messages if m.level in ("ERROR", "WARN")]
    return RunReport(source=source, name=top.name, status=top.status, elapsed=top.elapsed_time.total_seconds(),
                     suites=suites, errors=errors)
