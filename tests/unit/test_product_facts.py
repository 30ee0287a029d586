"""What the kit reads about the product: pod names through the topology, the agents an environment
has, passwords that meet password rules, and the known defects named in failed tests."""

from __future__ import annotations

import string
from pathlib import Path
from types import SimpleNamespace

import pytest

from EnvironmentKit.defects import KnownDefectsListener, load_catalogue
from EnvironmentKit.topology import Topology
from kitcore import KitError, new_password
from kitcore.credentials import PASSWORD_SPECIALS

ROOT = Path(__file__).resolve().parents[2]
STREAMSPACE_RULE_SPECIALS = set("!@#$%^&*()_+-=[]{}|;:,.<>?")


def topology(docker_replicas: int = 2) -> Topology:
    return Topology({
        "api": [{"name": "api-1", "url": "http://a", "pod": "streamspace-api-1"},
                {"name": "api-2", "url": "http://b"}],
        "agents": {
            "kubernetes": {"agentId": "k8s", "replicas": [{"name": "k8s-agent-a", "pod": "ss-k8s-a"}]},
            "docker": {"agentId": "docker", "replicas": [{"name": f"docker-agent-{c}", "pod": f"ss-docker-{c}"}
                                                         for c in "ab"[:docker_replicas]]},
        },
    })


def test_pod_names_translate_both_ways() -> None:
    topo = topology()
    assert topo.pod_of("api-1") == "streamspace-api-1"
    assert topo.pod_of("api-2") == "api-2"  # no pod given: the platform uses the replica's name
    assert topo.replica_of_pod("ss-k8s-a") == "k8s-agent-a"
    assert topo.replica_of_pod("api-2") == "api-2"


def test_an_unknown_pod_names_every_replica_and_its_pod() -> None:
    with pytest.raises(KitError) as error:
        topology().replica_of_pod("unknown-pod")
    assert "unknown-pod" in str(error.value) and "api-1=streamspace-api-1" in str(error.value)


def test_agent_platforms_are_those_with_replicas() -> None:
    assert topology().agent_platforms() == ["kubernetes", "docker"]
    assert topology(docker_replicas=0).agent_platforms() == ["kubernetes"]
    assert Topology({"api": [], "agents": {"kubernetes": {"replicas": [{"name": "k"}]}}}).agent_platforms() == [
        "kubernetes"]


@pytest.mark.parametrize("length", [8, 20, 64])
def test_new_passwords_meet_the_usual_rule(length: int) -> None:
    for _ in range(200):
        password = new_password(length)
        assert len(password) == length
        assert any(c in string.ascii_uppercase for c in password)
        assert any(c in string.ascii_lowercase for c in password)
        assert any(c in string.digits for c in password)
        assert any(c in PASSWORD_SPECIALS for c in password)
    assert set(PASSWORD_SPECIALS) <= STREAMSPACE_RULE_SPECIALS


def write_catalogue(tmp_path: Path) -> Path:
    path = tmp_path / "defects.yaml"
    path.write_text(
        "product: Product X\n"
        "defects:\n"
        "  - id: fk\n"
        "    match: user_id_fkey\n"
        "    defect: >-\n"
        "      users are referenced\n"
        "      by two different keys\n"
        "    source: api/handlers.go:770\n"
        "  - id: offline\n"
        "    match: agent d.*'offline'\n"
        "    defect: the agent never reconnects\n"
    )
    return path


def test_a_failed_test_gets_the_defects_its_message_matches(tmp_path: Path, monkeypatch) -> None:
    path = write_catalogue(tmp_path)
    listener = KnownDefectsListener()
    monkeypatch.setattr("EnvironmentKit.defects._variable", lambda name: str(path))
    result = SimpleNamespace(failed=True, message="500: violates sessions_user_id_fkey", tags=set())
    listener.end_test(None, result)
    assert result.message.endswith(
        "Known defect of Product X [fk]: users are referenced by two different keys (api/handlers.go:770)")
    assert result.tags == {"defect:fk"}
    passed = SimpleNamespace(failed=False, message="", tags=set())
    listener.end_test(None, passed)
    assert passed.message == "" and passed.tags == set()


def test_no_catalogue_changes_nothing(monkeypatch) -> None:
    monkeypatch.setattr("EnvironmentKit.defects._variable", lambda name: "")
    result = SimpleNamespace(failed=True, message="boom", tags=set())
    KnownDefectsListener().end_test(None, result)
    assert result.message == "boom" and result.tags == set()


def test_a_broken_catalogue_is_refused_with_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("defects:\n  - id: x\n    match: '('\n    defect: d\n")
    with pytest.raises(KitError, match="bad pattern"):
        load_catalogue(str(path))
    path.write_text("defects:\n  - id: x\n")
    with pytest.raises(KitError, match="incomplete"):
        load_catalogue(str(path))


def test_the_streamspace_catalogue_loads() -> None:
    catalogue = load_catalogue("environments/streamspace/defects.yaml")
    assert catalogue.product.startswith("StreamSpace")
    assert all(d.source for d in catalogue.defects)
    assert len({d.id for d in catalogue.defects}) == len(catalogue.defects)
