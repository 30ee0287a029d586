"""Environment drivers by name: ``local``, ``kind`` and ``compose`` (loaded on first use)."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from EnvironmentKit.drivers.base import EnvironmentDriver
from EnvironmentKit.drivers.control import ControlClient, ControlError
from EnvironmentKit.drivers.local import LocalDriver
from kitcore import KitError

DriverFactory = Callable[..., EnvironmentDriver]

_DRIVERS: dict[str, DriverFactory] = {"local": LocalDriver}
SHIPPED = ("kind", "compose")  # modules EnvironmentKit.drivers.<name>, loaded when first asked for


def register_driver(name: str, factory: DriverFactory) -> None:
    """Add a driver (e.g. ``kind``) without touching the libraries or the suites."""
    _DRIVERS[name] = factory


def driver_names() -> list[str]:
    return sorted(_DRIVERS)


def _load(key: str) -> DriverFactory | None:
    """A driver shipped as module ``EnvironmentKit.drivers.<key>`` with a ``register()`` function."""
    if not key.isidentifier() or key in ("base", "control"):
        return None
    try:
        module = importlib.import_module(f"EnvironmentKit.drivers.{key}")
    except ModuleNotFoundError as error:
        if error.name == f"EnvironmentKit.drivers.{key}":
            return None
        raise
    register = getattr(module, "register", None)
    if callable(register):
        register()
    return _DRIVERS.get(key)


def create_driver(name: str, **options: object) -> EnvironmentDriver:
    key = (name or "local").strip().lower()
    factory = _DRIVERS.get(key) or _load(key)
    if factory is None:
        cause = f"known environments: {', '.join(sorted({*driver_names(), *SHIPPED}))}"
        raise KitError(f"No environment driver for '{name}'", cause=cause,
                       fix="use ENVIRONMENT=local, or register a driver with EnvironmentKit.drivers.register_driver")
    return factory(**options)


__all__ = ["ControlClient", "ControlError", "EnvironmentDriver", "LocalDriver", "create_driver",
           "driver_names", "register_driver"]
