"""Patches as the Kubernetes API applies them: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).
Strategic merge patch: :mod:`.strategic`."""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """A patch that cannot be applied; the API answers 422 (or 400 for a malformed one)."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _parent(doc: Any, path: str) -> tuple[Any, str]:
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    tokens = [_unescape(t) for t in path[1:].split("/")]
    node = doc
    for token in tokens[:-1]:
        try:
            node = node[int(token)] if isinstance(node, list) else node[token]
        except (KeyError, IndexError, ValueError):
            raise PatchError(f"path {path!r} does not exist") from None
    return node, tokens[-1]


def json_patch(target: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 ``add``, ``remove``, ``replace``, ``test``, ``copy``, ``move``."""
    doc = copy.deepcopy(target)
    for op in operations:
        kind, path = op.get("op"), op.get("path", "")
        if kind in ("copy", "move"):
            source, key = _parent(doc, op.get("from", ""))
            value = copy.deepcopy(source[int(key)] if isinstance(source, list) else source.get(key))
            if kind == "move":
                json_patch_remove(source, key)
            op = {"op": "add", "path": path, "value": value}
            kind = "add"
        parent, key = _parent(doc, path)
        if kind == "test":
            current = parent[int(key)] if isinstance(parent, list) else parent.get(key)
            if current != op.get("value"):
                raise PatchError(f"test failed at {path!r}")
        elif kind == "remove":
            json_patch_remove(parent, key)
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if key == "-" else int(key)
                if kind == "add":
                    parent.insert(index, op.get("value"))
                else:
                    parent[index] = op.get("value")
            elif isinstance(parent, dict):
                if kind == "replace" and key not in parent:
                    raise PatchError(f"path {path!r} does not exist")
                parent[key] = op.get("value")
            else:
                raise PatchError(f"path {path!r} does not exist")
        else:
            raise PatchError(f"unknown JSON patch operation {kind!r}")
    return doc


def json_patch_remove(parent: Any, key: str) -> None:
    try:
        if isinstance(parent, list):
            parent.pop(int(key))
        else:
            del parent[key]
    except (KeyError, IndexError, ValueError, TypeError):
        raise PatchError(f"cannot remove {key!r}: it does not exist") from None
