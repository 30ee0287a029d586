"""A mutant's workspace: a copy of the platform's code with the mutant switched on, and a platform file
that runs that copy instead of the kit's own (the kit's files are never changed)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from environments.local.mutants.catalogue import Mutant, Patch
from kitcore import reaper

REPO = Path(__file__).resolve().parents[3]
TEMP_PREFIX = "kit-mutant-"  # under the temp folder: ./kit leaks lists one a killed run left


class MutantError(Exception):
    """A mutant that cannot be switched on (its patch no longer matches the platform's code)."""


@dataclass
class Workspace:
    """The temporary folder of one mutant: ``copy`` (the mutated code), ``platform_file``, ``results``."""

    root: Path
    copy: Path
    platform_file: Path
    results: Path
    guard: int | None = None  # the watcher removes the folder if this process is killed

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        reaper.release(self.guard)


def apply_patch(root: Path, patch: Patch, mutant: str) -> None:
    """Apply one patch under ``root``; fails unless its text occurs exactly once."""
    path = root / patch.file
    if not path.is_file():
        raise MutantError(f"The mutant '{mutant}' changes {patch.file}, which the platform no longer has: "
                          "update the mutant (environments/local/mutants/catalogue.py)")
    text = path.read_text()
    found = text.count(patch.old)
    if found != 1:
        first = patch.old.strip().splitlines()[0] if patch.old.strip() else "(empty)"
        raise MutantError(f"The mutant '{mutant}' no longer applies: {patch.file} holds its text {found} times "
                          f"(expected once): '{first}'. The platform changed; update the mutant "
                          "(environments/local/mutants/catalogue.py)")
    path.write_text(text.replace(patch.old, patch.new))


def platform_file(copy: Path, target: Path, reference: Path | None = None) -> Path:
    """The reference platform file, with every part run from ``copy`` (first on ``PYTHONPATH``)."""
    source = reference or REPO / "environments/local/platforms/reference.yaml"
    data = yaml.safe_load(source.read_text())
    data["description"] = f"{data.get('description', '')} (a mutant, run from a copy)"
    for part in data.get("parts", {}).values():
        part["env"] = {**(part.get("env") or {}), "PYTHONPATH": f"{copy}:{REPO / 'libraries'}"}
    target.write_text(yaml.safe_dump(data, sort_keys=False))
    return target


def create(mutant: Mutant, base: Path | None = None) -> Workspace:
    """Copy the platform's code to a new temporary folder and switch ``mutant`` on in the copy."""
    root = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{mutant.name}-", dir=base))
    guard = reaper.guard_path(root)
    try:
        copy = root / "src"
        shutil.copytree(REPO / "environments", copy / "environments",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for patch in mutant.patches:
            apply_patch(copy, patch, mutant.name)
        results = root / "results"
        results.mkdir()
        return Workspace(root, copy, platform_file(copy, root / "platform.yaml"), results, guard)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        reaper.release(guard)
        raise
