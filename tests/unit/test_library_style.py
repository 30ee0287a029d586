"""One library style: every getter of every library takes the same arguments in the same order, and
``message=`` replaces a getter's failure message.

The common signature (the Browser library's) is written once, in ``kitcore/getters.py``:
``<subject>, assertion_operator, assertion_expected, message, timeout, poll, <options by name only>``.
"""

from __future__ import annotations

import inspect
import itertools
import textwrap
from pathlib import Path
from typing import Any

import pytest
from robot import run
from robot.api import ExecutionResult
from robot.libdocpkg import LibraryDocumentation
from robotlibcore import DynamicCore, keyword

from kitcore import ASSERTIONS_DOC, AssertionOperator, Check, KitError, getter
from kitcore.assertions import get_and_assert
from kitcore.docs import LIBRARIES
from kitcore.getters import COMMON

OLD_NAMES = {"expected", "operator", "retry_timeout"}
OPERATOR_WORDS = ("operator",)


def _arguments(kw: Any) -> list[Any]:
    return [arg for arg in kw.args if not arg.is_marker]


def _asserting(kw: Any) -> bool:
    return any(word in (arg.name or "") for arg in _arguments(kw) for word in OPERATOR_WORDS)


@pytest.fixture(scope="module")
def documented() -> dict[str, Any]:
    return {name: LibraryDocumentation(name) for name in LIBRARIES}


@pytest.mark.parametrize("library", LIBRARIES)
def test_every_getter_has_the_common_signature(documented: dict[str, Any], library: str) -> None:
    broken = []
    for kw in documented[library].keywords:
        if not _asserting(kw):
            continue
        names = [arg.name for arg in _arguments(kw)]
        kinds = [arg.kind for arg in _arguments(kw)]
        if "assertion_operator" not in names:
            broken.append(f"{kw.name}: takes {names}, not assertion_operator")
            continue
        start = names.index("assertion_operator")
        subject, common, options = names[:start], names[start:start + len(COMMON)], names[start + len(COMMON):]
        if tuple(common) != COMMON:
            broken.append(f"{kw.name}: {common} after its subject {subject}, not {list(COMMON)}")
        if any(kind != "POSITIONAL_OR_NAMED" for kind in kinds[:start + len(COMMON)]):
            broken.append(f"{kw.name}: its subject and common arguments must be usable by position")
        if any(kind != "NAMED_ONLY" for kind in kinds[start + len(COMMON):]):
            broken.append(f"{kw.name}: its options {options} must be named only")
        if set(names) & OLD_NAMES:
            broken.append(f"{kw.name}: still takes {sorted(set(names) & OLD_NAMES)}")
        types = {arg.name: str(arg.type) for arg in _arguments(kw)}
        if "AssertionOperator" not in types["assertion_operator"]:
            broken.append(f"{kw.name}: assertion_operator is typed {types['assertion_operator']}")
    assert broken == [], f"{library}: getters that leave the common signature:\n" + "\n".join(broken)


def test_the_libraries_have_getters_to_check(documented: dict[str, Any]) -> None:
    counted = {name: sum(_asserting(kw) for kw in doc.keywords) for name, doc in documented.items()}
    ten = [name for name in LIBRARIES if name not in ("ChaosKit", "kitreport.recording.FigureKeywords")]
    assert all(counted[name] > 0 for name in ten), counted
    assert sum(counted.values()) >= 50


@pytest.mark.parametrize("library", LIBRARIES)
def test_the_operators_are_explained_once_in_the_intro(documented: dict[str, Any], library: str) -> None:
    doc = documented[library]
    first_line = ASSERTIONS_DOC.splitlines()[0]
    if not any(_asserting(kw) for kw in doc.keywords):
        assert first_line not in doc.doc
        return
    assert doc.doc.count(first_line) == 1, f"{library}'s intro does not explain the getters' arguments"
    assert doc.doc.count("= Assertions =") == 1
    repeated = [kw.name for kw in doc.keywords if "``not contains``" in kw.doc or "{value_type}" in kw.doc]
    assert repeated == [], f"{library}: keywords that repeat the intro's explanation: {repeated}"


# -- the decorator, on a fake library -----------------------------------------------------------------------


class FakeLibrary(DynamicCore):
    """A library of one getter, as the kit's libraries write them."""

    def __init__(self) -> None:
        self.values = iter(())
        DynamicCore.__init__(self, [])

    @keyword("Get Thing", tags=["getter"])
    @getter
    def get_thing(self, name: str, part: str = "all", *, check: Check, alias: str | None = None) -> str:
        """The thing called ``name``; can assert.

        Example:
        | Get Thing | door | == | open |
        """
        return check(lambda: next(self.values), f"Thing {name} ({part}, {alias})")

    @keyword("Thing Should Be")
    @getter(operator_required=True, timeout="1s", poll="0.01s")
    def thing_should_be(self, name: str, *, check: Check) -> str:
        """Assert the thing.

        Example:
        | Thing Should Be | door | == | open |
        """
        return check(lambda: next(self.values), f"Thing {name}")


def test_libdoc_and_robotlibcore_see_the_whole_signature() -> None:
    library = FakeLibrary()
    assert library.get_keyword_arguments("Get Thing") == [
        "name", ("part", "all"), ("assertion_operator", None), ("assertion_expected", None), ("message", None),
        ("timeout", None), ("poll", None), "*", ("alias", None)]
    assert library.get_keyword_arguments("Thing Should Be") == [
        "name", "assertion_operator", "assertion_expected", ("message", None), ("timeout", "1s"), ("poll", "0.01s")]
    types = library.get_keyword_types("Get Thing")
    assert types["assertion_operator"] == AssertionOperator | None
    assert types["name"] is str and types["alias"] == str | None
    assert "check" not in types and "check" not in inspect.signature(library.get_thing).parameters
    assert library.get_keyword_source("Get Thing").startswith(str(Path(__file__)))


def test_a_getter_takes_the_operator_after_its_subject() -> None:
    library = FakeLibrary()
    library.values = iter(["open"])
    assert library.run_keyword("Get Thing", ["door", "front", "==", "open"]) == "open"
    library.values = iter(["open"])
    assert library.get_thing("door", assertion_operator="==", assertion_expected="open", alias="x") == "open"
    library.values = iter(["open"])
    assert library.get_thing("door") == "open"


def test_a_getter_refuses_an_unknown_operator_and_stray_arguments() -> None:
    library = FakeLibrary()
    library.values = iter(["open"])
    with pytest.raises(KitError, match="'=~' is not an assertion operator"):
        library.get_thing("door", "all", "=~", "open")
    with pytest.raises(TypeError):
        library.get_thing("door", "all", "==", "open", None, None, None, "alias-by-position")


def test_a_getter_must_declare_check_and_may_not_declare_the_common_arguments() -> None:
    with pytest.raises(TypeError, match="check: Check"):
        getter(lambda self, name: name)

    def twice(self: Any, name: str, timeout: str, *, check: Check) -> str:
        return name

    with pytest.raises(TypeError, match="declares timeout itself"):
        getter(twice)


def test_message_replaces_the_failure_message_with_its_placeholders() -> None:
    library = FakeLibrary()
    library.values = iter(["closed"])
    with pytest.raises(AssertionError) as caught:
        library.get_thing("door", assertion_operator="==", assertion_expected="open",
                           message="the door is {value} ({value_type}), not {expected} ({expected_type})")
    assert str(caught.value) == "the door is 'closed' (str), not 'open' (str)"


def test_message_replaces_the_failure_message_after_retrying_too() -> None:
    library = FakeLibrary()
    library.values = itertools.cycle(["closed", "ajar"])
    with pytest.raises(AssertionError) as caught:
        library.thing_should_be("door", "==", "open", "the door stayed {value}", "0.2s", "0.01s")
    assert str(caught.value) in ("the door stayed 'closed'", "the door stayed 'ajar'")
    library.values = iter(["closed", "closed", "open"])
    assert library.thing_should_be("door", "==", "open", message="never {value}") == "open"


def test_without_message_the_kit_says_what_it_read_and_how_long_it_tried() -> None:
    library = FakeLibrary()
    library.values = itertools.repeat("closed")
    with pytest.raises(AssertionError, match=r"Thing door should be == 'open': it was still 'closed' after .* tries"):
        library.thing_should_be("door", "==", "open", timeout="0.1s")


def test_an_error_reading_the_value_keeps_its_own_message() -> None:
    def broken() -> str:
        raise ConnectionError("no answer")

    with pytest.raises(ConnectionError, match="no answer"):
        get_and_assert(broken, AssertionOperator["=="], "open", "door", message="custom {value}")
    with pytest.raises(AssertionError, match="the last try failed: ConnectionError: no answer"):
        get_and_assert(broken, AssertionOperator["=="], "open", "door", "0.1s", "0.02s", message="custom {value}")


def test_a_message_with_an_unknown_placeholder_is_refused_at_once() -> None:
    library = FakeLibrary()
    library.values = iter(["open"])
    with pytest.raises(KitError, match=r"message='\{valeu\}' cannot be filled in.*Fix: use only \{value\}"):
        library.get_thing("door", assertion_operator="==", assertion_expected="open", message="{valeu}")
    library.values = iter(["closed"])
    with pytest.raises(AssertionError, match=r"^\{literal\} closed$"):
        library.get_thing("door", assertion_operator="==", assertion_expected="open", message="{{literal}} closed")


def test_robot_framework_runs_a_getter_by_position_and_with_a_message(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROBOT_OPTIONS", raising=False)
    (tmp_path / "FakeGetters.py").write_text(textwrap.dedent('''
        from robotlibcore import DynamicCore, keyword
        from kitcore import Check, getter

        class FakeGetters(DynamicCore):
            def __init__(self):
                DynamicCore.__init__(self, [])

            @keyword("Get Door State")
            @getter
            def get_door_state(self, door: str, *, check: Check, alias: str | None = None) -> str:
                return check(lambda: "closed" if door == "front" else "open", f"State of door {door}")
    '''))
    suite = tmp_path / "getters.robot"
    suite.write_text(textwrap.dedent("""
        *** Settings ***
        Library    FakeGetters.py

        *** Test Cases ***
        By Position
            ${state} =    Get Door State    back    ==    open
            Should Be Equal    ${state}    open
            Get Door State    back    contains    pe    timeout=1s    poll=0.1s    alias=x

        With A Message
            Run Keyword And Expect Error    the front door is 'closed'
            ...    Get Door State    front    ==    open    message=the front door is {value}
            Run Keyword And Expect Error    the front door is 'closed'
            ...    Get Door State    front    ==    open    the front door is {value}    0.2s    0.05s
    """))
    with (tmp_path / "stdout.txt").open("w") as out:
        rc = run(str(suite), outputdir=str(tmp_path), output=str(tmp_path / "output.xml"), log=None, report=None,
                 xunit=None, stdout=out, stderr=out, pythonpath=[str(tmp_path)])
    result = ExecutionResult(str(tmp_path / "output.xml"))
    assert rc == 0, (tmp_path / "stdout.txt").read_text()
    assert result.statistics.total.passed == 2


@pytest.mark.parametrize("library", [name for name in LIBRARIES if "." not in name])  # not kitreport's figures
def test_every_library_is_a_kit_library(library: str) -> None:
    """One frame for every library (kitcore.library.KitLibrary): global scope, Robot doc format, the getter
    arguments explained in the intro, the version from the module, a cleanup listener."""
    import importlib

    from kitcore.library import KitLibrary

    cls = getattr(importlib.import_module(library), library)
    assert issubclass(cls, KitLibrary), f"{library} is not built on KitLibrary: {cls.__mro__}"
    assert (cls.ROBOT_LIBRARY_SCOPE, cls.ROBOT_LIBRARY_DOC_FORMAT) == ("GLOBAL", "ROBOT")
    assert cls.ROBOT_LIBRARY_VERSION, f"{library} has no version"
