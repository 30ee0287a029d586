"""``/openapi/v2`` and ``/openapi/v3``: the paths and operations the stand-in serves, with no schema
definitions.

kubectl reads ``/openapi/v2`` as protobuf (gnostic's ``openapi_v2.Document``, Accept
``application/com.github.proto-openapi.spec.v2@v1.0+protobuf``) to validate manifests and to look
up strategic merge metadata; ``/openapi/v3`` (JSON) for field-validation support and ``explain``.
Without definitions kubectl skips client-side schema validation and computes strategic merge patches
from the Go types it was built with, which is what it does against a real cluster for built-in kinds.
No operation lists the ``fieldValidation`` parameter: the stand-in does no server-side field validation,
and says so by not advertising it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from environments.local.kubeapi.discovery import GIT_VERSION
from environments.local.kubeapi.resources import RESOURCES, Resource, group_versions

PROTOBUF_V2 = ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
               "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
Doc = dict[str, Any]


def wants_protobuf(accept: str) -> bool:
    return any(kind in accept for kind in PROTOBUF_V2)


def _operations(res: Resource, title: str) -> dict[str, Doc]:
    """path -> {verb: operation} for one resource."""
    base = "/api/v1" if not res.group else f"/apis/{res.group}/{res.version}"
    scope = f"{base}/namespaces/{{namespace}}/{res.plural}" if res.namespaced else f"{base}/{res.plural}"
    gvk = {"group": res.group, "version": res.version, "kind": res.kind}
    kind = f"{title}{'Namespaced' if res.namespaced else ''}{res.kind}"

    def op(action: str, verb: str) -> Doc:
        return {"operationId": f"{verb}{kind}", "description": f"{action} {res.kind}",
                "consumes": ["*/*"], "produces": ["application/json"], "responses": {"200": {"description": "OK"}},
                "x-kubernetes-action": action, "x-kubernetes-group-version-kind": gvk}

    paths = {scope: {"get": op("list", "list"), "post": op("post", "create"),
                     "delete": op("deletecollection", "deleteCollection")},
             f"{scope}/{{name}}": {"get": op("get", "read"), "put": op("put", "replace"),
                                   "patch": op("patch", "patch"), "delete": op("delete", "delete")}}
    for sub in res.subresources:
        paths[f"{scope}/{{name}}/{sub}"] = {verb: op(action, f"{name}{sub.title()}") for verb, action, name in
                                             (("get", "get", "read"), ("put", "put", "replace"),
                                              ("patch", "patch", "patch"))}
    return paths


def _title(res: Resource) -> str:
    group = "".join(part.title() for part in (res.group or "core").split(".")[:1])
    return f"{group}{res.version.title()}"


def v2() -> Doc:
    paths: Doc = {}
    for res in RESOURCES:
        paths.update(_operations(res, _title(res)))
    return {"swagger": "2.0", "info": {"title": "Kubernetes", "version": GIT_VERSION}, "paths": paths,
            "definitions": {}}


def v3_paths() -> list[tuple[str, str, str]]:
    """(index key, group, version) of each group-version, ``api/v1`` first."""
    return [("api/v1", "", "v1")] + [(f"apis/{g}/{v}", g, v) for g, vs in group_versions().items() for v in vs]


def v3_document(group: str, version: str) -> Doc | None:
    chosen = [r for r in RESOURCES if (r.group, r.version) == (group, version)]
    if not chosen:
        return None
    paths: Doc = {}
    for res in chosen:
        for path, ops in _operations(res, _title(res)).items():
            paths[path] = {verb: {k: v for k, v in op.items() if k not in ("consumes", "produces")}
                           for verb, op in ops.items()}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": GIT_VERSION}, "paths": paths,
            "components": {"schemas": {}}}


def v3_index() -> Doc:
    entries = {}
    for key, group, version in v3_paths():
        digest = hashlib.sha512(json.dumps(v3_document(group, version), sort_keys=True).encode()).hexdigest()[:32]
        entries[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest.upper()}"}
    return {"paths": entries}


# -- protobuf (gnostic openapi_v2) -------------------------------------------------------------------------
def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _named_any(name: str, value: Any) -> bytes:
    return _field(1, name) + _field(2, _field(2, json.dumps(value)))  # NamedAny{name, Any{yaml}}


def _operation(op: Doc) -> bytes:
    out = _field(3, op["description"]) + _field(5, op["operationId"])
    out += b"".join(_field(6, p) for p in op["produces"]) + b"".join(_field(7, c) for c in op["consumes"])
    responses = b"".join(_field(1, _field(1, code) + _field(2, _field(1, _field(1, r["description"]))))
                         for code, r in op["responses"].items())  # NamedResponseValue{name, ResponseValue{Response}}
    out += _field(9, responses)
    return out + b"".join(_field(13, _named_any(k, v)) for k, v in op.items() if k.startswith("x-"))


VERB_FIELDS = {"get": 2, "put": 3, "post": 4, "delete": 5, "patch": 8}


def v2_protobuf(doc: Doc) -> bytes:
    """``doc`` (from :func:`v2`) as a gnostic ``openapi_v2.Document`` message."""
    paths = b"".join(_field(2, _field(1, path) + _field(2, b"".join(_field(VERB_FIELDS[verb], _operation(op))
                                                                        for verb, op in ops.items())))
                     for path, ops in doc["paths"].items())
    info = _field(1, doc["info"]["title"]) + _field(2, doc["info"]["version"])
    return _field(1, doc["swagger"]) + _field(2, info) + _field(8, paths) + _field(9, b"")
