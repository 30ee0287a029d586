"""The kinds the Kubernetes API stand-in serves (discovery documents: :mod:`.discovery`)."""

from __future__ import annotations

from dataclasses import dataclass

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Resource:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    subresources: tuple[str, ...] = ()
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    custom: bool = False  # a custom resource (CRD): no strategic merge patch, as on a real cluster

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def qualified(self) -> str:
        """``pods`` or ``leases.coordination.k8s.io``, as Kubernetes names a resource in errors."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


ALL = ("all",)
RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, subresources=("status",), short_names=("ns",)),
    Resource("", "v1", "nodes", "Node", namespaced=False, subresources=("status",), short_names=("no",)),
    Resource("", "v1", "pods", "Pod", subresources=("status",), short_names=("po",), categories=ALL),
    Resource("", "v1", "services", "Service", subresources=("status",), short_names=("svc",), categories=ALL),
    Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", subresources=("status",),
             short_names=("pvc",)),
    Resource("", "v1", "events", "Event", short_names=("ev",)),
    Resource("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    Resource("", "v1", "secrets", "Secret"),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    Resource("apps", "v1", "deployments", "Deployment", subresources=("status", "scale"), short_names=("deploy",),
             categories=ALL),
    Resource("coordination.k8s.io", "v1", "leases", "Lease"),
    Resource("events.k8s.io", "v1", "events", "Event", short_names=("ev",)),
    Resource("stream.space", "v1alpha1", "sessions", "Session", subresources=("status",), short_names=("ss",),
             custom=True),
    Resource("stream.space", "v1alpha1", "templates", "Template", subresources=("status",), short_names=("tpl",),
             custom=True),
    Resource("stream.space", "v1alpha1", "applicationinstalls", "ApplicationInstall", subresources=("status",),
             short_names=("appinstall",), custom=True),
)


def find(group: str, version: str, plural: str) -> Resource | None:
    for resource in RESOURCES:
        if (resource.group, resource.version, resource.plural) == (group, version, plural):
            return resource
    return None


def group_versions() -> dict[str, list[str]]:
    """Named groups (not the core group) and their versions, in declaration order."""
    groups: dict[str, list[str]] = {}
    for resource in RESOURCES:
        if resource.group and resource.version not in groups.setdefault(resource.group, []):
            groups[resource.group].append(resource.version)
    return groups


def served(group: str, version: str) -> list[Resource]:
    return [res for res in RESOURCES if (res.group, res.version) == (group, version)]


def by_kind(group_version: str, kind: str) -> Resource | None:
    for resource in RESOURCES:
        if (resource.group_version, resource.kind) == (group_version, kind):
            return resource
    return None
