"""What a ``start_session`` payload asks for: image, resources, environment, persistent home."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from environments.local.platform.agents.runtime import CommandError

_BINARY = {"": 1, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}
_DECIMAL = {"k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([KMGT]i|[kKMGT])?\s*$")
_LABEL_VALUE = re.compile(r"[^A-Za-z0-9_.-]")


def parse_bytes(value: str | int | float) -> int:
    """``512Mi`` -> 536870912."""
    if isinstance(value, (int, float)):
        return int(value)
    match = _QUANTITY.match(str(value))
    if not match:
        raise CommandError(f"memory '{value}' is not a size like 512Mi or 1Gi")
    unit = match.group(2) or ""
    return int(float(match.group(1)) * (_BINARY.get(unit) or _DECIMAL.get(unit, 1)))


def parse_cpu(value: str | int | float) -> float:
    """``500m`` -> 0.5 cores."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        raise CommandError(f"cpu '{value}' is not an amount like 500m or 2") from None


def label_value(text: str) -> str:
    """A Kubernetes-valid label value (63 characters of ``[A-Za-z0-9_.-]``)."""
    return _LABEL_VALUE.sub("-", text)[:63].strip("-_.")


@dataclass
class SessionSpec:
    session_id: str
    user: str
    template: str
    image: str
    memory: str
    cpu: str
    persistent_home: bool
    namespace: str
    env: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)

    @classmethod
    def from_payload(cls, payload: dict[str, Any], default_image: str, default_namespace: str) -> SessionSpec:
        session_id = str(payload.get("sessionId") or "")
        if not session_id:
            raise CommandError("start_session without sessionId")
        manifest = payload.get("templateManifest") or {}
        spec = manifest.get("spec", manifest) if isinstance(manifest, dict) else {}
        defaults = spec.get("defaultResources") or {}
        image = str(spec.get("baseImage") or default_image or "")
        if not image:
            raise CommandError(f"template '{payload.get('template')}' names no baseImage and no default image is "
                               "configured (sessionImage)")
        env_spec = spec.get("env") or {}
        env: dict[str, str] = {}
        if isinstance(env_spec, dict):
            env = {str(k): str(v) for k, v in env_spec.items()}
        elif isinstance(env_spec, list):
            env = {str(e["name"]): str(e.get("value", "")) for e in env_spec if isinstance(e, dict) and "name" in e}
        memory = str(payload.get("memory") or defaults.get("memory") or "512Mi")
        cpu = str(payload.get("cpu") or defaults.get("cpu") or "500m")
        parse_bytes(memory)
        parse_cpu(cpu)
        return cls(session_id=session_id, user=str(payload.get("user") or ""),
                   template=str(payload.get("template") or ""), image=image, memory=memory, cpu=cpu,
                   persistent_home=bool(payload.get("persistentHome")),
                   namespace=str(payload.get("namespace") or default_namespace), env=env,
                   tags=[str(t) for t in payload.get("tags") or []])


def wants_home_deleted(payload: dict[str, Any]) -> bool:
    """``stop_session`` deletes the persistent home only when asked (``deleteHome``/``deletePersistentHome``)."""
    return bool(payload.get("deleteHome") or payload.get("deletePersistentHome"))
