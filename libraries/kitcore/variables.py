"""Robot Framework variables as the libraries read them, inside a run or out of one."""

from __future__ import annotations

from typing import Any

from robot.libraries.BuiltIn import BuiltIn, RobotNotRunningError


def robot_variable(name: str) -> Any:
    """The value of ``${name}`` in the running Robot Framework run; None when it is not set or no run is going."""
    try:
        return BuiltIn().get_variable_value("${" + name + "}")
    except RobotNotRunningError:
        return None
