"""Libraries import only downward: no keyword library (nor kitcore, nor kitreport) imports the
environments, neither with an import statement nor by a module name handed to importlib."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIBRARIES = Path(__file__).resolve().parents[2] / "libraries"
UPPER = ("environments", "tests", "benchmarks")


def _is_upper(module: str | None) -> bool:
    return bool(module) and any(module == top or module.startswith(f"{top}.") for top in UPPER)


def upward_imports(source: str) -> list[str]:
    """Each import of an environment (or a test or benchmark) in ``source``, as 'line N: module'."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: {alias.name}" for alias in node.names if _is_upper(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and _is_upper(node.module):
            found.append(f"line {node.lineno}: {node.module}")
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in ("import_module", "__import__") and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) and _is_upper(first.value):
                    found.append(f"line {node.lineno}: {first.value}")
    return found


def test_no_library_imports_an_environment() -> None:
    offenders = {}
    for path in sorted(LIBRARIES.rglob("*.py")):
        found = upward_imports(path.read_text())
        if found:
            offenders[str(path.relative_to(LIBRARIES))] = found
    assert not offenders, (
        "libraries must not import environments (they run them as programs or load the driver module an "
        f"environment's variable file names): {offenders}")


@pytest.mark.parametrize("source", [
    "from environments.local.images import ensure_busybox_image\n",
    "def f():\n    from environments.local import reaper\n",
    "import environments.kind.cluster as c\n",
    "import importlib\nimportlib.import_module('environments.kind.driver')\n",
    "__import__('environments.compose.driver')\n",
])
def test_each_way_of_importing_an_environment_is_caught(source: str) -> None:
    assert upward_imports(source), source


def test_downward_imports_pass() -> None:
    assert not upward_imports("from kitcore import KitError\nimport docker\nfrom . import sibling\n"
                              "from environmental import x\nimportlib.import_module(module_name)\n")
