"""Listing containers while another run removes some: Podman's list race is asked again, nothing else is."""

from __future__ import annotations

from typing import Any

import docker.errors
import pytest

from kitcore.containers import LIST_TRIES, list_containers

RACE = "container 54809ba94918 does not exist in database: no such container"


class Engine:
    """A client whose list fails with the given explanations first, then lists ``["a"]``."""

    def __init__(self, *failures: str) -> None:
        self.failures = list(failures)
        self.asked: list[dict[str, Any]] = []
        self.containers = self

    def list(self, **options: Any) -> list[str]:
        self.asked.append(options)
        if self.failures:
            raise docker.errors.APIError("500 Server Error", explanation=self.failures.pop(0))
        return ["a"]


def test_a_container_removed_while_listing_is_left_out() -> None:
    engine = Engine(RACE, RACE)
    assert list_containers(engine, all=True, filters={"label": "x"}) == ["a"]  # type: ignore[arg-type]
    assert engine.asked == [{"all": True, "filters": {"label": "x"}, "ignore_removed": True}] * 3


def test_other_errors_and_a_race_that_does_not_end_are_raised() -> None:
    with pytest.raises(docker.errors.APIError, match="permission denied"):
        list_containers(Engine("permission denied"))  # type: ignore[arg-type]
    engine = Engine(*[RACE] * LIST_TRIES)
    with pytest.raises(docker.errors.APIError, match="does not exist in database"):
        list_containers(engine)  # type: ignore[arg-type]
    assert len(engine.asked) == LIST_TRIES
