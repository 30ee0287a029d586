"""Memory and CPU quantities as people write them (``512Mi``, ``1.5Gi``, ``500m``, ``0.5``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from kitcore.errors import KitError

T = TypeVar("T")

_BINARY = {"": 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
_DECIMAL = {"k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([KMGT]i|[kKMGT])?[bB]?\s*$")


def parse_bytes(value: str | int | float) -> int:
    """``512Mi`` -> 536870912; ``1G`` -> 1000000000; ``1024`` -> 1024."""
    if isinstance(value, (int, float)):
        return int(value)
    match = _QUANTITY.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a memory size; write it like 512Mi, 1Gi or 1048576")
    number, unit = float(match.group(1)), match.group(2) or ""
    factor = _BINARY.get(unit) or _DECIMAL.get(unit, 1)
    return int(number * factor)


def format_bytes(value: int) -> str:
    """536870912 -> ``512Mi``; uses the largest binary unit that divides evenly, else 1 decimal."""
    for unit in ("Ti", "Gi", "Mi", "Ki"):
        factor = _BINARY[unit]
        if value >= factor:
            amount = value / factor
            return f"{amount:g}{unit}" if amount == int(amount) else f"{amount:.1f}{unit}"
    return str(value)


def parse_cpu(value: str | int | float) -> float:
    """``500m`` -> 0.5; ``2`` -> 2.0; ``0.25`` -> 0.25 (cores)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        if text.endswith("m"):
            return float(text[:-1]) / 1000
        return float(text)
    except ValueError:
        raise ValueError(f"'{value}' is not a CPU amount; write it like 500m, 0.5 or 2") from None


def converted(value: str | int | float, parse: Callable[[str | int | float], T], unit: str) -> T:
    """``value`` read by ``parse`` (:func:`parse_bytes`, :func:`parse_cpu`) into ``unit``; a value it cannot read
    fails with a KitError that names the value and how to write it."""
    try:
        return parse(value)
    except ValueError as error:
        raise KitError(f"Cannot convert '{value}' to {unit}", str(error)) from None


def format_cpu(cores: float) -> str:
    """0.5 -> ``0.5``; 2.0 -> ``2``."""
    return f"{cores:g}"
