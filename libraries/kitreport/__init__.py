"""Reports for people and CI from a Robot Framework run's ``output.xml``.

``python -m kitreport [results/output.xml]`` writes, next to ``output.xml``:

- ``report-<suite>.md`` -- one Markdown report per scenario suite: what ran, the verdict of
  each test, the figures it measured, failures with their message, links into ``log.html``;
- ``REPORT.md`` -- an index across scenarios (suite, passed/failed, key figures);
- ``plots/*.png`` -- charts where a picture reads better than a table (figures per suite,
  recovery timelines, figures per concurrency step);
- ``junit.xml`` -- JUnit XML with each measured figure as a ``<property>`` of its test case
  (and suite), read by CI tools.

Figures follow the kit's convention (``resources/figures.resource``): a line
``figure <name> = <value> <unit>`` in the test's message and, with the same text, as an INFO
message in the log. Both are read, so figures survive a failed test (whose message is the
failure) and a run with ``--removekeywords`` (which drops the log messages).
"""

from __future__ import annotations

from kitreport.figures import Figure, parse_figure_lines
from kitreport.generate import ReportPaths, generate
from kitreport.model import RunReport, SuiteReport, TestReport, read_output

__all__ = ["Figure", "ReportPaths", "RunReport", "SuiteReport", "TestReport", "generate", "parse_figure_lines",
           "read_output"]
