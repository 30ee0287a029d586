"""Discovery documents built from :data:`.resources.RESOURCES`: the legacy ones (``APIVersions``,
``APIGroupList``, ``APIGroup``, ``APIResourceList``) and aggregated discovery
(``apidiscovery.k8s.io`` v2 and v2beta1 ``APIGroupDiscoveryList``), which client-go 0.26+ and kubectl
ask for first (``Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,...``)."""

from __future__ import annotations

from typing import Any

from environments.local.kubeapi.resources import Resource, group_versions, served

VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]
SUB_VERBS = ["get", "patch", "update"]
# subresources a real API server lists that are streams, not stored data: (name, kind, verbs)
STREAMS = {"Pod": [("portforward", "PodPortForwardOptions", ["create", "get"])]}
AGGREGATED = ("v2", "v2beta1")
Doc = dict[str, Any]


def aggregated_content_type(version: str) -> str:
    return f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"


def wanted_aggregated(accept: str) -> str | None:
    """The aggregated discovery version the client asks for first, or None for the legacy documents."""
    for item in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in item.split(";")[1:])}
        if params.get("g") == "apidiscovery.k8s.io" and params.get("as") == "APIGroupDiscoveryList" \
                and params.get("v") in AGGREGATED:
            return params["v"]
        if item.split(";")[0].strip() in ("application/json", "*/*", "application/*"):
            return None
    return None


def _subresources(res: Resource) -> list[tuple[str, str, str, str, list[str]]]:
    """(name, group, version, kind, verbs) of each subresource."""
    subs = [(sub, "autoscaling", "v1", "Scale", SUB_VERBS) if sub == "scale"
            else (sub, res.group, res.version, res.kind, SUB_VERBS) for sub in res.subresources]
    subs += [(name, "", "v1", kind, verbs) for name, kind, verbs in STREAMS.get(res.kind, [])]
    return subs


def api_versions() -> Doc:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}


def _group_doc(name: str, versions: list[str]) -> Doc:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list() -> Doc:
    groups = [_group_doc(name, versions) for name, versions in group_versions().items()]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(name: str) -> Doc | None:
    versions = group_versions().get(name)
    if not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(name, versions)}


def api_resource_list(group: str, version: str) -> Doc | None:
    entries: list[Doc] = []
    for res in served(group, version):
        entry = {"name": res.plural, "singularName": res.singular, "namespaced": res.namespaced,
                 "kind": res.kind, "verbs": VERBS, "shortNames": list(res.short_names)}
        if res.categories:
            entry["categories"] = list(res.categories)
        entries.append(entry)
        for sub, sub_group, sub_version, kind, verbs in _subresources(res):
            sub_entry = {"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": res.namespaced,
                         "kind": kind, "verbs": verbs}
            if sub_group != res.group:
                sub_entry.update(group=sub_group, version=sub_version)
            entries.append(sub_entry)
    if not entries:
        return None
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": entries}


def _aggregated_resource(res: Resource) -> Doc:
    doc: Doc = {"resource": res.plural, "responseKind": {"group": res.group, "version": res.version, "kind": res.kind},
                "scope": "Namespaced" if res.namespaced else "Cluster", "singularResource": res.singular,
                "verbs": VERBS}
    if res.short_names:
        doc["shortNames"] = list(res.short_names)
    if res.categories:
        doc["categories"] = list(res.categories)
    subs = [{"subresource": sub, "responseKind": {"group": g, "version": v, "kind": kind}, "verbs": verbs}
            for sub, g, v, kind, verbs in _subresources(res)]
    if subs:
        doc["subresources"] = subs
    return doc


def aggregated(core: bool, version: str) -> Doc:
    """``/api`` (core) or ``/apis`` as an ``APIGroupDiscoveryList``."""
    groups = {"": ["v1"]} if core else group_versions()
    items = [{"metadata": {"name": name, "creationTimestamp": None},
              "versions": [{"version": v, "resources": [_aggregated_resource(r) for r in served(name, v)],
                            "freshness": "Current"} for v in versions]}
             for name, versions in groups.items()]
    return {"kind": "APIGroupDiscoveryList", "apiVersion": f"apidiscovery.k8s.io/{version}", "metadata": {},
            "items": items}


GIT_VERSION = "v1.31.0-kit-stand-in"


def version_info() -> Doc:
    return {"major": "1", "minor": "31", "gitVersion": GIT_VERSION, "gitCommit": "stand-in",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "none (Python stand-in)",
            "compiler": "none", "platform": "linux/amd64"}
