"""NetworkPolicies that cut two components apart, both ways, and nothing else.

NetworkPolicies are allow-lists: a pod selected by a policy accepts only what some policy allows.
For a cut ``a <-> b`` the pods of each side get a label ``streamspace.kit/cut-<id>=a|b`` and each
side gets one policy that allows every peer *except* the other side -- other pods through a
``NotIn`` pod selector, everything outside the pod network through an ``ipBlock`` with the other
side's pod IPs excepted. kind enforces NetworkPolicies since v0.24 (kindnet); other CNIs may not.
"""

from __future__ import annotations

from typing import Any

LABEL_PREFIX = "streamspace.kit/cut-"
MANAGED_LABEL = "streamspace.kit/partition"
ANNOTATION_A = "streamspace.kit/partition-a"
ANNOTATION_B = "streamspace.kit/partition-b"


def cut_label(cut_id: str) -> str:
    return f"{LABEL_PREFIX}{cut_id}"


def _peers_except(label: str, side: str, excluded_ips: list[str]) -> list[dict[str, Any]]:
    ip_block: dict[str, Any] = {"cidr": "0.0.0.0/0"}
    if excluded_ips:
        ip_block["except"] = [f"{ip}/32" for ip in sorted(set(excluded_ips))]
    return [
        {"namespaceSelector": {},
         "podSelector": {"matchExpressions": [{"key": label, "operator": "NotIn", "values": [side]}]}},
        {"ipBlock": ip_block},
    ]


def policy(cut_id: str, run_id: str, side: str, other: str, names: tuple[str, str],
           other_ips: list[str]) -> dict[str, Any]:
    """The policy of ``side`` (``a`` or ``b``) of cut ``cut_id`` between components ``names``."""
    label = cut_label(cut_id)
    peers = _peers_except(label, other, other_ips)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": f"kit-cut-{cut_id}-{side}",
            "labels": {MANAGED_LABEL: run_id},
            "annotations": {ANNOTATION_A: names[0], ANNOTATION_B: names[1]},
        },
        "spec": {
            "podSelector": {"matchLabels": {label: side}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": peers}],
            "egress": [{"to": peers}],
        },
    }


def policies(cut_id: str, run_id: str, names: tuple[str, str], ips_a: list[str],
             ips_b: list[str]) -> list[dict[str, Any]]:
    """Both policies of one cut."""
    return [policy(cut_id, run_id, "a", "b", names, ips_b), policy(cut_id, run_id, "b", "a", names, ips_a)]
