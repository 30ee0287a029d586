"""The platform image of the compose stack, built locally: nothing is pulled from a registry.

Base: a Debian root file system made with ``mmdebstrap`` from this machine's apt mirror (the
same way as the session image, :mod:`environments.local.images`), with Python 3, Redis,
PostgreSQL 15 and TigerVNC. On top: the third-party Python packages the reference stack imports
(copied from the kit's virtualenv, so the containers run exactly the versions the kit tests) and
the stack's code (``environments/``). Tags are a hash of the inputs; an unchanged input reuses the
image in milliseconds.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from environments.local.images import (
    IMAGE_LABEL,
    MMDEBSTRAP_OPTIONS,
    SUITE,
    Progress,
    ensure_image,
    input_hash,
)
from environments.local.procs import BackendError

if TYPE_CHECKING:
    import docker

REPO = Path(__file__).resolve().parents[2]
ROOTFS_REPO = "streamspace-kit/compose-rootfs"
PLATFORM_REPO = "streamspace-kit/platform"
ROOTFS_PACKAGES = ("python3", "redis-server", "postgresql-15", "tigervnc-standalone-server", "tigervnc-tools",
                   "python3-xlib", "python3-async-timeout", "ca-certificates")
# The image runs Debian bookworm's Python, whose version decides conditional requirements
# (redis-py needs async-timeout below 3.11.3): those the kit's virtualenv lacks come from Debian.
IMAGE_PYTHON = {"python_full_version": "3.11.2", "python_version": "3.11", "extra": ""}
FROM_DEBIAN = {"async-timeout": "python3-async-timeout"}
# what the stack's programs import: their third-party packages go into the image
ENTRY_MODULES = ("environments.local.platform.api.app", "environments.local.platform.db",
                 "environments.local.platform.agents.kubernetes", "environments.local.platform.agents.docker",
                 "environments.local.platform.agents.kubelet", "environments.local.kubeapi.server")
SKIP_TOP_LEVEL = {"_distutils_hack"}
CODE_SUFFIXES = {".py", ".sql", ".sh"}

PLATFORM_DOCKERFILE = f"""\
FROM {{base}}
COPY site-packages /opt/kit/site-packages
COPY app /opt/kit/app
ENV PYTHONPATH=/opt/kit/app:/opt/kit/app/libraries:/opt/kit/site-packages PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /opt/kit/app
LABEL {IMAGE_LABEL}=platform
CMD ["python3", "-m", "environments.local.platform.api", "--help"]
"""


def _quiet(_: str) -> None:
    return None


def third_party_packages() -> dict[str, str]:
    """Top-level names (in the virtualenv's site-packages) the stack imports -> distribution@version.

    Computed in a fresh interpreter, so only what the entry modules import counts.
    """
    code = (
        "import importlib, json, os, sys, sysconfig\n"
        f"for m in {list(ENTRY_MODULES)!r}: importlib.import_module(m)\n"
        "site = sysconfig.get_paths()['purelib']\n"
        "tops = sorted({os.path.relpath(f, site).split(os.sep)[0] for f in "
        "(getattr(m, '__file__', None) or '' for m in list(sys.modules.values())) if f.startswith(site)})\n"
        "print(json.dumps(tops))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'libraries'}"}, check=False)
    if result.returncode != 0:
        raise BackendError("The platform image cannot be built", "the stack's modules do not import: "
                           + (result.stderr.strip().splitlines() or ["no output"])[-1],
                           "run './kit setup' so that the virtualenv has every package the stack needs")
    names = [n for n in json.loads(result.stdout.strip().splitlines()[-1]) if n not in SKIP_TOP_LEVEL]
    owners = importlib.metadata.packages_distributions()
    dists = {d for name in names for d in owners.get(name.removesuffix(".py"), [])}
    packages = {}
    for dist in sorted(_closure(dists)):
        for top in _top_levels(dist):
            packages[top] = f"{dist}@{importlib.metadata.version(dist)}"
    for name in names:  # a module no distribution claims (rare) is copied as it is
        packages.setdefault(name, "unknown")
    return packages


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(dists: set[str]) -> set[str]:
    """``dists`` and everything they require on the image's Python, as installed in the virtualenv."""
    from packaging.requirements import Requirement

    seen: dict[str, str] = {}
    todo = list(dists)
    while todo:
        dist = todo.pop()
        if _normal(dist) in seen:
            continue
        seen[_normal(dist)] = dist
        for line in importlib.metadata.requires(dist) or []:
            requirement = Requirement(line)
            if requirement.marker and not requirement.marker.evaluate(IMAGE_PYTHON):
                continue
            try:
                importlib.metadata.version(requirement.name)
            except importlib.metadata.PackageNotFoundError:
                if _normal(requirement.name) in FROM_DEBIAN:
                    continue
                raise BackendError("The platform image cannot be built",
                                   f"{dist} needs {requirement} on the image's Python, and the virtualenv lacks it",
                                   "add its Debian package to ROOTFS_PACKAGES and FROM_DEBIAN in "
                                   "environments/compose/images.py") from None
            todo.append(requirement.name)
    return set(seen.values())


def _top_levels(dist: str) -> set[str]:
    tops = set()
    for file in importlib.metadata.files(dist) or []:
        first = file.parts[0]
        if first.endswith((".dist-info", ".data")) or first in ("..", "__pycache__", "bin"):
            continue
        tops.add(first)
    return tops


def _code_files() -> list[Path]:
    """The stack's code: environments/local (the reference stack and its backends), the package marker,
    and kitcore (the base the stack's process helpers come from: libraries/ is on the image's path)."""
    files = [REPO / "environments" / "__init__.py"]
    for folder in (REPO / "environments" / "local", REPO / "libraries" / "kitcore"):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix in CODE_SUFFIXES and "__pycache__" not in path.parts:
                files.append(path)
    return files


def _dist_info_dirs(site: Path, packages: dict[str, str]) -> list[Path]:
    dists = {spec.split("@")[0] for value in packages.values() for spec in value.split(",") if "@" in spec}
    found = []
    for dist in sorted(dists):
        pattern = re.sub(r"[-_.]+", "[-_.]", dist)
        found += [p for p in site.glob("*.dist-info") if re.match(rf"(?i)^{pattern}-", p.name)]
    return found


def platform_inputs() -> tuple[str, str, dict[str, str], list[Path]]:
    packages = third_party_packages()
    files = _code_files()
    rootfs = input_hash(SUITE, *ROOTFS_PACKAGES, *MMDEBSTRAP_OPTIONS)
    platform = input_hash(rootfs, PLATFORM_DOCKERFILE, json.dumps(packages, sort_keys=True),
                          *[str(f.relative_to(REPO)) for f in files], *[f.read_bytes() for f in files])
    return rootfs, platform, packages, files


def _build_context(context: Path, base: str, packages: dict[str, str], files: list[Path]) -> None:
    site = Path(sysconfig.get_paths()["purelib"])
    (context / "Dockerfile").write_text(PLATFORM_DOCKERFILE.format(base=base))
    target = context / "site-packages"
    target.mkdir()
    for name in packages:
        source = site / name
        if (target / name).exists():
            continue
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "tests"))
        elif source.is_file():
            shutil.copy2(source, target / name)
        libs = site / f"{name}.libs"  # shared libraries bundled by manylinux wheels (libpq for psycopg_binary)
        if libs.is_dir() and not (target / libs.name).exists():
            shutil.copytree(libs, target / libs.name)
    for info in _dist_info_dirs(site, packages):
        shutil.copytree(info, target / info.name)
    for file in files:
        destination = context / "app" / file.relative_to(REPO)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(file, destination)


def ensure_platform_image(client: docker.DockerClient, progress: Progress = _quiet, timeout: float = 900.0) -> str:
    """The tag of the platform image, built now if the engine does not have it yet."""
    rootfs_hash, platform_hash, packages, files = platform_inputs()
    tag = f"{PLATFORM_REPO}:{platform_hash}"
    rootfs = f"{ROOTFS_REPO}:{rootfs_hash}"
    ensure_image(client, tag, lambda context: _build_context(context, rootfs, packages, files), progress, timeout,
                 rootfs=(rootfs, ROOTFS_PACKAGES), image="platform", build_timeout=timeout,
                 maker="environments/compose/images.py", after=lambda: _prune_older(client, tag))
    return tag


def _prune_older(client: docker.DockerClient, keep: str) -> None:
    """Remove platform images of earlier code (one per change of the stack's code); one in use stays."""
    for image in client.images.list(name=PLATFORM_REPO):
        tags = [t for t in image.tags if t.endswith(keep)]
        if tags:
            continue
        for old in image.tags:
            with contextlib.suppress(Exception):  # in use by a running project: leave it
                client.images.remove(old)


if __name__ == "__main__":  # python -m environments.compose.images: build (or find) the image, print its tag
    from environments.local.engine import Engine

    with tempfile.TemporaryDirectory(prefix="kit-compose-engine-") as workdir:
        engine = Engine(Path(workdir)).start()
        try:
            print(ensure_platform_image(engine.client(), progress=lambda m: print(f"[compose] {m}", file=sys.stderr)))
        finally:
            engine.stop()
