"""The kinds the Kubernetes API stand-in serves, and the discovery documents built from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


RESOURCES: tuple[Resource, ...] = (
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, subresources=("status",), short_names=("ns",)),
    Resource("", "v1", "pods", "Pod", subresources=("status",), short_names=("po",)),
    Resource("", "v1", "services", "Service", subresources=("status",), short_names=("svc",)),
    Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", subresources=("status",),
             short_names=("pvc",)),
    Resource("", "v1", "events", "Event", short_names=("ev",)),
    Resource("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    Resource("", "v1", "secrets", "Secret"),
    Resource("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    Resource("apps", "v1", "deployments", "Deployment", subresources=("status", "scale"), short_names=("deploy",)),
    Resource("coordination.k8s.io", "v1", "leases", "Lease"),
    Resource("events.k8s.io", "v1", "events", "Event", short_names=("ev",)),
    Resource("stream.space", "v1alpha1", "sessions", "Session", subresources=("status",), short_names=("ss",)),
    Resource("stream.space", "v1alpha1", "templates", "Template", subresources=("status",), short_names=("tpl",)),
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


def _group_doc(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list() -> dict[str, Any]:
    groups = [_group_doc(name, versions) for name, versions in group_versions().items()]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(name: str) -> dict[str, Any] | None:
    versions = group_versions().get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(name, versions)}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    entries: list[dict[str, Any]] = []
    for res in RESOURCES:
        if (res.group, res.version) != (group, version):
            continue
        entries.append({"name": res.plural, "singularName": res.singular, "namespaced": res.namespaced,
                        "kind": res.kind, "verbs": VERBS, "shortNames": list(res.short_names)})
        for sub in res.subresources:
            kind = "Scale" if sub == "scale" else res.kind
            entry = {"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": res.namespaced,
                     "kind": kind, "verbs": ["get", "patch", "update"]}
            if sub == "scale":
                entry.update(group="autoscaling", version="v1")
            entries.append(entry)
    if not entries:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}
