"""Runs on one machine at the same time: a resource another run took a moment ago is not fatal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from environments.local import vnc_server
from environments.local.vnc_server import VncServer


def test_a_display_taken_by_another_run_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two runs that look for a free X display at the same moment both see the same one; the one
    that loses must move on to the next display, and must leave the winner's lock file alone."""
    winner = VncServer(tmp_path / "winner", name="winner").start()
    try:
        real = vnc_server.free_display
        calls: list[int] = []

        def racing(skip: tuple[int, ...] | set[int] = ()) -> int:
            calls.append(len(calls))
            return winner.display if len(calls) == 1 else real(skip)  # first answer: the race's loser

        monkeypatch.setattr(vnc_server, "free_display", racing)
        loser = VncServer(tmp_path / "loser", name="loser").start()
        try:
            assert loser.display != winner.display and len(calls) == 2
            assert loser.process.running()
        finally:
            loser.stop()
        assert os.path.exists(f"/tmp/.X{winner.display}-lock"), "the loser removed the winner's lock file"
        assert winner.process.running()
    finally:
        winner.stop()


def test_a_display_whose_server_lost_its_lock_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An X server runs on a display whose lock file and socket file are gone (removed by mistake): the display
    looks free, a new server takes the lock but cannot listen ("server already running", the abstract socket is
    held). The new server must move on to the next display, and leave the running one alone."""
    holder = VncServer(tmp_path / "holder", name="holder").start()
    try:
        for path in (f"/tmp/.X{holder.display}-lock", f"/tmp/.X11-unix/X{holder.display}"):
            os.remove(path)
        real, calls = vnc_server.free_display, []

        def looks_free(skip: tuple[int, ...] | set[int] = ()) -> int:
            calls.append(skip)
            return holder.display if len(calls) == 1 else real(skip)  # the display without its files

        monkeypatch.setattr(vnc_server, "free_display", looks_free)
        late = VncServer(tmp_path / "late", name="late").start()
        try:
            assert late.display != holder.display and late.process.running()
        finally:
            late.stop()
        assert holder.process.running()
    finally:
        holder.stop()
