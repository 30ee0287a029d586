"""Manifests: YAML files or text with one or more documents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from kitcore import KitError


def load_manifest(manifest: str | dict[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects of a manifest given as a path, YAML text, a dict or a list of dicts."""
    if isinstance(manifest, dict):
        documents: list[Any] = [manifest]
    elif isinstance(manifest, list):
        documents = manifest
    else:
        text = str(manifest)
        path = Path(text) if "\n" not in text and len(text) < 4096 else None
        if path is not None and path.suffix in (".yaml", ".yml", ".json") and not path.is_file():
            raise KitError(f"Manifest file '{text}' does not exist", fix="check the path (relative to where "
                           "robot runs) or give the YAML text itself")
        if path is not None and path.is_file():
            text = path.read_text(encoding="utf-8")
        try:
            documents = list(yaml.safe_load_all(text))
        except yaml.YAMLError as error:
            raise KitError("The manifest is not valid YAML", cause=str(error).replace("\n", " "),
                           fix="check the indentation and the '---' between documents") from None
    objects: list[dict[str, Any]] = []
    for document in documents:
        if not document:
            continue
        if isinstance(document, dict) and document.get("kind", "").endswith("List") and "items" in document:
            objects.extend(document["items"])
            continue
        if not isinstance(document, dict) or not document.get("kind") or not document.get("apiVersion"):
            raise KitError("A manifest document is not a Kubernetes object",
                           cause=f"it has no kind or apiVersion: {str(document)[:120]}",
                           fix="every document needs apiVersion, kind and metadata.name")
        if not (document.get("metadata") or {}).get("name"):
            raise KitError(f"A {document['kind']} in the manifest has no metadata.name",
                           fix="give every object a name (generateName is not supported by Apply Manifest)")
        objects.append(document)
    if not objects:
        raise KitError("The manifest holds no objects", fix="give a YAML file or text with at least one object")
    return objects


def describe(obj: dict[str, Any]) -> str:
    return f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}"
