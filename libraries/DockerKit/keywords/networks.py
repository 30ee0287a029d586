"""Networks: create (internal by default), remove, connect and disconnect containers (a partition)."""

from __future__ import annotations

from typing import Any

from robot.api import logger
from robot.api.deco import keyword

from DockerKit.context import DockerContext, parse_pairs


class NetworkKeywords:
    def __init__(self, ctx: DockerContext) -> None:
        self.ctx = ctx

    @keyword("Create Network", tags=["networks"])
    def create_network(self, name: str | None = None, internal: bool = True,
                       labels: dict[str, str] | list[str] | str | None = None, alias: str | None = None) -> str:
        """Create a network (``internal=True``: no route out of the machine); returns its name.

        It carries the kit's label and is removed at the end of the test or suite.

        Example:
        | ${net} = | Create Network |
        | Create Network | sessions | internal=False | labels=app=streamspace |
        """
        handle = self.ctx.handle(alias)
        name = name or self.ctx.new_name("net")
        with self.ctx.call(handle, f"Creating network '{name}'", "network", name):
            handle.client.networks.create(name, internal=internal,
                                          labels={**parse_pairs(labels, "labels"), **self.ctx.kit_labels})
        self.ctx.register_removal(handle, "network", name, f"network:{name}")
        logger.info(f"Created network {name} (internal={internal})")
        return name

    @keyword("Remove Network", tags=["networks", "destructive"])
    def remove_network(self, name: str, alias: str | None = None) -> None:
        """Remove a network. Refused unless it carries an allow-listed test label.

        Example:
        | Remove Network | ${net} |
        """
        handle = self.ctx.handle(alias)
        network = self.ctx.network(handle, name)
        self.ctx.guard.check("remove", "network", name, network.attrs.get("Labels") or {})
        with self.ctx.call(handle, f"Removing network '{name}'", "network", name):
            network.remove()
        self.ctx.cleanup.forget(f"network:{name}")

    @keyword("Connect Container To Network", tags=["networks"])
    def connect_container_to_network(self, container: str, network: str, alias: str | None = None) -> None:
        """Attach a container to a network (it heals a partition made with `Disconnect Container From Network`).

        Example:
        | Connect Container To Network | ${name} | ${net} |
        """
        handle = self.ctx.handle(alias)
        target = self.ctx.container(handle, container)
        net = self.ctx.network(handle, network)
        with self.ctx.call(handle, f"Connecting container '{container}' to network '{network}'"):
            net.connect(target)
        self.ctx.cleanup.forget(f"partition:{container}:{network}")

    @keyword("Disconnect Container From Network", tags=["networks", "destructive"])
    def disconnect_container_from_network(self, container: str, network: str, alias: str | None = None) -> None:
        """Detach a container from a network: a network partition. Allow-listed labels only.

        The container is connected again at the end of the test (if it still exists), unless
        `Connect Container To Network` healed it before.

        Example:
        | Disconnect Container From Network | ${agent} | ${net} |
        """
        handle = self.ctx.handle(alias)
        target = self.ctx.container(handle, container)
        self.ctx.guard.check("disconnect", "container", target.name, target.labels)
        net = self.ctx.network(handle, network)
        with self.ctx.call(handle, f"Disconnecting container '{container}' from network '{network}'"):
            net.disconnect(target)

        def heal(client: Any) -> None:
            client.networks.get(net.id).connect(target.id)

        self.ctx.register_undo(handle, f"partition of {container} from {network}",
                               f"partition:{container}:{network}", heal)

    @keyword("Network Should Exist", tags=["networks"])
    def network_should_exist(self, name: str, alias: str | None = None) -> None:
        """Fail unless the engine has a network called ``name``.

        Example:
        | Network Should Exist | streamspace |
        """
        handle = self.ctx.handle(alias)
        names = sorted(n.name for n in handle.client.networks.list())
        if name not in names:
            raise AssertionError(f"No network '{name}' on the engine at {handle.url}; networks: {', '.join(names)}")

    @keyword("Container Should Be On Network", tags=["networks"])
    def container_should_be_on_network(self, container: str, network: str, alias: str | None = None) -> None:
        """Fail unless the container is attached to ``network``.

        Example:
        | Container Should Be On Network | streamspace-${session} | streamspace |
        """
        handle = self.ctx.handle(alias)
        target = self.ctx.container(handle, container)
        target.reload()
        attached = sorted((target.attrs.get("NetworkSettings") or {}).get("Networks") or {})
        if network not in attached:
            raise AssertionError(f"Container '{container}' is not on network '{network}'; "
                                 f"it is on: {', '.join(attached) or 'no network'}")
