"""The contract's VNC template and session checks: a conforming pair passes, each broken field is named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kitcore import KitError
from PlatformKit.conformance import session_problems, template_problems
from PlatformKit.keywords.templates import TemplateKeywords

TEMPLATE: dict[str, Any] = {
    "id": 1, "name": "desktop-docker", "display_name": "Desktop", "category": "Development", "platform": "docker",
    "manifest": {"spec": {"baseImage": "kit/session:1", "ports": [{"name": "vnc", "containerPort": 5900}],
                          "vnc": {"enabled": True, "port": 5900},
                          "defaultResources": {"memory": "512Mi", "cpu": "500m"}}},
}
SESSION: dict[str, Any] = {
    "name": "alice-desktop-docker-1a2b3c4d", "namespace": "streamspace", "user": "alice",
    "template": "desktop-docker", "state": "running", "platform": "docker", "persistentHome": False,
    "resources": {"memory": "512Mi", "cpu": "500m"}, "createdAt": "2026-12-06T23:00:00Z", "activeConnections": 0,
    "streamingProtocol": "vnc", "streamingPort": 5900, "status": {"phase": "Running"},
}


def broken(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    copied = copy.deepcopy(data)
    *parents, last = path.split(".")
    target = copied
    for part in parents:
        target = target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return copied


def test_a_conforming_template_and_session_pass() -> None:
    assert template_problems(TEMPLATE) == []
    assert session_problems(SESSION, TEMPLATE, "docker") == []


@pytest.mark.parametrize(("path", "value", "named"), [
    ("manifest.spec.vnc.enabled", False, "vnc.enabled is False"),
    ("manifest.spec.vnc", KeyError, "vnc.enabled is None"),
    ("manifest.spec.vnc.port", "5900", "vnc.port is '5900'"),
    ("manifest.spec.ports", [{"name": "http", "containerPort": 5900}], "no port named 'vnc'"),
    ("manifest.spec.baseImage", "", "no manifest.spec.baseImage"),
    ("manifest.spec.defaultResources", KeyError, "defaultResources.memory"),
    ("display_name", KeyError, "no display_name"),
    ("category", None, "no category"),
    ("id", KeyError, "no id"),
])
def test_each_broken_template_field_is_named(path: str, value: Any, named: str) -> None:
    assert any(named in problem for problem in template_problems(broken(TEMPLATE, path, value)))


@pytest.mark.parametrize(("path", "value", "named"), [
    ("streamingProtocol", "rdp", "streamingProtocol is 'rdp'"),
    ("streamingPort", 5901, "streamingPort is 5901, not the template's VNC port 5900"),
    ("status.phase", "Pending", "status.phase is 'Pending' for state 'running'"),
    ("platform", "kubernetes", "platform is 'kubernetes', not 'docker'"),
    ("template", "other", "template is 'other'"),
    ("resources", KeyError, "no resources.memory"),
    ("persistentHome", "no", "persistentHome is 'no'"),
    ("createdAt", KeyError, "no createdAt"),
])
def test_each_broken_session_field_is_named(path: str, value: Any, named: str) -> None:
    assert any(named in problem for problem in session_problems(broken(SESSION, path, value), TEMPLATE, "docker"))


def test_the_keyword_fails_naming_every_problem() -> None:
    keywords = TemplateKeywords(ctx=None)  # type: ignore[arg-type] - the session check reads no API
    bad = broken(broken(SESSION, "streamingPort", 3000), "streamingProtocol", None)
    with pytest.raises(KitError, match=r"does not offer VNC as the contract requires: .*streamingProtocol is None.*"
                                       r"streamingPort is 3000"):
        keywords.session_should_offer_vnc_of_its_template(bad, TEMPLATE, "docker")
