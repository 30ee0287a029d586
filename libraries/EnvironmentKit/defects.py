"""Known defects of the product under test: a failed test's message names the defect it shows.

An environment's variable file may name a catalogue of the defects its product is known to have
(``KNOWN_DEFECTS``: a YAML file, relative to the working directory or to the kit's root). Each
entry has an ``id``, a regular expression ``match`` searched in failure messages, the ``defect`` in
a tester's words and ``source``, where it is in the product's code::

    product: StreamSpace v2
    defects:
      - id: session-user
        match: sessions_user_id_fkey
        defect: the API stores the session's user as users.id ...
        source: api/internal/api/handlers.go:770, :830

When a test fails and its message matches, the listener appends the defect to the message and
tags the test ``defect:<id>``. The test still fails: a known defect is named, never excused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from robot.api import logger
from robot.libraries.BuiltIn import BuiltIn, RobotNotRunningError

from kitcore import KitError

VARIABLE = "KNOWN_DEFECTS"
KIT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Defect:
    """One known defect: how its failures read, what it is, where it is."""

    id: str
    match: re.Pattern[str]
    defect: str
    source: str

    def line(self, product: str) -> str:
        where = f" ({self.source})" if self.source else ""
        return f"Known defect of {product} [{self.id}]: {self.defect}{where}"


@dataclass(frozen=True)
class Catalogue:
    product: str
    defects: tuple[Defect, ...]

    def matching(self, message: str) -> list[Defect]:
        return [d for d in self.defects if d.match.search(message)]


def catalogue_path(name: str) -> Path:
    """The catalogue's file: as given, else relative to the kit's root."""
    path = Path(name).expanduser()
    if path.is_absolute() or path.exists():
        return path
    return KIT_ROOT / path


def load_catalogue(name: str) -> Catalogue:
    path = catalogue_path(name)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise KitError(f"Cannot read the known defects '{name}'", cause=str(error),
                       fix=f"point {VARIABLE} at the environment's catalogue, or leave it empty") from None
    except yaml.YAMLError as error:
        raise KitError(f"The known defects '{name}' are not valid YAML", cause=str(error).splitlines()[0],
                       fix="fix the file") from None
    defects = []
    for index, entry in enumerate(data.get("defects") or [], start=1):
        if not isinstance(entry, dict) or not entry.get("match") or not entry.get("defect"):
            raise KitError(f"Known defect #{index} in '{name}' is incomplete",
                           cause="each entry needs at least 'match' (a regular expression) and 'defect'",
                           fix="complete or remove the entry")
        try:
            pattern = re.compile(str(entry["match"]), re.DOTALL)
        except re.error as error:
            raise KitError(f"Known defect #{index} in '{name}' has a bad pattern", cause=str(error),
                           fix="correct its 'match' regular expression") from None
        defects.append(Defect(str(entry.get("id") or index), pattern, " ".join(str(entry["defect"]).split()),
                              " ".join(str(entry.get("source") or "").split())))
    return Catalogue(str(data.get("product") or "the product"), tuple(defects))


def _variable(name: str) -> Any:
    try:
        return BuiltIn().get_variable_value("${" + name + "}")
    except RobotNotRunningError:
        return None


class KnownDefectsListener:
    """Appends the known defects a failure matches to the failed test's message."""

    ROBOT_LISTENER_API_VERSION = 3

    def __init__(self) -> None:
        self._cache: dict[str, Catalogue] = {}

    def catalogue(self) -> Catalogue | None:
        name = _variable(VARIABLE)
        if not name:
            return None
        name = str(name)
        if name not in self._cache:
            self._cache[name] = load_catalogue(name)
        return self._cache[name]

    def end_test(self, data: Any, result: Any) -> None:
        if not result.failed:
            return
        try:
            catalogue = self.catalogue()
        except KitError as error:
            logger.warn(f"Known defects not applied: {error}")
            return
        if catalogue is None:
            return
        found = catalogue.matching(result.message or "")
        if not found:
            return
        result.message = "\n\n".join([result.message, *(d.line(catalogue.product) for d in found)])
        for defect in found:
            result.tags.add(f"defect:{defect.id}")
