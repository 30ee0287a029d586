"""Server-side printing: ``meta.k8s.io/v1`` ``Table`` answers, which ``kubectl get`` asks for
(``Accept: application/json;as=Table;v=v1;g=meta.k8s.io, ...``). Columns follow the real API server
for the built-in kinds and the ``additionalPrinterColumns`` of StreamSpace's CRDs."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

from environments.local.kubeapi.resources import Resource

Obj = dict[str, Any]
Cell = Callable[[Obj], Any]
Column = tuple[str, str, int, Cell]  # name, type, priority (1: only with -o wide), cell


def wants_table(accept: str) -> bool:
    for item in accept.split(","):
        params = {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in item.split(";")[1:])}
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            return True
        if item.split(";")[0].strip() in ("application/json", "*/*"):
            return False
    return False


def _path(*keys: str) -> Cell:
    def cell(obj: Obj) -> Any:
        value: Any = obj
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return "<none>" if value is None else value
    return cell


def age(obj: Obj) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    since = datetime.datetime.now(datetime.UTC) - datetime.datetime.fromisoformat(created.replace("Z", "+00:00"))
    seconds = max(int(since.total_seconds()), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:  # as kubectl shows durations: 119s, 2m, 119m, 2h, 47h, 2d
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _pod_ready(pod: Obj) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    total = len((pod.get("spec") or {}).get("containers") or [])
    return f"{sum(1 for s in statuses if s.get('ready'))}/{total}"


def _pod_status(pod: Obj) -> str:
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    status = pod.get("status") or {}
    return status.get("reason") or status.get("phase") or "Unknown"


def _restarts(pod: Obj) -> int:
    return sum(int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or [])


def _containers(obj: Obj, what: str) -> str:
    spec = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
    return ",".join(str(c.get(what, "")) for c in spec.get("containers") or [])


def _ports(svc: Obj) -> str:
    ports = (svc.get("spec") or {}).get("ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol', 'TCP')}" for p in ports) or "<none>"


def _node_ready(node: Obj) -> str:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return "Ready" if condition.get("status") == "True" else "NotReady"
    return "Unknown"


def _int(*keys: str) -> Cell:
    read = _path(*keys)
    return lambda obj: read(obj) if read(obj) != "<none>" else 0


NAME: Column = ("Name", "string", 0, _path("metadata", "name"))
AGE: Column = ("Age", "string", 0, age)
COLUMNS: dict[str, list[Column]] = {
    "Pod": [NAME, ("Ready", "string", 0, _pod_ready), ("Status", "string", 0, _pod_status),
            ("Restarts", "string", 0, _restarts), AGE, ("IP", "string", 1, _path("status", "podIP")),
            ("Node", "string", 1, _path("spec", "nodeName"))],
    "Deployment": [NAME, ("Ready", "string", 0,
                          lambda d: f"{_int('status', 'readyReplicas')(d)}/{_int('spec', 'replicas')(d)}"),
                   ("Up-to-date", "integer", 0, _int("status", "updatedReplicas")),
                   ("Available", "integer", 0, _int("status", "availableReplicas")), AGE,
                   ("Containers", "string", 1, lambda d: _containers(d, "name")),
                   ("Images", "string", 1, lambda d: _containers(d, "image"))],
    "Service": [NAME, ("Type", "string", 0, lambda s: (s.get("spec") or {}).get("type", "ClusterIP")),
                ("Cluster-IP", "string", 0, _path("spec", "clusterIP")),
                ("External-IP", "string", 0, lambda _s: "<none>"),
                ("Port(s)", "string", 0, _ports), AGE],
    "Namespace": [NAME, ("Status", "string", 0, _path("status", "phase")), AGE],
    "Node": [NAME, ("Status", "string", 0, _node_ready), ("Roles", "string", 0, lambda _n: "<none>"), AGE,
             ("Version", "string", 0, _path("status", "nodeInfo", "kubeletVersion"))],
    "PersistentVolumeClaim": [NAME, ("Status", "string", 0, _path("status", "phase")),
                              ("Volume", "string", 0, _path("spec", "volumeName")),
                              ("Capacity", "string", 0, _path("status", "capacity", "storage")),
                              ("StorageClass", "string", 0, _path("spec", "storageClassName")), AGE],
    "Lease": [NAME, ("Holder", "string", 0, _path("spec", "holderIdentity")), AGE],
    "Session": [NAME, ("User", "string", 0, _path("spec", "user")),
                ("Template", "string", 0, _path("spec", "template")),
                ("State", "string", 0, _path("spec", "state")), ("Phase", "string", 0, _path("status", "phase")),
                ("URL", "string", 0, _path("status", "url")), AGE],
    "Template": [NAME, ("Display Name", "string", 0, _path("spec", "displayName")),
                 ("Category", "string", 0, _path("spec", "category")),
                 ("Image", "string", 0, _path("spec", "baseImage")),
                 ("Memory", "string", 0, _path("spec", "defaultResources", "memory")),
                 ("Valid", "boolean", 0, _path("status", "valid")), AGE],
    "ApplicationInstall": [NAME, ("Template", "string", 0, _path("spec", "templateName")),
                           ("Display Name", "string", 0, _path("spec", "displayName")),
                           ("Phase", "string", 0, _path("status", "phase")), AGE],
}


def table(res: Resource, objects: list[Obj], version: str, include: str, columns: bool = True) -> Obj:
    """A ``Table`` of ``objects``; ``include`` is the ``includeObject`` parameter (``None``,
    ``Object`` or the default ``Metadata``)."""
    spec = COLUMNS.get(res.kind, [NAME, AGE])
    rows = []
    for obj in objects:
        row: Obj = {"cells": [cell(obj) for _name, _type, _priority, cell in spec]}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                             "metadata": obj.get("metadata") or {}}
        rows.append(row)
    doc: Obj = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": version},
                "rows": rows}
    if columns:
        doc["columnDefinitions"] = [{"name": name, "type": kind, "format": "name" if name == "Name" else "",
                                     "description": "", "priority": priority}
                                    for name, kind, priority, _cell in spec]
    return doc
