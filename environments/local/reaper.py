"""The local stack's part of the watcher (:mod:`kitcore.reaper`): besides process groups and temp
directories, a process that dies may leave engine objects (containers, volumes and networks carrying
a run's label) and its lease on the private Docker engine. This module registers those
(:func:`guard_labelled`, :func:`guard_private_docker`), removes them for the watcher
(:func:`remove_left`), and after a clean-up removes the port-forwarding rules and DNS servers that
containers which died with their engine leave, and the X display files of killed X servers
(:func:`after_clean`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kitcore.containers import list_containers
from kitcore.reaper import GROUP_GRACE, clean, guard, guard_path, release, start, temp_dir
from kitcore.reaper import guard_group as _guard_group

ENGINE_TIMEOUT = 20  # seconds per engine call of the watcher
MODULE = __name__


def guard_group(pid: int, name: str, grace: float = GROUP_GRACE) -> int:
    """The process group led by ``pid``; once the watcher stopped it, :func:`after_clean` runs (a
    container engine's group leaves port-forwarding rules)."""
    return _guard_group(pid, name, grace, module=MODULE)


def guard_labelled(url: str, label: str, podman: bool = False) -> int:
    """Containers, volumes and networks carrying ``label`` on the engine at ``url``; ``podman``: a Podman
    service, whose storage is asked again once its group is stopped (a create it was serving when its
    client died can finish after the watcher's listing)."""
    return guard("labelled", url=url, label=label, podman=podman, module=MODULE)


def guard_private_docker(home: Path) -> int:
    """This process's lease on the private Docker engine of ``home``: the engine stops if no run holds one."""
    return guard("private-docker", home=str(home), module=MODULE)


def remove_left(item: dict[str, Any]) -> list[str]:
    """For the watcher: remove a thing of this module's kinds; returns what was removed."""
    if item["kind"] == "labelled":
        return _remove_labelled(item)
    if item["kind"] == "private-docker":
        from environments.local.dockerd import PrivateDocker

        return PrivateDocker(Path(item["home"])).stop_abandoned()
    raise ValueError(f"unknown kind '{item['kind']}'")


def _remove_labelled(item: dict[str, Any]) -> list[str]:
    import contextlib

    import docker

    from environments.local.engine import cleanup_by_label

    removed: list[str] = []
    with contextlib.closing(docker.DockerClient(base_url=item["url"], timeout=ENGINE_TIMEOUT,
                                                version="1.41")) as client:
        for network in client.networks.list(filters={"label": item["label"]}):
            # what a platform attached to the run's network carries no label of the kit's
            for container in list_containers(client, all=True, filters={"network": network.name}):
                with contextlib.suppress(Exception):
                    container.remove(force=True, v=True)
                    removed.append(f"container:{container.name}")
        removed += cleanup_by_label(client, item["label"])
    return removed


def after_clean(items: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Containers that died with their engine keep their port-forwarding rules (and DNS server); X servers
    killed with their group keep their display's lock file and socket; a Podman service stopped while it
    created a container keeps that container in its storage."""
    if not any(item["kind"] in ("labelled", "group") for item in items):
        return [], []
    from environments.local import leaks, netrules
    from environments.local.engine import remove_from_podman_storage

    late = [name for item in items if item["kind"] == "labelled" and item.get("podman")
            for name in remove_from_podman_storage(item["label"])]
    gone, errors = netrules.remove_stale()
    return late + gone + leaks.remove_stale_x_displays(), [f"port-forwarding rule {error}" for error in errors]


__all__ = ["clean", "guard", "guard_group", "guard_labelled", "guard_path", "guard_private_docker", "release",
           "remove_left", "start", "temp_dir"]
