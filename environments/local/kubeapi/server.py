"""The HTTP side of the Kubernetes API stand-in: routing, JSON, content negotiation (aiohttp)."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, NoReturn
from urllib.parse import unquote

from aiohttp import web

from environments.local.kubeapi import (
    discovery,
    kubeproto,
    openapi,
    portforward,
    resources,
    tables,
    watching,
    wsforward,
)
from environments.local.kubeapi.discovery import GIT_VERSION, version_info
from environments.local.kubeapi.resources import Resource
from environments.local.kubeapi.selectors import SelectorError, field_matcher, label_matcher
from environments.local.kubeapi.store import ApiError, Obj, Store, patcher

__all__ = ["GIT_VERSION", "StandIn", "serve", "version_info"]

log = logging.getLogger("kubeapi")
NO_KUBELET = {"log", "exec", "attach", "proxy", "eviction", "binding", "ephemeralcontainers", "resize"}


def _json(body: Any, status: int = 200, content_type: str = "application/json") -> web.Response:
    return web.Response(body=json.dumps(body).encode(), status=status, headers={"Content-Type": content_type})


def unserved(message: str, code: int = 404, reason: str = "NotFound") -> ApiError:
    return ApiError(code, reason, message, unserved=True)


class Route:
    """What a resource URL names: the resource, the namespace, the object and its subresource."""

    def __init__(self, res: Resource, namespace: str | None, name: str | None, sub: str | None) -> None:
        self.res, self.namespace, self.name, self.sub = res, namespace, name, sub


def route(parts: list[str]) -> Route | None:
    if parts[:2] == ["api", "v1"]:
        group, version, rest = "", "v1", parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    namespace = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        nested = resources.find(group, version, rest[2])
        if nested is not None and nested.namespaced:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        return None
    res = resources.find(group, version, rest[0])
    if res is None or (namespace is not None and not res.namespaced):
        return None
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if name is not None and res.namespaced and namespace is None:
        return None
    return Route(res, namespace, name, sub)


class StandIn:
    def __init__(self) -> None:
        self.store = Store()
        self.stopping = asyncio.Event()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self.handle)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def _on_shutdown(self, app: web.Application) -> None:
        self.stopping.set()

    async def handle(self, request: web.Request) -> web.StreamResponse:
        try:
            return await self._dispatch(request)
        except ApiError as error:
            if error.unserved:
                log.warning("unserved: %s %s -> %d %s", request.method, request.path_qs, error.code, error.message)
            return _json(error.status(), error.code)
        except SelectorError as error:
            return _json(ApiError(400, "BadRequest", str(error)).status(), 400)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [unquote(p) for p in request.path.strip("/").split("/") if p]
        if request.method == "GET":
            doc = self._discovery(parts, request.headers.get("Accept", ""))
            if doc is not None:
                return doc
        where = route(parts)
        if where is None:
            raise unserved(f"the server could not find the requested resource (the stand-in serves no {request.path})")
        if where.sub is not None:
            return await self._subresource(request, where)
        if where.name is None:
            return await self._collection(request, where)
        namespace, res = where.namespace or "", where.res
        if request.method == "GET":
            return self._render(request, res, [self.store.get(res, namespace, where.name)], single=True)
        if request.method == "PUT":
            body = await self._body(request)
            return _json(self.store.update(res, namespace, where.name, lambda _old: body))
        if request.method == "PATCH":
            change = patcher(request.headers.get("Content-Type", ""), await self._body(request), res.kind, res.custom)
            return _json(self.store.update(res, namespace, where.name, change))
        if request.method == "DELETE":
            options = await self._body(request, default={})
            precondition = ((options or {}).get("preconditions") or {}).get("resourceVersion")
            return _json(self.store.delete(res, namespace, where.name, precondition))
        raise unserved(f"{request.method} is not allowed on an object", 405, "MethodNotAllowed")

    async def _collection(self, request: web.Request, where: Route) -> web.StreamResponse:
        res, params = where.res, request.query
        if request.method == "GET":
            matches = self._matcher(params)
            if params.get("watch", "").lower() in ("1", "true"):
                render = self._renderer(request, res)
                return await watching.watch(request, self.store, res, where.namespace, matches, self.stopping, render)
            items, version = self.store.list(res, where.namespace, matches)
            return self._render(request, res, items, version=version)
        if request.method == "POST":
            if res.namespaced and where.namespace is None:
                raise ApiError(405, "MethodNotAllowed", "create needs a namespace in the URL")
            return _json(self.store.create(res, where.namespace or "", await self._body(request)), 201)
        if request.method == "DELETE":
            items = self.store.delete_many(res, where.namespace, self._matcher(params))
            return _json({"kind": f"{res.kind}List", "apiVersion": res.group_version,
                          "metadata": {"resourceVersion": str(self.store.version)}, "items": items})
        raise unserved(f"{request.method} is not allowed on a collection", 405, "MethodNotAllowed")

    # -- rendering: JSON objects and lists, or Tables for kubectl --------------------------------------------
    def _render(self, request: web.Request, res: Resource, items: list[Obj], version: str | None = None,
                single: bool = False) -> web.Response:
        version = version or str(self.store.version)
        if tables.wants_table(request.headers.get("Accept", "")):
            include = request.query.get("includeObject", "Metadata")
            return _json(tables.table(res, items, version, include),
                         content_type="application/json;as=Table;v=v1;g=meta.k8s.io")
        if single:
            return _json(items[0])
        items, meta = watching.page(items, version, request.query)
        return _json({"kind": f"{res.kind}List", "apiVersion": res.group_version, "metadata": meta, "items": items})

    def _renderer(self, request: web.Request, res: Resource) -> Any:
        if not tables.wants_table(request.headers.get("Accept", "")):
            return lambda obj: obj
        include = request.query.get("includeObject", "Metadata")
        first = [True]

        def as_table(obj: Obj) -> Obj:
            doc = tables.table(res, [obj], obj.get("metadata", {}).get("resourceVersion", ""), include, first[0])
            first[0] = False
            return doc

        return as_table

    # -- subresources -----------------------------------------------------------------------------------
    async def _subresource(self, request: web.Request, where: Route) -> web.StreamResponse:
        res, namespace, name, sub = where.res, where.namespace or "", where.name or "", where.sub
        if res.kind == "Pod" and sub == "portforward":
            pod = self.store.get(res, namespace, name)  # 404 first when the pod is missing
            return await self._portforward(request, pod)
        if res.kind == "Pod" and sub in NO_KUBELET:
            self.store.get(res, namespace, name)
            raise unserved(f"pods/{sub} is not available: this is the Kubernetes API stand-in, whose kubelet "
                           "stand-in runs pods as host processes (no kubelet API: no logs, exec or attach; "
                           "port-forward is served)", 501, "NotImplemented")
        if sub not in res.subresources:
            raise unserved(f"the server could not find the requested resource ({res.plural}/{sub})")
        if sub == "scale":
            return await self._scale(request, res, namespace, name)
        if request.method == "GET":
            return _json(self.store.get(res, namespace, name))
        if request.method == "PUT":
            body = await self._body(request)
            return _json(self.store.update(res, namespace, name, lambda _old: body, sub="status"))
        if request.method == "PATCH":
            change = patcher(request.headers.get("Content-Type", ""), await self._body(request), res.kind, res.custom)
            return _json(self.store.update(res, namespace, name, change, sub="status"))
        raise unserved(f"{request.method} is not allowed on {res.plural}/{sub}", 405, "MethodNotAllowed")

    async def _portforward(self, request: web.Request, pod: Obj) -> web.StreamResponse:
        websocket = wsforward.is_websocket(request)
        try:
            if websocket:
                protocol, ports = wsforward.check(request)
            else:
                portforward.check_upgrade(request)
            ip = portforward.pod_target(pod)  # running, with a loopback podIP: the only traffic allowed here
        except portforward.UpgradeError as error:
            raise ApiError(error.code, error.reason, error.message,
                           unserved=portforward.LOOPBACK_RULE in error.message) from None
        if websocket:
            return await wsforward.serve(request, pod, ip, protocol, ports)
        return await portforward.serve(request, pod, ip)

    async def _scale(self, request: web.Request, res: Resource, namespace: str, name: str) -> web.StreamResponse:
        def scale_of(obj: Obj) -> Obj:
            meta = obj["metadata"]
            labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                      "creationTimestamp") if k in meta},
                    "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
                    "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                               "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items()))}}

        if request.method == "GET":
            return _json(scale_of(self.store.get(res, namespace, name)))
        if request.method not in ("PUT", "PATCH"):
            raise unserved(f"{request.method} is not allowed on {res.plural}/scale", 405, "MethodNotAllowed")
        body = await self._body(request)
        if request.method == "PUT":
            def edit(_scale: Obj) -> Obj:
                return body
        else:
            edit = patcher(request.headers.get("Content-Type", ""), body, "Scale")

        def change(obj: Obj) -> Obj:
            scale = edit(scale_of(obj))
            replicas = (scale.get("spec") or {}).get("replicas")
            if not isinstance(replicas, int) or replicas < 0:
                raise ApiError(422, "Invalid", f"Scale.autoscaling \"{name}\" is invalid: spec.replicas: "
                               "Invalid value: must be a whole number >= 0")
            obj.setdefault("spec", {})["replicas"] = replicas
            sent = (scale.get("metadata") or {}).get("resourceVersion")
            obj["metadata"]["resourceVersion"] = sent or obj["metadata"]["resourceVersion"]
            return obj

        return _json(scale_of(self.store.update(res, namespace, name, change)))

    # -- helpers ----------------------------------------------------------------------------------------
    @staticmethod
    def _matcher(params: Any) -> Any:
        labels = label_matcher(params.get("labelSelector"))
        fields = field_matcher(params.get("fieldSelector"))
        return lambda obj: labels(obj) and fields(obj)

    @staticmethod
    async def _body(request: web.Request, default: Any = None) -> Any:
        data = await request.read()
        if not data.strip():
            if default is not None:
                return default
            raise ApiError(400, "BadRequest", "the request needs a body")
        if request.headers.get("Content-Type", "").split(";")[0].strip() == kubeproto.MEDIA_TYPE:
            try:
                return kubeproto.decode(data)
            except (kubeproto.ProtoError, ValueError, IndexError) as error:
                raise ApiError(415, "UnsupportedMediaType", f"the protobuf body cannot be read: {error}",
                               unserved=True) from None
        try:
            return json.loads(data)
        except ValueError as error:
            raise ApiError(400, "BadRequest", f"the body is not JSON: {error}") from None

    def _discovery(self, parts: list[str], accept: str) -> web.StreamResponse | None:
        if parts in (["healthz"], ["readyz"], ["livez"]):
            return web.Response(text="ok")
        if parts and parts[0] == "openapi":
            return self._openapi(parts, accept)
        doc: Obj | None = None
        if parts == []:
            doc = {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/openapi/v2", "/openapi/v3", "/version",
                             *(f"/apis/{g}" for g in resources.group_versions())]}
        elif parts == ["version"]:
            doc = version_info()
        elif parts in (["api"], ["apis"]):
            wanted = discovery.wanted_aggregated(accept)
            if wanted:
                return _json(discovery.aggregated(parts == ["api"], wanted),
                             content_type=discovery.aggregated_content_type(wanted))
            doc = discovery.api_versions() if parts == ["api"] else discovery.api_group_list()
        elif parts == ["api", "v1"]:
            doc = discovery.api_resource_list("", "v1")
        elif len(parts) == 2 and parts[0] == "apis":
            doc = discovery.api_group(parts[1]) or self._missing(parts)
        elif len(parts) == 3 and parts[0] == "apis":
            doc = discovery.api_resource_list(parts[1], parts[2]) or self._missing(parts)
        return None if doc is None else _json(doc)

    def _openapi(self, parts: list[str], accept: str) -> web.StreamResponse:
        if parts == ["openapi", "v2"]:
            doc = openapi.v2()
            if openapi.wants_protobuf(accept):
                return web.Response(body=openapi.v2_protobuf(doc),
                                    headers={"Content-Type": openapi.PROTOBUF_V2[1]})
            return _json(doc)
        if parts == ["openapi", "v3"]:
            return _json(openapi.v3_index())
        rest = "/".join(parts[2:])
        for key, group, version in openapi.v3_paths():
            if parts[:2] == ["openapi", "v3"] and rest == key:
                return _json(openapi.v3_document(group, version))
        self._missing(parts)

    @staticmethod
    def _missing(parts: list[str]) -> NoReturn:
        raise unserved(f"the server could not find the requested resource (/{'/'.join(parts)})")


async def serve(host: str, port: int, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None,
                access_log: bool = False) -> None:
    """Serve until ``stop`` is set (or forever); set ``ready`` once listening."""
    standin = StandIn()
    runner = web.AppRunner(standin.app(), handle_signals=False, shutdown_timeout=2.0,
                           access_log=logging.getLogger("kubeapi.access") if access_log else None,
                           access_log_format='%r %s %b "%{User-Agent}i" %{Content-Type}i')
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    if ready is not None:
        ready.set()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        standin.stopping.set()
        await runner.cleanup()
