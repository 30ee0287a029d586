"""The leak check of the reliability tests (:class:`conftest.Snapshot`): a file a finishing thread holds for a
moment is not a leak; one that stays open is, named by what it is."""

from __future__ import annotations

import threading
from pathlib import Path

from .conftest import Snapshot


def test_a_file_held_for_a_moment_is_not_a_leak(tmp_path: Path) -> None:
    before = Snapshot(tmp_path)
    opened, done = threading.Event(), threading.Event()

    def hold() -> None:
        with open(__file__, "rb"):
            opened.set()
            done.wait(0.5)  # a thread just finishing its work

    worker = threading.Thread(target=hold)
    worker.start()
    opened.wait(5)
    assert Snapshot(tmp_path).settled_leaks_since(before) == []
    worker.join(5)


def test_a_file_left_open_is_a_leak(tmp_path: Path) -> None:
    before = Snapshot(tmp_path)
    with open(__file__, "rb"):
        left = Snapshot(tmp_path).settled_leaks_since(before, settle=0.5)
    assert len(left) == 1 and __file__ in left[0] and "1 more open file descriptors" in left[0], left


def test_a_file_dropped_in_a_reference_cycle_is_not_a_leak(tmp_path: Path) -> None:
    """Only the garbage collector closes it: each look collects what was made since the last one."""
    before = Snapshot(tmp_path)
    holder: dict[str, object] = {"file": open(__file__, "rb")}  # noqa: SIM115 - closed by the collector
    holder["self"] = holder
    del holder
    assert Snapshot(tmp_path).settled_leaks_since(before) == []


def test_a_file_held_in_a_cycle_made_before_the_first_look_is_not_counted_twice(tmp_path: Path) -> None:
    """An object frozen by an earlier look and dropped since keeps its file until a full collection: the
    count before and after is the same, and a file opened meanwhile is still a leak."""
    holder: dict[str, object] = {"file": open(__file__, "rb")}  # noqa: SIM115 - closed by the collector
    holder["self"] = holder
    before = Snapshot(tmp_path)
    del holder
    with open(__file__, "rb"):
        left = Snapshot(tmp_path).settled_leaks_since(before, settle=0.5)
    assert len(left) == 1 and __file__ in left[0], left
