"""Listing an engine's containers while others remove some of theirs."""

from __future__ import annotations

from typing import Any

import docker.errors

# Podman's list reads its container ids, then each container: one removed in between fails the whole list
# ("container <id> does not exist in database: no such container"); asked again, it lists without it
LIST_RACE = "does not exist in database"
LIST_TRIES = 5


def list_containers(client: docker.DockerClient, **options: Any) -> list[Any]:
    """``client.containers.list(ignore_removed=True, **options)``: a container removed while the engine lists
    them is left out (with Docker, by docker-py; with Podman, by asking again), whatever else fails is raised."""
    for attempt in range(1, LIST_TRIES + 1):
        try:
            return client.containers.list(ignore_removed=True, **options)
        except docker.errors.APIError as error:
            if attempt == LIST_TRIES or LIST_RACE not in str(error.explanation or error):
                raise
    raise AssertionError("unreachable")


__all__ = ["list_containers"]
