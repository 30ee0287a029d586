"""JUnit XML for CI: one ``<testsuite>`` per scenario suite, figures as ``<properties>``."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from kitreport.figures import Figure
from kitreport.model import RunReport, SuiteReport, TestReport

INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
MESSAGE_ATTR_MAX = 500


def clean(text: str) -> str:
    """Text that XML 1.0 can carry (control characters dropped)."""
    return INVALID_XML.sub("", text)


def _properties(parent: ET.Element, figures: list[Figure], extra: dict[str, str] | None = None) -> None:
    if not figures and not extra:
        return
    properties = ET.SubElement(parent, "properties")
    for name, value in (extra or {}).items():
        ET.SubElement(properties, "property", name=name, value=clean(value))
    for figure in figures:
        ET.SubElement(properties, "property", name=clean(figure.name), value=clean(figure.text))
        if figure.budget is not None:
            ET.SubElement(properties, "property", name=clean(f"{figure.name} budget"),
                          value=clean(f"{figure.budget_kind} {figure.budget:g} {figure.unit}".strip()))
        if figure.resolution is not None:
            ET.SubElement(properties, "property", name=clean(f"{figure.name} resolution"),
                          value=clean(f"{figure.resolution:g} {figure.unit}".strip()))


def _testcase(parent: ET.Element, suite: SuiteReport, test: TestReport, log: str | None) -> None:
    case = ET.SubElement(parent, "testcase", classname=clean(suite.longname), name=clean(test.name),
                         time=f"{test.elapsed:.3f}")
    _properties(case, list(test.figures.values()))
    message = test.failure_message or test.message
    first = (message.splitlines() or [""])[0][:MESSAGE_ATTR_MAX]
    if test.status == "FAIL":
        failure = ET.SubElement(case, "failure", message=clean(first), type="AssertionError")
        failure.text = clean(message)
    elif test.status in ("SKIP", "NOT RUN"):
        ET.SubElement(case, "skipped", message=clean(first))
    lines = [f"figure {f.name} = {f.text}" for f in test.figures.values()]  # also for readers that skip properties
    if log:
        lines.append(f"log: {log}#{test.id}")
    if lines:
        ET.SubElement(case, "system-out").text = clean("\n".join(lines))


def junit_tree(run: RunReport, log: str | None) -> ET.ElementTree:
    # <testsuites> carries only the attributes every JUnit schema allows (skips are counted per suite)
    root = ET.Element("testsuites", name=clean(run.name), tests=str(len(run.tests)),
                      failures=str(sum(s.failed for s in run.suites)), errors="0", time=f"{run.elapsed:.3f}")
    for suite in run.suites:
        attrs = {"name": clean(suite.longname), "tests": str(len(suite.tests)), "failures": str(suite.failed),
                 "errors": "0", "skipped": str(suite.skipped), "time": f"{suite.elapsed:.3f}"}
        if suite.start:
            attrs["timestamp"] = suite.start
        element = ET.SubElement(root, "testsuite", attrs)
        extra = {"source": suite.source} if suite.source else {}
        for number, error in enumerate(suite.kit_errors(), start=1):
            extra[f"kit error {number}"] = error
        _properties(element, suite.all_figures(), extra)
        for test in suite.tests:
            _testcase(element, suite, test, log)
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(run: RunReport, path: Path, log: str | None) -> Path:
    junit_tree(run, log).write(path, encoding="utf-8", xml_declaration=True)
    return path
