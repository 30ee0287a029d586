"""Strategic merge patch as the Kubernetes API applies it (``application/strategic-merge-patch+json``).

Maps merge key by key (``null`` removes one). A list merges only where the Go type says so
(``patchStrategy:"merge"``): lists of objects by their ``patchMergeKey`` (containers by ``name``, ports
by ``containerPort``, env by ``name``...), lists of scalars as a set; every other list is replaced.
Directives: ``$patch: replace|delete`` (on a map, or as a list item), ``$retainKeys``,
``$setElementOrder/<list>``, ``$deleteFromPrimitiveList/<list>``. The ordering rules follow
apimachinery's ``strategicpatch`` (patch items in ``$setElementOrder`` order, server-only items kept
where they were). Directive keys are never stored: the typed decoding of a real server drops them,
so the result is cleaned of every key starting with ``$``.

The merge keys come from the ``patchStrategy``/``patchMergeKey`` tags of k8s.io/api for the kinds the
stand-in serves (:data:`SCHEMAS`); a field not listed is treated as a map to merge or a list to replace.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from environments.local.kubeapi.patching import PatchError

PATCH, RETAIN, ORDER, DELETE_FROM = "$patch", "$retainKeys", "$setElementOrder/", "$deleteFromPrimitiveList/"


@dataclass(frozen=True)
class ListMeta:
    """How a list field merges: ``merge`` (else replaced), by ``key`` for lists of objects."""

    key: str = ""
    merge: bool = True
    item: dict[str, Any] = field(default_factory=dict)


Schema = dict[str, Any]  # field -> Schema (a map) or ListMeta (a list)


def _by(key: str, item: Schema | None = None) -> ListMeta:
    return ListMeta(key, True, item or {})


CONDITIONS = {"conditions": _by("type")}
META: Schema = {"ownerReferences": _by("uid"), "finalizers": ListMeta()}
CONTAINER: Schema = {"ports": _by("containerPort"), "env": _by("name"), "volumeMounts": _by("mountPath"),
                     "volumeDevices": _by("devicePath")}
POD_SPEC: Schema = {"containers": _by("name", CONTAINER), "initContainers": _by("name", CONTAINER),
                    "ephemeralContainers": _by("name", CONTAINER), "volumes": _by("name"),
                    "imagePullSecrets": _by("name"), "hostAliases": _by("ip"),
                    "topologySpreadConstraints": _by("topologyKey"), "schedulingGates": _by("name"),
                    "resourceClaims": _by("name")}
POD_STATUS: Schema = {**CONDITIONS, "hostIPs": _by("ip"), "podIPs": _by("ip"), "resourceClaimStatuses": _by("name")}
SCHEMAS: dict[str, Schema] = {
    "Pod": {"metadata": META, "spec": POD_SPEC, "status": POD_STATUS},
    "Deployment": {"metadata": META, "spec": {"template": {"metadata": META, "spec": POD_SPEC}},
                   "status": CONDITIONS},
    "Service": {"metadata": META, "spec": {"ports": _by("port")}, "status": CONDITIONS},
    "PersistentVolumeClaim": {"metadata": META, "status": CONDITIONS},
    "Namespace": {"metadata": META, "status": CONDITIONS},
    "Node": {"metadata": META, "spec": {"podCIDRs": ListMeta()},
             "status": {**CONDITIONS, "addresses": _by("type")}},
    "ServiceAccount": {"metadata": META, "secrets": _by("name")},
}


def schema_for(kind: str) -> Schema:
    return SCHEMAS.get(kind, {"metadata": META})


def strategic_merge(original: Any, patch: Any, kind: str) -> Any:
    """The object after the patch; :class:`PatchError` for a patch the API would refuse."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    merged = _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {}, copy.deepcopy(patch),
                        schema_for(kind))
    return _strip(merged)


# -- maps ---------------------------------------------------------------------------------------------
def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: Schema) -> dict[str, Any]:
    if PATCH in patch:
        directive = patch.pop(PATCH)
        if directive == "replace":
            return patch
        if directive == "delete":
            return {}
        raise PatchError(f"unknown patch type: {directive!r} in map: {patch}")
    _retain_keys(original, patch)
    _set_element_orders(original, patch, schema)
    for key, value in list(patch.items()):
        delete_list = key.startswith(DELETE_FROM)
        if delete_list:
            key = key.removeprefix(DELETE_FROM)
        if value is None:
            original.pop(key, None)
            continue
        if key not in original or _category(original[key]) != _category(value):
            if not delete_list:
                kept = _without_directives(_without_nulls(value))
                if kept is _DROP:
                    original.pop(key, None)
                else:
                    original[key] = kept
            continue
        sub = schema.get(key)
        if isinstance(original[key], dict):
            original[key] = _merge_map(original[key], value, sub if isinstance(sub, dict) else {})
        elif isinstance(original[key], list):
            meta = sub if isinstance(sub, ListMeta) else ListMeta(merge=False)
            original[key] = _merge_list_field(original[key], value, meta, delete_list)
        else:
            original[key] = value
    return original


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN not in patch:
        return
    keep = patch.pop(RETAIN)
    if not isinstance(keep, list):
        raise PatchError("$retainKeys must be a list of field names")
    for key, value in patch.items():
        if value is not None and not key.startswith((ORDER, DELETE_FROM)) and key not in keep:
            raise PatchError(f"$retainKeys does not list {key!r}, which the patch sets")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _set_element_orders(original: dict[str, Any], patch: dict[str, Any], schema: Schema) -> None:
    for directive in [k for k in patch if k.startswith(ORDER)]:
        order = patch.pop(directive)
        name = directive.removeprefix(ORDER)
        if not isinstance(order, list):
            raise PatchError(f"{directive} must be a list")
        meta = schema.get(name) if isinstance(schema.get(name), ListMeta) else ListMeta(merge=False)
        base, change = original.get(name), patch.pop(name, None)
        if (change is not None and not isinstance(change, list)) or (base is not None and not isinstance(base, list)):
            raise PatchError(f"{directive} applies to a list, and {name!r} is not one")
        _check_order(change or [], order, meta.key)
        if base is None and change is None:
            continue
        if change is None:
            merged = base
        elif base is None:
            merged = _without_directives(change)
        else:
            merged = _merge_list_field(base, change, meta, False)
        if meta.key:
            in_order = [i for i in merged if _find(order, meta.key, i.get(meta.key)) >= 0]
            server_only = [i for i in merged if _find(order, meta.key, i.get(meta.key)) < 0]
        else:
            in_order = [i for i in merged if i in order]
            server_only = [i for i in merged if i not in order]
        original[name] = _interleave(_sorted_by(server_only, base or [], meta.key),
                                     _sorted_by(in_order, order, meta.key), base or [], meta.key)


def _check_order(change: list[Any], order: list[Any], key: str) -> None:
    """Every patch item appears in ``$setElementOrder``, in the same relative order."""
    items = [i for i in change if not (isinstance(i, dict) and PATCH in i)]
    if not order:
        return
    at = 0
    for item in items:
        want = item.get(key) if key and isinstance(item, dict) else item
        while at < len(order) and (order[at].get(key) if key and isinstance(order[at], dict) else order[at]) != want:
            at += 1
        if at == len(order):
            raise PatchError(f"the order in the patch list {change} doesn't match $setElementOrder list {order}")
        at += 1


# -- lists --------------------------------------------------------------------------------------------
def _merge_list_field(original: list[Any], patch: list[Any], meta: ListMeta, delete_list: bool) -> list[Any]:
    if not (meta.merge or delete_list):
        kept = _without_directives(patch)
        return kept if isinstance(kept, list) else []
    if not original and not patch:
        return original
    maps = isinstance((original or patch)[0], dict)
    if not maps:
        if delete_list:
            return [i for i in original if i not in patch]
        merged = []
        for item in original + patch:
            if item not in merged:
                merged.append(item)
        in_patch = _sorted_by([i for i in merged if i in patch], patch, "")
        return _interleave(_sorted_by([i for i in merged if i not in patch], original, ""), in_patch, original, "")
    if not meta.key:
        raise PatchError("cannot merge lists of objects without a merge key")
    original, rest = _special_items(original, patch, meta.key)
    merged = list(original)
    for item in rest:
        if meta.key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {meta.key}")
        at = _find(merged, meta.key, item[meta.key])
        if at >= 0:
            merged[at] = _merge_map(merged[at], item, meta.item)
        else:
            merged.append(_without_directives(item))
    in_patch = [i for i in merged if _find(rest, meta.key, i.get(meta.key)) >= 0]
    server_only = [i for i in merged if _find(rest, meta.key, i.get(meta.key)) < 0]
    return _interleave(_sorted_by(server_only, original, meta.key), _sorted_by(in_patch, rest, meta.key),
                       original, meta.key)


def _special_items(original: list[Any], patch: list[Any], key: str) -> tuple[list[Any], list[Any]]:
    """Apply ``$patch`` list items: delete by merge key, or replace the whole list."""
    rest, replace = [], False
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"a list of objects holds a non-object: {item!r}")
        directive = item.get(PATCH)
        if directive is None:
            rest.append(item)
        elif directive == "delete":
            if key not in item:
                raise PatchError(f"map: {item} does not contain declared merge key: {key}")
            original = [i for i in original if not (isinstance(i, dict) and i.get(key) == item[key])]
        elif directive == "replace":
            replace = True
        else:
            raise PatchError(f"unknown patch type: {directive!r} in list item {item}")
    if replace:
        return [_without_directives(i) for i in rest], []
    return original, rest


def _find(items: list[Any], key: str, value: Any) -> int:
    for index, item in enumerate(items):
        if isinstance(item, dict) and key in item and item[key] == value:
            return index
    return -1


def _position(items: list[Any], item: Any, key: str) -> int:
    if key:
        return _find(items, key, item.get(key)) if isinstance(item, dict) else -1
    return items.index(item) if item in items else -1


def _sorted_by(items: list[Any], order: list[Any], key: str) -> list[Any]:
    """Items in the order of ``order`` (all of them appear there in every use)."""
    return sorted(items, key=lambda i: _position(order, i, key))


def _interleave(server_only: list[Any], patched: list[Any], server_order: list[Any], key: str) -> list[Any]:
    """apimachinery's mergeSortedSlice: a server-only item goes before a patch item only when both
    are in the live list and it came first there; otherwise the patch item goes first."""
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) or j < len(patched):
        if j >= len(patched):
            out.append(server_only[i])
            i += 1
        elif i >= len(server_only):
            out.append(patched[j])
            j += 1
        else:
            left, right = _position(server_order, server_only[i], key), _position(server_order, patched[j], key)
            if left >= 0 and right >= 0 and left < right:
                out.append(server_only[i])
                i += 1
            else:
                out.append(patched[j])
                j += 1
    return out


# -- cleaning -----------------------------------------------------------------------------------------
_DROP = object()


def _category(value: Any) -> str:
    return "map" if isinstance(value, dict) else "list" if isinstance(value, list) else "scalar"


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _without_directives(value: Any) -> Any:
    """apimachinery's removeDirectives: a map holding ``$patch`` is dropped, everywhere."""
    if isinstance(value, dict):
        if PATCH in value:
            return _DROP
        return {k: v for k, v in ((k, _without_directives(v)) for k, v in value.items()) if v is not _DROP}
    if isinstance(value, list):
        return [v for v in (_without_directives(v) for v in value) if v is not _DROP]
    return value


def _strip(value: Any) -> Any:
    """Remove every directive key (``$...``) left anywhere, as typed decoding would."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
