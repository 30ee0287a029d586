"""Environment drivers by name. ``local`` is built in; an environment that needs a driver of its own
(``kind``, ``compose``) names the module that provides it in its variable file
(``ENVIRONMENT_DRIVER: environments.kind.driver``); the module's ``register()`` adds it, on first use.
EnvironmentKit itself never imports an environment.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from EnvironmentKit.drivers.base import EnvironmentDriver
from EnvironmentKit.drivers.control import ControlClient, ControlError
from EnvironmentKit.drivers.local import LocalDriver
from kitcore import KitError

DriverFactory = Callable[..., EnvironmentDriver]

_DRIVERS: dict[str, DriverFactory] = {"local": LocalDriver}


def register_driver(name: str, factory: DriverFactory) -> None:
    """Add a driver (e.g. ``kind``) without touching the libraries or the suites."""
    _DRIVERS[name] = factory


def driver_names() -> list[str]:
    return sorted(_DRIVERS)


def _load(key: str, module_name: str) -> DriverFactory | None:
    """Import ``module_name`` and call its ``register()``; the driver it registers for ``key``."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if module_name == error.name or module_name.startswith(f"{error.name}."):
            raise KitError(f"The driver module '{module_name}' of environment '{key}' does not exist",
                           cause=str(error),
                           fix="check ENVIRONMENT_DRIVER in the environment's variable file (a Python module "
                               "importable from the kit's root)") from None
        raise
    register = getattr(module, "register", None)
    if not callable(register):
        raise KitError(f"The driver module '{module_name}' has no register() function",
                       fix="give it a register() that calls EnvironmentKit.drivers.register_driver")
    register()
    return _DRIVERS.get(key)


def create_driver(name: str, module: str | None = None, **options: object) -> EnvironmentDriver:
    """The driver registered as ``name``; ``module`` (``ENVIRONMENT_DRIVER``) registers it on first use."""
    key = (name or "local").strip().lower()
    factory = _DRIVERS.get(key) or (_load(key, module) if module else None)
    if factory is None:
        known = ", ".join(driver_names())
        raise KitError(f"No environment driver for '{name}'",
                       cause=f"known now: {known}" + (f"; module '{module}' registered none by that name" if module
                                                       else "; no ENVIRONMENT_DRIVER names a module that provides it"),
                       fix=f"run with the environment's variable file (robot -V environments/{key}/variables.yaml "
                           "sets ENVIRONMENT and ENVIRONMENT_DRIVER), use ENVIRONMENT=local, or register a driver "
                           "with EnvironmentKit.drivers.register_driver")
    return factory(**options)


__all__ = ["ControlClient", "ControlError", "EnvironmentDriver", "LocalDriver", "create_driver",
           "driver_names", "register_driver"]
