"""Start, stop and read probes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from kitcore import Check, KitError, SecretLike, getter, reveal, to_seconds
from kitcore.logging import log_table
from kitcore.variables import robot_variable
from ProbesKit.probes.availability import AvailabilityProbe
from ProbesKit.probes.commands import CommandDeliveryProbe
from ProbesKit.probes.frames import FrameProbe, open_rfb_viewer
from ProbesKit.probes.sessions import SessionStateProbe
from ProbesKit.probes.stream import StreamProbe
from ProbesKit.registry import ProbeRegistry

DEFAULT_MAX = "10 min"


def max_seconds(value: str | None) -> float:
    """A probe's own ``max_duration``, else ``${PROBE_MAX_DURATION}``, else 10 minutes."""
    return to_seconds(value or robot_variable("PROBE_MAX_DURATION") or DEFAULT_MAX)


def environment_api_urls() -> list[str]:
    """The running environment's API URLs, when EnvironmentKit started or attached one."""
    try:
        from EnvironmentKit.keywords.lifecycle import current_topology

        return current_topology().api_urls()
    except KitError as error:
        raise KitError("No API URLs to probe", cause=str(error),
                       fix="give the URLs to the keyword, or start the environment first") from None


class ProbeKeywords:
    def __init__(self, registry: ProbeRegistry) -> None:
        self.registry = registry
        self.sources: dict[str, Callable[[], Any]] = {}

    # -- starting -------------------------------------------------------------------------
    @keyword("Start Availability Probe")
    def start_availability_probe(self, *urls: str, path: str = "/health", interval: str | None = None,
                                 timeout: str = "1s", max_duration: str | None = None,
                                 name: str = "availability", expect_status: int = 200) -> str:
        """GET ``path`` through every URL (each replica; default: every API replica of the running
        environment) every ``interval`` (default ``${PROBE_INTERVAL}``, else 0.1 s) in the
        background, until stopped or ``max_duration`` (default ``${PROBE_MAX_DURATION}``, else 10 min).

        The report gives ``downtime`` and ``longest_downtime`` (= ``rto``) of the service (down
        while no replica answers), each replica's own downtime windows, and errors.

        Example:
        | Start Availability Probe | name=api |
        | Kill API Replica | 1 |
        | ${report} = | Stop Probe | api |
        """
        targets = list(urls) or environment_api_urls()
        every = interval or robot_variable("PROBE_INTERVAL") or "0.1s"
        probe = AvailabilityProbe(name, targets, path, to_seconds(every), to_seconds(timeout),
                                  max_seconds(max_duration), int(expect_status))
        self.registry.add(probe, probe.start)
        return name

    @keyword("Start Session State Probe")
    def start_session_state_probe(self, *sessions: str, token: SecretLike = None, api_urls: list[str] | None = None,
                                  interval: str = "0.5s", timeout: str = "2s", max_duration: str | None = None,
                                  name: str = "sessions", steady_state: str = "running") -> str:
        """Poll the given sessions through the REST API (``token`` is a ``Secret`` or text) and
        report every session that ever left ``steady_state`` (``running``).

        Example:
        | Start Session State Probe | ${s1} | ${s2} | token=${token} |
        | ${report} = | Stop Probe | sessions |
        | Should Be Empty | ${report}[left_steady] |
        """
        if not sessions:
            raise KitError("No session to watch", fix="give one or more session names")
        probe = SessionStateProbe(name, list(api_urls or environment_api_urls()), list(sessions), reveal(token),
                                  to_seconds(interval), to_seconds(timeout), max_seconds(max_duration), steady_state)
        self.registry.add(probe, probe.start)
        return name

    @keyword("Start Command Delivery Probe")
    def start_command_delivery_probe(self, source: Any = None, token: SecretLike = None,
                                     api_urls: list[str] | None = None, interval: str = "0.2s",
                                     timeout: str = "2s", max_duration: str | None = None,
                                     name: str = "commands") -> str:
        """Count commands issued (``Record Command Issued``) against commands completed.

        ``source`` is a Python callable (or the name it was registered under with
        ``ProbesKit.register_completion_source``) that returns every completion seen so far;
        without it, each command is completed when its session reaches the expected state
        (REST polling with ``token``). The report gives ``lost`` (= ``rpo``) and ``duplicates``.

        Example:
        | Start Command Delivery Probe | token=${token} |
        | Record Command Issued | ${cmd} | session=${name} | expect=hibernated |
        | ${report} = | Stop Probe | commands | settle=10s |
        """
        if isinstance(source, str):
            if source not in self.sources:
                raise KitError(f"No completion source named '{source}'",
                               cause=f"registered: {', '.join(self.sources) or 'none'}",
                               fix="register it from Python with ProbesKit.register_completion_source")
            source = self.sources[source]
        if source is not None and not callable(source):
            raise KitError("The completion source is not callable", cause=f"got {type(source).__name__}",
                           fix="give a Python callable or a registered source name")
        urls = None if source is not None else list(api_urls or environment_api_urls())
        probe = CommandDeliveryProbe(name, source, urls, reveal(token), to_seconds(interval), to_seconds(timeout),
                                     max_seconds(max_duration))
        self.registry.add(probe, probe.start)
        return name

    @keyword("Record Command Issued")
    def record_command_issued(self, command_id: str, session: str | None = None, expect: str | None = None,
                              probe: str = "commands") -> None:
        """Tell a command delivery probe that ``command_id`` was issued (for REST polling also the
        ``session`` and the state it should ``expect`` once done).

        Example:
        | Record Command Issued | ${answer}[commandId] | session=${name} | expect=hibernated |
        """
        running = self.registry.get(probe)
        if not isinstance(running, CommandDeliveryProbe):
            raise KitError(f"Probe '{probe}' is not a command delivery probe", fix="give the right probe=")
        try:
            running.record_issued(command_id, session, expect)
        except ValueError as error:
            raise KitError("Cannot record the command", cause=str(error), fix="add session= and expect=") from None

    @keyword("Start Stream Probe")
    def start_stream_probe(self, source: Any, interval: str = "0.05s", gap_threshold: str = "1s",
                           max_duration: str | None = None, name: str = "stream",
                           subprotocols: list[str] | None = None) -> str:
        """Hold a stream open and time its data: ``source`` is an object with ``read(timeout)``
        (e.g. a VNC connection) or a ``tcp://host:port`` / ``ws://...`` URL (reconnected after a
        drop). The report gives ``max_gap``, gaps over ``gap_threshold``, and disconnects.

        Example:
        | Start Stream Probe | ws://127.0.0.1:${port}/stream | name=vnc |
        | ${report} = | Stop Probe | vnc |
        """
        try:
            probe = StreamProbe(name, source, to_seconds(interval), max_seconds(max_duration),
                                to_seconds(gap_threshold), subprotocols=subprotocols)
            self.registry.add(probe, probe.start)
        except KitError:
            raise
        except Exception as error:  # noqa: BLE001 - socket, WebSocket and URL errors all mean "cannot open"
            raise KitError(f"The stream probe cannot open '{source}'", cause=f"{type(error).__name__}: {error}",
                           fix="check that the stream's server runs and the URL (tcp://, ws://) is right") from None
        return name

    @keyword("Start VNC Frame Probe")
    def start_vnc_frame_probe(self, *urls: str, token: SecretLike = None, interval: str = "0.2s",
                              stall_after: str = "2s", gap_threshold: str = "1s", timeout: str = "5s",
                              max_duration: str | None = None, name: str = "vnc") -> str:
        """Watch a session's VNC stream like a viewer that keeps asking for frames: every
        ``interval`` a small region is requested as a full update through the first ``ws://`` URL
        (one per API replica), with ``token``. A connection that drops, or answers nothing for
        ``stall_after``, is opened again through the next URL (reconnects are allowed and counted).

        The report gives ``frames``, ``max_gap`` (the longest time without a frame: the stream's
        downtime), gaps over ``gap_threshold``, ``reconnects`` and ``resolution`` (= ``interval``).

        Example:
        | Start VNC Frame Probe | @{vnc_urls} | token=${token} | name=vnc |
        | ${report} = | Stop Probe | vnc |
        | Stream Downtime Should Be At Most | ${report} | ${MAX_VNC_DOWNTIME_SECONDS} |
        """
        if not urls:
            raise KitError("No URL to watch the VNC stream through", fix="give the session's VNC URL of each replica")
        probe = FrameProbe(name, list(urls), open_rfb_viewer(reveal(token), to_seconds(timeout)),
                           to_seconds(interval), max_seconds(max_duration), to_seconds(stall_after),
                           to_seconds(gap_threshold))
        try:
            self.registry.add(probe, probe.start)
        except KitError:
            raise
        except Exception as error:  # noqa: BLE001 - the first connection must open
            raise KitError("The VNC frame probe cannot open the stream", cause=f"{type(error).__name__}: {error}",
                           fix="check that the session runs and that its VNC opens (A VNC Viewer Is Connected To)"
                           ) from None
        return name

    @keyword("Start Probe")
    def start_probe(self, kind: str, *args: Any, **options: Any) -> str:
        """Start a probe by kind: ``availability``, ``session-state``, ``command-delivery``, ``stream``
        or ``vnc-frames``,
        with the arguments of the matching ``Start ... Probe`` keyword.

        Example:
        | Start Probe | availability | http://127.0.0.1:8000 | name=api |
        """
        starters = {"availability": self.start_availability_probe, "session-state": self.start_session_state_probe,
                    "command-delivery": self.start_command_delivery_probe, "stream": self.start_stream_probe,
                    "vnc-frames": self.start_vnc_frame_probe}
        starter = starters.get(kind.strip().lower())
        if starter is None:
            raise KitError(f"Unknown probe kind '{kind}'", fix=f"use one of: {', '.join(starters)}")
        return starter(*args, **options)

    # -- stopping and reading ----------------------------------------------------------
    @keyword("Stop Probe")
    def stop_probe(self, name: str, settle: str = "0s") -> dict[str, Any]:
        """Stop a probe and return its report (also logged). A command delivery probe first keeps
        polling up to ``settle`` so that late completions count as delivered.

        Example:
        | ${report} = | Stop Probe | api |
        | Should Be True | ${report}[rto] < 30 |
        """
        probe = self.registry.get(name)
        budget = to_seconds(settle, 0.0)
        if budget > 0 and isinstance(probe, CommandDeliveryProbe):
            probe.request_stop()  # end the loop, then settle in this thread
            probe.join(10)
            probe.settle(budget)
        report = self.registry.stop(name)
        log_report(report)
        return report

    @keyword("Stop All Probes")
    def stop_all_probes(self) -> dict[str, dict[str, Any]]:
        """Stop every running probe; returns their reports by name.

        Example:
        | Stop All Probes |
        """
        return {name: self.stop_probe(name) for name in self.registry.names()}

    @keyword("Get Probe Report")
    def get_probe_report(self, name: str) -> dict[str, Any]:
        """The figures of a probe, running (so far) or stopped.

        Example:
        | ${report} = | Get Probe Report | api |
        """
        return self.registry.report(name)

    @keyword("Get Probe Figure")
    @getter(poll="0.2s")
    def get_probe_figure(self, name: str, figure: str, *, check: Check) -> Any:
        """One figure of a probe's report (``rto``, ``downtime``, ``lost``, ``duplicates``,
        ``max_gap``, ``left_count`` ...), optionally asserted and retried until ``timeout``.

        Example:
        | Get Probe Figure | api | longest_downtime | <= | ${RTO_BUDGET} |
        | Get Probe Figure | commands | lost | == | 0 |
        """
        def value() -> Any:
            report = self.registry.report(name)
            if figure not in report:
                raise KitError(f"Probe '{name}' has no figure '{figure}'",
                               cause=f"figures: {', '.join(k for k in report if not isinstance(report[k], dict))}",
                               fix="use one of those names")
            return report[figure]

        return check(value, f"probe {name} {figure}")


def log_report(report: dict[str, Any]) -> None:
    flat = [(k, v) for k, v in report.items() if not isinstance(v, (dict, list)) or k in ("left_steady",)]
    log_table(f"{report.get('kind', 'probe')} probe '{report.get('name')}'", ["figure", "value"], flat)
    windows = report.get("windows") or report.get("gaps")
    if windows:
        logger.info(f"windows: {windows}")
