"""What a probe's report says about a promise: each function returns the broken promise in a
tester's words with its figures, or None when the report keeps the promise.

They read only the report (plain dicts), so a test can feed them a series with an outage.
"""

from __future__ import annotations

from typing import Any


def _s(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") + " s"


def watch_problem(report: dict[str, Any], since: float, until: float) -> str | None:
    """The probe must have watched from before ``since`` until at least ``until`` (monotonic
    seconds of this process): figures from a shorter watch cannot tell what the fault did."""
    start, end = float(report["watched_from"]), float(report["watched_until"])
    name = f"the {report.get('kind', '')} probe '{report.get('name')}'".replace("  ", " ")
    window = f"the fault and recovery window of {_s(until - since)}"
    if start > since:
        return (f"{name} started {_s(start - since)} after the fault: it did not watch {window} "
                f"from its beginning, so its figures cannot tell what the fault did")
    if end < until:
        return (f"{name} watched {_s(end - start)} in all and stopped {_s(until - end)} before the end of "
                f"{window} (it ran {_s(max(0.0, end - since))} of it), so its figures cannot tell what the "
                f"fault did")
    return None


def replica_report(report: dict[str, Any], url: str) -> dict[str, Any]:
    """The figures of one replica (by its base URL) in an availability report."""
    wanted = url.rstrip("/")
    for figures in report.get("replicas", {}).values():
        if str(figures.get("replica_url", "")).rstrip("/") == wanted:
            return figures
    known = ", ".join(str(f.get("replica_url")) for f in report.get("replicas", {}).values())
    raise ValueError(f"the availability probe did not watch {url} (it watched {known or 'nothing'})")


def _windows_text(windows: list[dict[str, Any]]) -> str:
    shown = [f"{w['start']} for {_s(w['seconds'])}" + (" (not over when the probe stopped)" if w.get("open") else "")
             for w in windows[:5]]
    more = f" and {len(windows) - 5} more" if len(windows) > 5 else ""
    return "; ".join(shown) + more


def kept_answering_problem(report: dict[str, Any], url: str, label: str) -> str | None:
    """A replica that was not hit by the fault must answer every single check."""
    figures = replica_report(report, url)
    if figures["errors"] == 0 and figures["checks"] > 0:
        return None
    if figures["checks"] == 0:
        return f"{label} ({url}) was never checked: the probe has no figure for it"
    kinds = ", ".join(f"{kind} x{count}" for kind, count in figures.get("error_kinds", {}).items())
    return (f"{label} ({url}) stopped answering although the fault did not touch it: {figures['errors']} of "
            f"{figures['checks']} checks failed ({kinds}), {_s(figures['downtime'])} without an answer in all; "
            f"outages: {_windows_text(figures['windows'])}")


def outage_problem(report: dict[str, Any], url: str, label: str, limit: float) -> str | None:
    """A replica the fault hit may be out of service, once and for at most ``limit`` seconds,
    and must answer again before the probe stopped."""
    figures = replica_report(report, url)
    windows = figures["windows"]
    if any(w.get("open") for w in windows) or not figures.get("up_now", False):
        return (f"{label} ({url}) never answered again before the probe stopped: outages "
                f"{_windows_text(windows) or 'none seen'}; it must be back within {_s(limit)}")
    if figures["longest_downtime"] > limit:
        return (f"{label} ({url}) was out of service for {_s(figures['longest_downtime'])}, above the "
                f"{_s(limit)} it may be: outages {_windows_text(windows)}")
    return None


def service_downtime_problem(report: dict[str, Any], limit: float) -> str | None:
    """The service (any replica answering) may be down for at most ``limit`` seconds in all."""
    if report["downtime"] <= limit:
        return None
    return (f"no API replica answered for {_s(report['downtime'])} in all (longest {_s(report['rto'])}), above the "
            f"{_s(limit)} users may see: {_windows_text(report['windows'])}")


def left_running_problem(report: dict[str, Any], allowed: list[str]) -> str | None:
    """Every watched session stayed in the steady state, but those ``allowed`` to leave it."""
    steady = report.get("steady_state", "running")
    broken = [name for name in report["left_steady"] if name not in allowed]
    if report.get("polls", 0) == 0:
        return "the session probe made no check at all: it cannot tell whether sessions stayed " + steady
    if not broken:
        return None
    stories = []
    for name in broken[:10]:
        changes = report["sessions"][name]["changes"]
        stories.append(f"{name}: " + " -> ".join(f"{c['state']} at {c['at']}" for c in changes))
    return (f"{len(broken)} of {report['sessions_watched']} sessions left {steady} during the fault: "
            + "; ".join(stories))


def stream_problem(report: dict[str, Any], limit: float) -> str | None:
    """Frames kept arriving: the longest time without one is at most ``limit`` seconds."""
    if report["frames"] == 0:
        return (f"the VNC stream carried no frame at all in {_s(report['duration'])} (last error: "
                f"{report.get('last_error') or 'none'})")
    if report["max_gap"] <= limit:
        return None
    gaps = ", ".join(f"{g['at']} for {_s(g['seconds'])}" for g in report["gaps"][:5])
    return (f"the VNC stream went {_s(report['max_gap'])} without a frame, above the {_s(limit)} a viewer may "
            f"wait (gaps: {gaps}; {report['reconnects']} reconnects, last error: "
            f"{report.get('last_error') or 'none'})")
