"""What every chaos action shares: the guard, the timeline and the undo registration."""

from __future__ import annotations

from collections.abc import Callable

from robot.api import logger

from ChaosKit.timeline import ChaosEvent, Timeline
from EnvironmentKit import EnvironmentDriver, Topology, require_driver
from EnvironmentKit.drivers import ControlError
from kitcore import CleanupListener, TargetGuard

GUARD_ENV_VAR = "CHAOS_TEST_TARGETS"


class ChaosCore:
    def __init__(self, listener: CleanupListener, guard: TargetGuard) -> None:
        self.listener = listener
        self.guard = guard
        self.timeline = Timeline()

    @staticmethod
    def driver() -> EnvironmentDriver:
        return require_driver()

    def check(self, driver: EnvironmentDriver, action: str, component: str) -> None:
        """Refuse unless the environment is a test target or ``<env>/<component>`` is allow-listed."""
        if driver.test_target:
            return
        self.guard.check(action, "component", f"{driver.name}/{component}")

    def record(self, action: str, target: str, undo: Callable[[], object] | None,
               undo_text: str, details: str = "") -> ChaosEvent:
        event = self.timeline.add(action, target, details)
        event.undo = undo
        logger.info(f"Chaos {event.time}: {action} {target}" + (f" ({details})" if details else ""))
        if undo is not None:
            self.listener.register(f"chaos '{action} {target}' ({undo_text})", lambda: self.undo(event), key=event.key)
        return event

    def undo(self, event: ChaosEvent) -> None:
        if self.timeline.run_undo(event):
            logger.info(f"Chaos {event.undone_at}: undid {event.action} {event.target}")
        self.listener.forget(event.key)

    def undo_all(self, events: list[ChaosEvent]) -> list[str]:
        """Undo ``events`` newest first; every undo runs even if one fails (errors returned)."""
        errors = []
        for event in reversed(events):
            try:
                self.undo(event)
            except Exception as error:  # noqa: BLE001 - undo the rest, report all
                errors.append(f"{event.action} {event.target}: {error}")
        return errors


def ensure_started(driver: EnvironmentDriver, name: str) -> Topology | None:
    """Start ``name`` unless it already runs (a 409 from the environment means it does)."""
    if driver.topology().is_running(name) is True:
        return None
    try:
        return driver.start_component(name)
    except ControlError as error:
        if error.status != 409:  # 409: it runs already
            raise
    return None
