"""The local stack for a test module: started by EnvironmentKit's local driver (the supervisor as a
program, its topology read from a pipe, its log tail in the failure) and stopped after the module."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from EnvironmentKit.drivers import LocalDriver

REPO = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def local_stack(work: Path, timeout: float = 180.0, **counts: int) -> Iterator[dict[str, Any]]:
    """A running local stack's topology (credentials included); ``counts``: ``api_replicas``,
    ``k8s_agents``, ``docker_agents``. Component logs and the supervisor's log go to ``work``."""
    driver = LocalDriver(**counts, extra_args=["--results", str(work / "results")], log_dir=work, cwd=REPO)
    try:
        yield driver.start(timeout).data
    finally:
        driver.stop(60.0)
