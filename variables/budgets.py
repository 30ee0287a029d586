"""Budgets derived from the environment's own timings, each by a stated formula and margin.

A budget is the time the platform's own configuration allows for something, plus a margin for a
loaded test machine::

    budget = base + max(margin seconds, margin ratio x base), then capped by the seed's ceiling

The base of each budget is a sum of the environment's timings (``ENVIRONMENT_TIMINGS``, seconds;
on the local stack the ``timings`` of the platform file ``LOCAL_PLATFORM``) and of the work the
environment states for the things no timing covers (``ENVIRONMENT_ALLOWANCES``: starting a
session's container and its VNC server, a session command's container work, an API replica's
start). ``FORMULAS`` below states every base. The seed's targets stay ceilings for real installs
(a new leader within 30 s): a derived budget is never above its ceiling.

Import with the environment's values (``resources/platform.resource`` does)::

    Variables    ../variables/budgets.py    ${ENVIRONMENT_TIMINGS}    ${LOCAL_PLATFORM}
    ...          ${ENVIRONMENT_ALLOWANCES}    ${BUDGET_MARGIN}

Every budget is a Robot Framework time string (``5.5s``); ``BUDGETS`` holds them in seconds with
their formula, for the log and the reports. ``python variables/budgets.py [platform]`` prints them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PLATFORMS = ROOT / "environments" / "local" / "platforms"

# Work no timing covers, on the local stack (seconds); an environment's variable file states its own.
LOCAL_ALLOWANCES = {"sessionStart": 5.0, "sessionCommand": 3.0, "apiStart": 5.0}
DEFAULT_MARGIN = {"seconds": 2.0, "ratio": 0.5}
# The seed's targets: ceilings for real installs, whatever the timings.
CEILINGS = {"LEADER_ELECTION_BUDGET": 30.0}
REQUIRED = ("heartbeatInterval", "staleAfter", "leaseDuration", "retryPeriod", "reconnectBackoff")

FORMULAS: dict[str, str] = {
    "LEADER_ELECTION_BUDGET": "leaseDuration + retryPeriod",
    "AGENT_RECONNECT_BUDGET": "leaseDuration + retryPeriod + heartbeatInterval + last reconnectBackoff",
    "API_RECOVERY_BUDGET": "apiStart + heartbeatInterval",
    "REDIS_RECOVERY_BUDGET": "heartbeatInterval + last redisRetryBackoff (else last reconnectBackoff)",
    "STATUS_CONVERGENCE_BUDGET": "heartbeatInterval + staleAfter",
    "SESSION_START_BUDGET": "commandPoll + sessionStart",
    "SESSION_COMMAND_BUDGET": "commandPoll + sessionCommand",
    "FULL_RECOVERY_BUDGET": "base of AGENT_RECONNECT + base of STATUS_CONVERGENCE + base of SESSION_START",
    "DATABASE_ERROR_BUDGET": "databaseTimeout (else the API's request timeout, 30 s)",
    "DATABASE_RECOVERY_BUDGET": "databaseTimeout + heartbeatInterval + staleAfter",
}
# StreamSpace's API gives up on any request after 30 s (its timeout middleware): the error budget of a
# platform that states no databaseTimeout.
REQUEST_TIMEOUT = 30.0


def _number(timings: Mapping[str, Any], key: str, default: float | None = None) -> float:
    value = timings.get(key, default)
    if isinstance(value, list):
        value = value[-1] if value else default
    if value is None:
        raise ValueError(f"the environment's timings do not state '{key}' (needed for the budgets); "
                         f"give it in ENVIRONMENT_TIMINGS or the platform file's 'timings'")
    return float(value)


def platform_timings(platform: str | None) -> dict[str, Any]:
    """The ``timings`` of a local platform file: a name (``reference``) or a path."""
    name = str(platform or "reference")
    path = Path(name) if name.endswith((".yaml", ".yml")) else PLATFORMS / f"{name}.yaml"
    if not path.is_absolute() and not path.is_file():
        path = ROOT / path
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(data.get("timings") or {})


def bases(timings: Mapping[str, Any], allowances: Mapping[str, Any]) -> dict[str, float]:
    """The base of every budget (seconds), by the formulas in ``FORMULAS``."""
    for key in REQUIRED:
        _number(timings, key)
    lease = _number(timings, "leaseDuration")
    retry = _number(timings, "retryPeriod")
    heartbeat = _number(timings, "heartbeatInterval")
    stale = _number(timings, "staleAfter")
    backoff = _number(timings, "reconnectBackoff")
    redis_backoff = _number(timings, "redisRetryBackoff", backoff)
    poll = _number(timings, "commandPoll", 0.0)
    work = {**LOCAL_ALLOWANCES, **dict(allowances or {})}
    reconnect = lease + retry + heartbeat + backoff
    convergence = heartbeat + stale
    start = poll + float(work["sessionStart"])
    database = _number(timings, "databaseTimeout", REQUEST_TIMEOUT)
    return {
        "LEADER_ELECTION_BUDGET": lease + retry,
        "AGENT_RECONNECT_BUDGET": reconnect,
        "API_RECOVERY_BUDGET": float(work["apiStart"]) + heartbeat,
        "REDIS_RECOVERY_BUDGET": heartbeat + redis_backoff,
        "STATUS_CONVERGENCE_BUDGET": convergence,
        "SESSION_START_BUDGET": start,
        "SESSION_COMMAND_BUDGET": poll + float(work["sessionCommand"]),
        "FULL_RECOVERY_BUDGET": reconnect + convergence + start,
        "DATABASE_ERROR_BUDGET": database,
        "DATABASE_RECOVERY_BUDGET": database + convergence,
    }


def budget(base: float, margin: Mapping[str, Any], ceiling: float | None = None) -> float:
    """``base`` plus the margin, rounded up to a tenth of a second, never above ``ceiling``."""
    extra = max(float(margin.get("seconds", 0.0)), float(margin.get("ratio", 0.0)) * base)
    value = math.ceil((base + extra) * 10 - 1e-9) / 10
    return min(value, ceiling) if ceiling else value


def derive(timings: Mapping[str, Any], allowances: Mapping[str, Any] | None = None,
           margin: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Every budget: ``{"seconds", "base", "formula", "ceiling"}`` by name."""
    stated = {**DEFAULT_MARGIN, **dict(margin or {})}
    derived = {}
    for name, base in bases(timings, allowances or {}).items():
        ceiling = CEILINGS.get(name)
        derived[name] = {"seconds": budget(base, stated, ceiling), "base": round(base, 3),
                         "formula": FORMULAS[name], "ceiling": ceiling}
    return derived


def _time_string(seconds: float) -> str:
    return f"{seconds:g}s"


def get_variables(timings: Any = None, platform: str | None = "reference", allowances: Any = None,
                  margin: Any = None) -> dict[str, Any]:
    """The budgets as Robot Framework variables, from the environment's timings (empty: the local
    platform file's), allowances and margin."""
    stated = dict(timings or {}) or platform_timings(platform)
    derived = derive(stated, allowances if isinstance(allowances, Mapping) else None,
                     margin if isinstance(margin, Mapping) else None)
    variables: dict[str, Any] = {name: _time_string(b["seconds"]) for name, b in derived.items()}
    variables["BUDGETS"] = derived
    variables["BUDGET_TIMINGS"] = stated
    return variables


if __name__ == "__main__":
    for name, entry in derive(platform_timings(sys.argv[1] if len(sys.argv) > 1 else None)).items():
        print(f"{name:28} {entry['seconds']:7g} s   base {entry['base']:g} s = {entry['formula']}")
