"""Robot Framework ``Secret`` values: accepted by every credential argument, never logged."""

from __future__ import annotations

import secrets
import string

from robot.api.types import Secret

SecretLike = Secret | str | None
MASK = "***"
# the special characters password rules usually accept (StreamSpace's: ``!@#$%^&*()_+-=[]{}|;:,.<>?``)
PASSWORD_SPECIALS = "!@#%^*()_+-=[]{}:,.?"  # noqa: S105 - characters, not a password


def new_password(length: int = 20) -> str:
    """A fresh random password that usual password rules accept: at least one upper-case letter, one
    lower-case letter, one digit and one special character, ``length`` (at least 8) characters."""
    pick = secrets.SystemRandom()
    alphabet = string.ascii_letters + string.digits + PASSWORD_SPECIALS
    required = [pick.choice(string.ascii_uppercase), pick.choice(string.ascii_lowercase),
                pick.choice(string.digits), pick.choice(PASSWORD_SPECIALS)]
    rest = [pick.choice(alphabet) for _ in range(max(length, 8) - len(required))]
    chars = required + rest
    pick.shuffle(chars)
    return "".join(chars)


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
