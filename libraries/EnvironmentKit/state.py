"""The environment in use by this test run, shared by EnvironmentKit, ChaosKit and others.

Robot Framework makes one instance per library import; the running environment is one per
process, so it lives here at module level.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from EnvironmentKit.drivers import EnvironmentDriver, create_driver
from EnvironmentKit.topology import Topology
from kitcore import KitError

TOPOLOGY_ENV_VAR = "KIT_TOPOLOGY"
#: set (to 1) by a parallel run whose processes all attach to one environment (EnvironmentKit.parallel)
SHARED_ENV_VAR = "KIT_SHARED_ENVIRONMENT"


@dataclass
class ActiveEnvironment:
    driver: EnvironmentDriver
    topology: Topology
    attached: bool
    #: the environment this one stands in for while a suite runs on an environment of its own
    previous: ActiveEnvironment | None = None


def shared() -> bool:
    """True in a parallel run, where every process attached to one environment (``KIT_SHARED_ENVIRONMENT``)."""
    return os.environ.get(SHARED_ENV_VAR, "") not in ("", "0")


_lock = threading.Lock()
_current: ActiveEnvironment | None = None


def current() -> ActiveEnvironment | None:
    return _current


def set_current(active: ActiveEnvironment | None) -> None:
    global _current  # one environment per process
    with _lock:
        _current = active


def require_driver() -> EnvironmentDriver:
    """The driver of the running environment; attaches to ``$KIT_TOPOLOGY`` when set."""
    active = _current
    if active is None:
        path = os.environ.get(TOPOLOGY_ENV_VAR)
        if path:
            active = attach_file(path)
        else:
            raise KitError("No test environment is running",
                           cause="'Start Test Environment' was not called in this run",
                           fix=f"call 'Start Test Environment' in the suite setup, or set {TOPOLOGY_ENV_VAR} "
                               "to the topology file of a stack started with './kit stack'")
    return active.driver


def load_topology_file(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    try:
        data = json.loads(file.read_text())
    except OSError as error:
        raise KitError(f"Cannot read the topology file '{path}'", cause=str(error),
                       fix="start the stack with './kit stack' and give the path of the topology it wrote") from None
    except ValueError as error:
        raise KitError(f"The topology file '{path}' is not JSON", cause=str(error),
                       fix="give the file the stack wrote with --ready-file") from None
    if not isinstance(data, dict):
        raise KitError(f"The topology file '{path}' is not a JSON object", fix="give the stack's topology file")
    return data


def attach_file(path: str | Path) -> ActiveEnvironment:
    data = load_topology_file(path)
    driver = create_driver(str(data.get("environment", "local")))
    topology = driver.attach(data)
    active = ActiveEnvironment(driver, topology, attached=True)
    set_current(active)
    return active
