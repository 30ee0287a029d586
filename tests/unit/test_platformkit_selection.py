"""The listing keywords of PlatformKit declare their filters and where to ask once (``PlatformKit.selection``):
Robot Framework and libdoc still see every option by name and type, and the keyword gets them as one bundle."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from robot.libdoc import LibraryDocumentation

from kitcore import AssertionOperator, Check, getter
from PlatformKit.selection import Selection, selecting

LISTING = {
    "List Sessions": ["user", "platform", "state", "replica", "as_user", "alias"],
    "List Session Names": ["assertion_operator", "assertion_expected", "message", "timeout", "poll", "user",
                           "platform", "state", "replica", "as_user", "alias", "excluding_state"],
    "List Session Platforms": ["assertion_operator", "assertion_expected", "message", "timeout", "poll", "user",
                               "platform", "state", "replica", "as_user", "alias"],
    "Get Session Count": ["assertion_operator", "assertion_expected", "message", "timeout", "poll", "user",
                          "platform", "state", "replica", "as_user", "alias"],
    "Get Agents": ["platform", "status", "replica", "as_user", "alias"],
    "Get Agent Ids": ["assertion_operator", "assertion_expected", "message", "timeout", "poll", "platform", "status",
                      "replica", "as_user", "alias"],
    "Get Session State": ["name", "assertion_operator", "assertion_expected", "message", "timeout", "poll", "replica",
                          "as_user", "alias"],
    "Get Agent Status": ["agent_id", "assertion_operator", "assertion_expected", "message", "timeout", "poll",
                         "replica", "as_user", "alias"],
}


class Shelf:
    """A stand-in library: lists what it is asked for, so a test sees the selection a keyword got."""

    @getter
    @selecting("user", "state")
    def count_things(self, *, check: Check, selection: Selection, spare: str | None = None) -> Any:
        return check(lambda: (selection.filters, selection.reach, spare), "Things")

    @selecting("platform")
    def list_things(self, kind: str, selection: Selection) -> Any:
        return kind, selection


def test_libdoc_shows_every_option_of_the_listing_keywords_by_name() -> None:
    keywords = {kw.name: kw for kw in LibraryDocumentation("PlatformKit").keywords}
    for name, expected in LISTING.items():
        shown = [arg.name for arg in keywords[name].args if arg.name]  # the bare "*" has no name
        assert shown == expected, f"{name} shows {shown}"
        assert "selection" not in shown


def test_a_keyword_gets_its_options_as_one_selection() -> None:
    shelf = Shelf()
    filters, reach, spare = shelf.count_things(user="alice", replica="api-2", alias="p", spare="x")
    assert filters == {"user": "alice", "state": None}
    assert reach == {"replica": "api-2", "as_user": None, "alias": "p"}
    assert spare == "x"
    assert shelf.count_things(AssertionOperator["=="], ({"user": None, "state": "running"},
                                                        {"replica": None, "as_user": None, "alias": None}, None),
                              state="running")[0] == {"user": None, "state": "running"}


def test_options_stay_positional_where_the_keyword_takes_its_selection_so() -> None:
    kind, selection = Shelf().list_things("desk", "docker", "api-3")
    assert (kind, selection.filters, selection.replica) == ("desk", {"platform": "docker"}, "api-3")
    parameters = inspect.signature(Shelf.list_things).parameters
    assert list(parameters) == ["self", "kind", "platform", "replica", "as_user", "alias"]
    assert parameters["platform"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD


def test_an_unknown_option_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'owner'"):
        Shelf().list_things("desk", owner="bob")
    with pytest.raises(TypeError, match="unknown filters colour"):
        selecting("colour")(lambda self, selection: None)
    with pytest.raises(TypeError, match="must take the parameter `selection: Selection`"):
        selecting("user")(lambda self: None)
