"""ProbesKit's figures from observations: downtime windows, any-replica merge, gaps."""

from __future__ import annotations

import pytest

from kitcore.stats import percentile
from ProbesKit.probes.windows import downtime_windows, longest_gap, merge_any_up, summarise


def test_no_failure_means_no_window():
    assert downtime_windows([(0.0, True), (0.1, True), (0.2, True)]) == []
    assert summarise([]) == {"downtime": 0.0, "longest_downtime": 0.0, "outages": 0}


def test_window_runs_from_first_failure_to_first_success():
    samples = [(0.0, True), (0.1, False), (0.2, False), (0.3, True), (0.4, False), (0.9, True)]
    windows = downtime_windows(samples)
    assert [(w.start, w.end, w.open) for w in windows] == [(0.1, 0.3, False), (0.4, 0.9, False)]
    figures = summarise(windows)
    assert figures["downtime"] == pytest.approx(0.7)
    assert figures["longest_downtime"] == pytest.approx(0.5)
    assert figures["outages"] == 2


def test_a_window_still_open_at_the_end_is_marked():
    windows = downtime_windows([(0.0, True), (0.5, False), (1.0, False)])
    assert len(windows) == 1 and windows[0].open and windows[0].seconds == pytest.approx(0.5)


def test_samples_out_of_order_are_sorted():
    assert downtime_windows([(0.3, True), (0.1, False), (0.0, True)])[0].start == 0.1


def test_service_is_up_while_any_replica_answers():
    series = {
        "a": [(0.0, True), (0.2, False), (0.4, False), (0.6, True)],
        "b": [(0.1, True), (0.3, True), (0.5, True)],
    }
    assert downtime_windows(merge_any_up(series)) == []
    series["b"] = [(0.1, True), (0.3, False), (0.5, False), (0.7, True)]
    windows = downtime_windows(merge_any_up(series))
    assert [(w.start, w.end) for w in windows] == [(0.3, 0.6)]


def test_longest_gap_counts_the_edges():
    assert longest_gap([0.1, 0.2, 0.9], 0.0, 1.0) == pytest.approx(0.7)
    assert longest_gap([], 0.0, 2.0) == 2.0


def test_percentile():
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert percentile([], 95) == 0.0
