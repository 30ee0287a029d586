"""Robot Framework ``Secret`` values: accepted by every credential argument, never logged."""

from __future__ import annotations

from robot.api.types import Secret

SecretLike = Secret | str | None
MASK = "***"


def reveal(value: SecretLike) -> str | None:
    """The plain text of a credential given as ``Secret`` or as a string."""
    if value is None:
        return None
    if isinstance(value, Secret):
        return value.value
    return str(value)


def mask(text: str, *secrets: SecretLike) -> str:
    """``text`` with every given secret replaced by ``***``."""
    for secret in secrets:
        plain = reveal(secret)
        if plain:
            text = text.replace(plain, MASK)
    return text
