"""What the contract requires of a template that offers VNC, and of a session made from it.

Each function returns the problems it finds, in a tester's words (empty: the object conforms), so
a keyword can name every missing or wrong field at once instead of stopping at the first.
"""

from __future__ import annotations

from typing import Any

SESSION_FIELDS = ("name", "user", "template", "state", "platform", "createdAt")


def _dig(data: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _text(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _port(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536


def template_problems(template: dict[str, Any]) -> list[str]:
    """The contract's template: ``id, name, display_name, category, manifest.spec.{baseImage, ports,
    vnc{enabled, port}, defaultResources{memory, cpu}}``, with a port named ``vnc`` on the VNC port."""
    problems = [f"no {key}" for key in ("name", "display_name", "category") if not _text(template.get(key))]
    if template.get("id") in (None, ""):
        problems.append("no id")
    spec = _dig(template, "manifest.spec")
    if not isinstance(spec, dict):
        return [*problems, "no manifest.spec (what the agents read)"]
    if not _text(spec.get("baseImage")):
        problems.append("no manifest.spec.baseImage")
    if _dig(spec, "vnc.enabled") is not True:
        problems.append(f"manifest.spec.vnc.enabled is {_dig(spec, 'vnc.enabled')!r}, not true")
    port = _dig(spec, "vnc.port")
    if not _port(port):
        problems.append(f"manifest.spec.vnc.port is {port!r}, not a port number")
    ports = spec.get("ports")
    if not isinstance(ports, list) or not ports:
        problems.append("no manifest.spec.ports")
    elif not any(isinstance(p, dict) and p.get("name") == "vnc" and p.get("containerPort") == port for p in ports):
        problems.append(f"manifest.spec.ports has no port named 'vnc' on the VNC port {port!r}: {ports}")
    for key in ("memory", "cpu"):
        if not _text(_dig(spec, f"defaultResources.{key}")):
            problems.append(f"no manifest.spec.defaultResources.{key}")
    return problems


def session_problems(session: dict[str, Any], template: dict[str, Any], platform: str) -> list[str]:
    """The contract's session of a VNC template: its fields, ``streamingProtocol`` ``vnc`` on the
    template's VNC port, ``status.phase`` = ``state`` capitalised, the platform and template asked for."""
    problems = [f"no {key}" for key in SESSION_FIELDS if not _text(session.get(key))]
    if session.get("platform") not in (None, platform):
        problems.append(f"platform is {session.get('platform')!r}, not {platform!r}")
    if session.get("template") not in (None, template.get("name")):
        problems.append(f"template is {session.get('template')!r}, not {template.get('name')!r}")
    if not isinstance(session.get("persistentHome"), bool):
        problems.append(f"persistentHome is {session.get('persistentHome')!r}, not true or false")
    for key in ("memory", "cpu"):
        if not _text(_dig(session, f"resources.{key}")):
            problems.append(f"no resources.{key}")
    if session.get("streamingProtocol") != "vnc":
        problems.append(f"streamingProtocol is {session.get('streamingProtocol')!r}, not 'vnc'")
    port = _dig(template, "manifest.spec.vnc.port")
    if session.get("streamingPort") != port:
        problems.append(f"streamingPort is {session.get('streamingPort')!r}, not the template's VNC port {port!r}")
    state, phase = session.get("state"), _dig(session, "status.phase")
    if not isinstance(state, str) or phase != state.capitalize():
        problems.append(f"status.phase is {phase!r} for state {state!r} (it should read {str(state).capitalize()!r})")
    return problems
