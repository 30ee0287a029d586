"""Any object by manifest or kind (through API discovery), and StreamSpace's custom objects."""

from __future__ import annotations

import copy
from typing import Any

from kubernetes.dynamic.exceptions import ResourceNotFoundError, ResourceNotUniqueError
from robot.api import logger
from robotlibcore import keyword

from kitcore import Check, KitError, getter
from KubeKit.connection import KubeConnection, KubeError
from KubeKit.context import KubeContext, object_key
from KubeKit.manifests import describe, load_manifest

GROUP = "stream.space"
VERSION = "v1alpha1"


def plural_of(kind: str) -> str:
    """``Session`` / ``session`` / ``sessions`` -> ``sessions``."""
    lower = kind.strip().lower()
    return lower if lower.endswith("s") else f"{lower}s"


def resource_for(conn: KubeConnection, kind: str, api_version: str | None = None) -> Any:
    """The API resource of a kind (``Deployment``) or plural (``deployments``), by discovery."""
    resources = conn.dynamic.resources
    lookups = [{"kind": kind}, {"name": kind}, {"short_names": [kind.lower()]}]
    for lookup in lookups:
        if api_version:
            lookup["api_version"] = api_version
        try:
            return resources.get(**lookup)
        except ResourceNotUniqueError:
            matches = resources.search(**lookup)
            return sorted(matches, key=lambda r: (r.group != "", r.group))[0]  # the core group first
        except ResourceNotFoundError:
            continue
    raise KitError(f"The cluster at {conn.url} serves no kind '{kind}'" + (f" in {api_version}" if api_version
                   else ""), fix="check the kind's spelling and apiVersion; for a custom kind, install its CRD")


class ObjectKeywords:
    def __init__(self, ctx: KubeContext) -> None:
        self.ctx = ctx

    # -- manifests ----------------------------------------------------------------------------
    @keyword("Apply Manifest", tags=["objects"])
    def apply_manifest(self, manifest: Any, namespace: str | None = None, alias: str | None = None) -> list[str]:
        """Create the objects of a manifest, or replace those that exist; returns ``Kind/name`` of each.

        ``manifest`` is a YAML file path or YAML text (several documents separated by ``---``), or
        a dictionary. ``namespace`` is used for namespaced objects that do not name one. Objects
        this keyword created are deleted at the end of the test (or suite); objects it replaced are
        left as they are. Replacing an existing object needs an allow-listed namespace.

        Example:
        | Apply Manifest | ${CURDIR}/session-deployment.yaml | namespace=${ns} |
        """
        conn = self.ctx.conn(alias)
        applied: list[str] = []
        for obj in load_manifest(manifest):
            body = copy.deepcopy(obj)
            resource = resource_for(conn, body["kind"], body["apiVersion"])
            meta = body.setdefault("metadata", {})
            space = self._namespace(resource, meta, namespace)
            name = meta["name"]
            label = describe(body)
            try:
                conn.call(f"Create {label}", resource.create, body=body, namespace=space)
            except KubeError as error:
                if error.status != 409:
                    raise
                self.ctx.check(conn, f"replace {label}", space or "")
                current = conn.call(f"Read {label}", resource.get, name=name, namespace=space)
                meta["resourceVersion"] = current.metadata.resourceVersion
                conn.call(f"Replace {label}", resource.replace, body=body, namespace=space)
                logger.info(f"Replaced {label}" + (f" in {space}" if space else ""))
            else:
                key = object_key(conn, f"{resource.group_version}/{resource.kind}", space, name)
                self.ctx.register_delete(conn, f"{label}" + (f" in {space}" if space else ""), key,
                                         lambda r=resource, n=name, s=space: r.delete(
                                             name=n, namespace=s, _request_timeout=conn.timeout))
                logger.info(f"Created {label}" + (f" in {space}" if space else ""))
            applied.append(label)
        return applied

    @keyword("Delete Manifest Objects", tags=["objects", "destructive"])
    def delete_manifest_objects(self, manifest: Any, namespace: str | None = None, missing_ok: bool = True,
                                alias: str | None = None) -> list[str]:
        """Delete the objects of a manifest (last first); returns ``Kind/name`` of those deleted.

        Objects already gone are skipped unless ``missing_ok=False``. Refused for namespaces
        (and contexts) that are not allow-listed.

        Example:
        | Delete Manifest Objects | ${CURDIR}/session-deployment.yaml | namespace=${ns} |
        """
        conn = self.ctx.conn(alias)
        objects = load_manifest(manifest)
        targets = []
        for obj in objects:
            resource = resource_for(conn, obj["kind"], obj["apiVersion"])
            meta = dict(obj.get("metadata") or {})
            space = self._namespace(resource, meta, namespace)
            self.ctx.check(conn, f"delete {describe(obj)}", space or meta["name"])
            targets.append((resource, meta["name"], space, describe(obj)))
        deleted = []
        for resource, name, space, label in reversed(targets):
            try:
                conn.call(f"Delete {label}", resource.delete, name=name, namespace=space)
            except KubeError as error:
                if error.status == 404 and missing_ok:
                    continue
                raise
            self.ctx.forget(object_key(conn, f"{resource.group_version}/{resource.kind}", space, name))
            deleted.append(label)
        return deleted

    @keyword("Get Object", tags=["objects"])
    def get_object(self, kind: str, name: str, namespace: str | None = None, api_version: str | None = None,
                   alias: str | None = None) -> dict[str, Any]:
        """Any object as a dictionary, by kind (``Deployment``) or plural (``deployments``).

        Example:
        | ${svc} = | Get Object | Service | ${session} | namespace=${ns} |
        | Should Be Equal | ${svc}[spec][ports][0][name] | vnc |
        """
        conn = self.ctx.conn(alias)
        resource = resource_for(conn, kind, api_version)
        space = namespace if resource.namespaced else None
        if resource.namespaced and not namespace:
            raise KitError(f"Get Object needs a namespace for {resource.kind} '{name}'", fix="pass namespace=")
        found = conn.call(f"Read {resource.kind} '{name}'" + (f" in {space}" if space else ""),
                          resource.get, name=name, namespace=space)
        return found.to_dict()

    @keyword("Get Object Names", tags=["objects", "assertion"])
    @getter
    def get_object_names(self, kind: str, namespace: str | None = None, *, check: Check, selector: str | None = None,
                         starting_with: list[str] | None = None, alias: str | None = None) -> list[str]:
        """The sorted names of the objects of ``kind`` (``Deployment``, ``pvc``...) in ``namespace`` that match
        the label ``selector`` and, with ``starting_with``, whose name starts with one of those texts; can assert.

        Example:
        | Get Object Names | PersistentVolumeClaim | ${ns} | == | ${{[]}} | starting_with=${sessions} | timeout=10s |
        | ${services} = | Get Object Names | Service | ${ns} | selector=app=streamspace-session |
        """
        conn = self.ctx.conn(alias)
        resource = resource_for(conn, kind)
        space = namespace if resource.namespaced else None
        prefixes = tuple(str(p) for p in starting_with or ())

        def probe() -> list[str]:
            found = conn.call(f"List {resource.kind} objects" + (f" in {space}" if space else ""), resource.get,
                              namespace=space, label_selector=selector or None)
            names = sorted(str(item.metadata.name) for item in found.items)
            return [n for n in names if not prefixes or n.startswith(prefixes)]

        where = f" in {space}" if space else ""
        return check(probe, f"{resource.kind} objects{where}")

    def _namespace(self, resource: Any, meta: dict[str, Any], namespace: str | None) -> str | None:
        if not resource.namespaced:
            return None
        space = meta.get("namespace") or namespace
        if not space:
            raise KitError(f"{resource.kind} '{meta.get('name')}' has no namespace",
                           fix="set metadata.namespace in the manifest or pass namespace=")
        meta["namespace"] = space
        return space

    # -- custom objects (StreamSpace) ---------------------------------------------------------
    @keyword("Create Custom Object", tags=["objects", "custom"])
    def create_custom_object(
        self,
        kind: str,
        name: str,
        namespace: str,
        spec: dict[str, Any] | None = None,
        labels: dict[str, str] | None = None,
        group: str = GROUP,
        version: str = VERSION,
        body: dict[str, Any] | None = None,
        alias: str | None = None,
    ) -> dict[str, Any]:
        """Create a custom object (default: StreamSpace's ``stream.space/v1alpha1``); returns it.

        ``kind`` is ``Session``, ``Template`` (or their plurals). Give ``spec`` and ``labels``,
        or a whole ``body``. Deleted at the end of the test (or suite).

        Example:
        | Create Custom Object | Session | alice-firefox-1 | ${ns} | spec={"user": "alice", "template": "firefox"} |
        """
        conn = self.ctx.conn(alias)
        plural = plural_of(kind)
        obj = copy.deepcopy(body) if body else {}
        obj.setdefault("apiVersion", f"{group}/{version}")
        obj.setdefault("kind", kind[:1].upper() + kind[1:].rstrip("s") if kind.islower() else kind)
        meta = obj.setdefault("metadata", {})
        meta.setdefault("name", name)
        meta["namespace"] = namespace
        if labels:
            meta.setdefault("labels", {}).update(labels)
        if spec is not None:
            obj["spec"] = spec
        created = conn.call(f"Create {plural} '{name}' in {namespace}", conn.custom.create_namespaced_custom_object,
                            group, version, namespace, plural, obj)
        key = object_key(conn, f"{group}/{version}/{plural}", namespace, name)
        self.ctx.register_delete(conn, f"{plural}.{group} {name} in {namespace}", key,
                                 lambda: conn.custom.delete_namespaced_custom_object(
                                     group, version, namespace, plural, name, _request_timeout=conn.timeout))
        return created

    @keyword("Get Custom Object", tags=["objects", "custom"])
    def get_custom_object(self, kind: str, name: str, namespace: str, group: str = GROUP, version: str = VERSION,
                          alias: str | None = None) -> dict[str, Any]:
        """A custom object as a dictionary.

        Example:
        | ${session} = | Get Custom Object | Session | alice-firefox-1 | ${ns} |
        """
        conn = self.ctx.conn(alias)
        plural = plural_of(kind)
        return conn.call(f"Read {plural}.{group} '{name}' in {namespace}", conn.custom.get_namespaced_custom_object,
                         group, version, namespace, plural, name)

    @keyword("Delete Custom Object", tags=["objects", "custom", "destructive"])
    def delete_custom_object(self, kind: str, name: str, namespace: str, group: str = GROUP,
                             version: str = VERSION, alias: str | None = None) -> None:
        """Delete a custom object. Refused for namespaces (and contexts) that are not allow-listed.

        Example:
        | Delete Custom Object | Session | alice-firefox-1 | ${ns} |
        """
        conn = self.ctx.conn(alias)
        plural = plural_of(kind)
        self.ctx.check(conn, f"delete {plural}.{group} '{name}'", namespace)
        conn.call(f"Delete {plural}.{group} '{name}' in {namespace}", conn.custom.delete_namespaced_custom_object,
                  group, version, namespace, plural, name)
        self.ctx.forget(object_key(conn, f"{group}/{version}/{plural}", namespace, name))

    @keyword("List Custom Objects", tags=["objects", "custom"])
    def list_custom_objects(self, kind: str, namespace: str, selector: str | None = None, group: str = GROUP,
                            version: str = VERSION, alias: str | None = None) -> list[str]:
        """The sorted names of the custom objects of a kind in a namespace (``selector``: a label selector).

        Example:
        | ${sessions} = | List Custom Objects | Session | ${ns} | selector=user=alice |
        """
        conn = self.ctx.conn(alias)
        plural = plural_of(kind)
        found = conn.call(f"List {plural}.{group} in {namespace}", conn.custom.list_namespaced_custom_object,
                          group, version, namespace, plural, label_selector=selector or None)
        return sorted(item["metadata"]["name"] for item in found.get("items") or [])
