"""Every library documents itself through libdoc, with a documented keyword each."""

from __future__ import annotations

import json

import pytest
from robot.libdoc import libdoc

from kitcore.docs import LIBRARIES, generate


def test_every_library_has_a_libdoc_page(tmp_path):
    pages = generate(tmp_path)
    assert [p.name for p in pages] == ["index.html", *[f"{name.rsplit('.', 1)[-1]}.html" for name in LIBRARIES]]
    assert all(p.stat().st_size > 10_000 for p in pages[1:])


@pytest.mark.parametrize("name", LIBRARIES)
def test_every_keyword_is_documented_with_an_example(tmp_path, name):
    spec = tmp_path / f"{name}.json"
    assert libdoc(name, str(spec), format="JSON", quiet=True) == 0
    data = json.loads(spec.read_text())
    assert data["keywords"], f"{name} has no keywords"
    undocumented = [kw["name"] for kw in data["keywords"] if not kw["doc"].strip()]
    assert undocumented == [], f"{name}: keywords without documentation: {undocumented}"
    without_example = [kw["name"] for kw in data["keywords"] if "Example" not in kw["doc"]]
    assert without_example == [], f"{name}: keywords without an example: {without_example}"
