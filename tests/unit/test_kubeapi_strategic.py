"""Strategic merge patch as apimachinery applies it (each expectation was checked against
k8s.io/apimachinery's strategicpatch on the same input)."""

from __future__ import annotations

import copy

import pytest

from environments.local.kubeapi.patching import PatchError
from environments.local.kubeapi.strategic import strategic_merge


def deployment() -> dict:
    return {"metadata": {"name": "d", "labels": {"a": "1"}, "finalizers": ["x", "y"]},
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                     "template": {"spec": {
                         "containers": [{"name": "a", "image": "i1", "command": ["run"],
                                         "ports": [{"containerPort": 80}, {"containerPort": 3000, "name": "vnc"}],
                                         "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
                                        {"name": "b", "image": "i2", "command": ["sleep"]}],
                         "volumes": [{"name": "v1", "emptyDir": {}}, {"name": "v2", "configMap": {"name": "cm"}}]}}}}


def containers(obj: dict) -> list[dict]:
    return obj["spec"]["template"]["spec"]["containers"]


def patch_pod_spec(spec: dict) -> dict:
    return strategic_merge(deployment(), {"spec": {"template": {"spec": spec}}}, "Deployment")


def test_a_kubectl_apply_patch_changes_one_container_and_keeps_the_other_and_the_order():
    result = patch_pod_spec({"$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                             "containers": [{"name": "a", "image": "new"}]})
    expected = deployment()
    containers(expected)[0]["image"] = "new"
    assert result == expected


def test_lists_merge_by_their_patch_merge_key_new_items_first_as_apimachinery_does():
    result = patch_pod_spec({"containers": [{"name": "a", "env": [{"name": "C", "value": "3"},
                                                                  {"name": "A", "value": "9"}],
                                             "ports": [{"containerPort": 8080}]}]})
    first = containers(result)[0]
    assert first["env"] == [{"name": "C", "value": "3"}, {"name": "A", "value": "9"}, {"name": "B", "value": "2"}]
    assert first["ports"] == [{"containerPort": 8080}, {"containerPort": 80}, {"containerPort": 3000, "name": "vnc"}]
    assert first["command"] == ["run"] and containers(result)[1]["name"] == "b"


def test_set_element_order_reorders_and_places_new_items():
    result = patch_pod_spec({"$setElementOrder/containers": [{"name": "b"}, {"name": "c"}, {"name": "a"}],
                             "containers": [{"name": "c", "image": "x"}]})
    assert [c["name"] for c in containers(result)] == ["b", "c", "a"]


def test_patch_delete_and_replace_directives_in_lists_and_maps():
    deleted = patch_pod_spec({"containers": [{"name": "b", "$patch": "delete"}]})
    assert [c["name"] for c in containers(deleted)] == ["a"]
    replaced = patch_pod_spec({"containers": [{"name": "z", "image": "only"}, {"$patch": "replace"}]})
    assert containers(replaced) == [{"name": "z", "image": "only"}]
    port_gone = patch_pod_spec({"containers": [{"name": "a", "ports": [{"containerPort": 80, "$patch": "delete"}]}]})
    assert containers(port_gone)[0]["ports"] == [{"containerPort": 3000, "name": "vnc"}]
    whole = strategic_merge(deployment(), {"spec": {"template": {"$patch": "replace", "metadata": {"x": 1}}}},
                            "Deployment")
    assert whole["spec"]["template"] == {"metadata": {"x": 1}}


def test_retain_keys_clears_what_the_list_does_not_name():
    result = strategic_merge(deployment(), {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}},
                             "Deployment")
    assert result["spec"]["strategy"] == {"type": "Recreate"}
    volume = patch_pod_spec({"volumes": [{"name": "v2", "$retainKeys": ["name", "secret"],
                                          "secret": {"secretName": "s"}}]})
    assert volume["spec"]["template"]["spec"]["volumes"][1] == {"name": "v2", "secret": {"secretName": "s"}}


def test_scalar_lists_merge_as_sets_and_delete_from_primitive_list():
    added = strategic_merge(deployment(), {"metadata": {"finalizers": ["z", "x"]}}, "Deployment")
    assert added["metadata"]["finalizers"] == ["z", "x", "y"]
    removed = strategic_merge(deployment(), {"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}},
                              "Deployment")
    assert removed["metadata"]["finalizers"] == ["y"]


def test_lists_without_a_merge_strategy_are_replaced_and_null_removes():
    result = patch_pod_spec({"containers": [{"name": "a", "command": ["other"]}]})
    assert containers(result)[0]["command"] == ["other"]
    labels = strategic_merge(deployment(), {"metadata": {"labels": {"a": None, "b": "2"}}}, "Deployment")
    assert labels["metadata"]["labels"] == {"b": "2"}


def test_no_directive_is_ever_stored():
    result = patch_pod_spec({"initContainers": [{"name": "i", "$setElementOrder/env": [{"name": "E"}],
                                                 "env": [{"name": "E", "value": "1"}]}]})
    assert "$" not in repr(result)


def test_pod_conditions_merge_by_type():
    pod = {"status": {"conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}]}}
    result = strategic_merge(pod, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}, "Pod")
    assert result["status"]["conditions"] == [{"type": "PodScheduled", "status": "True"},
                                              {"type": "Ready", "status": "True"}]


@pytest.mark.parametrize("patch", [
    {"spec": {"template": {"spec": {"containers": [{"image": "no merge key"}]}}}},
    {"spec": {"template": {"spec": {"$setElementOrder/containers": [{"name": "a"}],
                                    "containers": [{"name": "b", "image": "x"}]}}}},
    {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 2}}}},
    {"spec": {"template": {"$patch": "merge"}}},
])
def test_patches_apimachinery_refuses_are_refused(patch):
    original = deployment()
    with pytest.raises(PatchError):
        strategic_merge(original, copy.deepcopy(patch), "Deployment")
    assert original == deployment()
