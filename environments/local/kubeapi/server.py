"""The HTTP side of the Kubernetes API stand-in: routing, JSON, watch streams (aiohttp)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from urllib.parse import unquote

from aiohttp import web

from environments.local.kubeapi import resources
from environments.local.kubeapi.resources import Resource
from environments.local.kubeapi.selectors import SelectorError, field_matcher, label_matcher
from environments.local.kubeapi.store import ApiError, Obj, Store, patcher

GIT_VERSION = "v1.31.0-kit-stand-in"
MAX_WATCH = 1800.0
NO_KUBELET = {"log", "exec", "attach", "portforward", "proxy", "eviction", "binding", "ephemeralcontainers"}


def version_info() -> Obj:
    return {"major": "1", "minor": "31", "gitVersion": GIT_VERSION, "gitCommit": "stand-in",
            "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "none (Python stand-in)",
            "compiler": "none", "platform": "linux/amd64"}


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)


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
            return _json(error.status(), error.code)
        except SelectorError as error:
            return _json(ApiError(400, "BadRequest", str(error)).status(), 400)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [unquote(p) for p in request.path.strip("/").split("/") if p]
        if request.method == "GET":
            doc = self._discovery(parts)
            if doc is not None:
                return doc if isinstance(doc, web.StreamResponse) else _json(doc)
        where = route(parts)
        if where is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if where.sub is not None:
            return await self._subresource(request, where)
        params = request.query
        if where.name is None:
            if request.method == "GET":
                matches = self._matcher(params)
                if params.get("watch", "").lower() in ("1", "true"):
                    return await self._watch(request, where, matches)
                items, version = self.store.list(where.res, where.namespace, matches)
                return _json({"kind": f"{where.res.kind}List", "apiVersion": where.res.group_version,
                              "metadata": {"resourceVersion": version}, "items": items})
            if request.method == "POST":
                if where.res.namespaced and where.namespace is None:
                    raise ApiError(405, "MethodNotAllowed", "create needs a namespace in the URL")
                return _json(self.store.create(where.res, where.namespace or "", await self._body(request)), 201)
            if request.method == "DELETE":
                items = self.store.delete_many(where.res, where.namespace, self._matcher(params))
                return _json({"kind": f"{where.res.kind}List", "apiVersion": where.res.group_version,
                              "metadata": {"resourceVersion": str(self.store.version)}, "items": items})
            raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed on a collection")
        namespace = where.namespace or ""
        if request.method == "GET":
            return _json(self.store.get(where.res, namespace, where.name))
        if request.method == "PUT":
            body = await self._body(request)
            return _json(self.store.update(where.res, namespace, where.name, lambda _old: body))
        if request.method == "PATCH":
            change = patcher(request.headers.get("Content-Type", ""), await self._body(request))
            return _json(self.store.update(where.res, namespace, where.name, change))
        if request.method == "DELETE":
            options = await self._body(request, default={})
            precondition = ((options or {}).get("preconditions") or {}).get("resourceVersion")
            return _json(self.store.delete(where.res, namespace, where.name, precondition))
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed on an object")

    # -- subresources ---------------------------------------------------------------------
    async def _subresource(self, request: web.Request, where: Route) -> web.StreamResponse:
        res, namespace, name, sub = where.res, where.namespace or "", where.name or "", where.sub
        if res.kind == "Pod" and sub in NO_KUBELET:
            self.store.get(res, namespace, name)  # 404 first when the pod is missing
            raise ApiError(501, "NotImplemented", f"pods/{sub} is not available: this is the Kubernetes API "
                           "stand-in, which runs no kubelet (no containers, logs, exec or port-forward)")
        if sub not in res.subresources:
            raise ApiError(404, "NotFound", f"the server could not find the requested resource ({res.plural}/{sub})")
        if sub == "scale":
            return await self._scale(request, res, namespace, name)
        if request.method == "GET":
            return _json(self.store.get(res, namespace, name))
        if request.method == "PUT":
            body = await self._body(request)
            return _json(self.store.update(res, namespace, name, lambda _old: body, sub="status"))
        if request.method == "PATCH":
            change = patcher(request.headers.get("Content-Type", ""), await self._body(request))
            return _json(self.store.update(res, namespace, name, change, sub="status"))
        raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed on {res.plural}/{sub}")

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
            raise ApiError(405, "MethodNotAllowed", f"{request.method} is not allowed on {res.plural}/scale")
        body = await self._body(request)
        if request.method == "PUT":
            def edit(_scale: Obj) -> Obj:
                return body
        else:
            edit = patcher(request.headers.get("Content-Type", ""), body)

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

    # -- watch ----------------------------------------------------------------------------
    async def _watch(self, request: web.Request, where: Route, matches: Any) -> web.StreamResponse:
        try:
            budget = min(float(request.query.get("timeoutSeconds", MAX_WATCH)), MAX_WATCH)
        except ValueError:
            raise ApiError(400, "BadRequest", "timeoutSeconds must be a number") from None
        try:
            watcher = self.store.watch(where.res, where.namespace, matches, request.query.get("resourceVersion"))
        except ApiError as error:
            if error.code != 410:
                raise
            watcher = None
            expired = error
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        if watcher is None:
            await response.write(json.dumps({"type": "ERROR", "object": expired.status()}).encode() + b"\n")
            return response
        deadline = time.monotonic() + budget
        try:
            while not self.stopping.is_set():
                remaining = deadline - time.monotonic()
                transport = request.transport
                if remaining <= 0 or transport is None or transport.is_closing():
                    break
                try:
                    event = await asyncio.wait_for(watcher.queue.get(), min(remaining, 1.0))
                except TimeoutError:
                    continue
                await response.write(json.dumps(event).encode() + b"\n")
            await response.write_eof()
        except ConnectionResetError:
            pass  # the client stopped watching
        finally:
            self.store.watchers.discard(watcher)
        return response

    # -- helpers --------------------------------------------------------------------------
    @staticmethod
    def _matcher(params: Any) -> Any:
        labels = label_matcher(params.get("labelSelector"))
        fields = field_matcher(params.get("fieldSelector"))
        return lambda obj: labels(obj) and fields(obj)

    @staticmethod
    async def _body(request: web.Request, default: Any = None) -> Any:
        text = await request.text()
        if not text.strip():
            if default is not None:
                return default
            raise ApiError(400, "BadRequest", "the request needs a JSON body")
        try:
            return json.loads(text)
        except ValueError as error:
            raise ApiError(400, "BadRequest", f"the body is not JSON: {error}") from None

    def _discovery(self, parts: list[str]) -> Any:
        if parts in ([], ["healthz"], ["readyz"], ["livez"]):
            if parts:
                return web.Response(text="ok")
            return {"paths": ["/api", "/api/v1", "/apis", "/healthz", "/version",
                              *(f"/apis/{g}" for g in resources.group_versions())]}
        if parts == ["version"]:
            return version_info()
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}
        if parts == ["apis"]:
            return resources.api_group_list()
        if parts == ["api", "v1"]:
            return resources.api_resource_list("", "v1")
        if len(parts) == 2 and parts[0] == "apis":
            return resources.api_group(parts[1]) or self._missing()
        if len(parts) == 3 and parts[0] == "apis":
            return resources.api_resource_list(parts[1], parts[2]) or self._missing()
        return None

    @staticmethod
    def _missing() -> Obj:
        raise ApiError(404, "NotFound", "the server could not find the requested resource")


async def serve(host: str, port: int, ready: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
    """Serve until ``stop`` is set (or forever); set ``ready`` once listening."""
    standin = StandIn()
    runner = web.AppRunner(standin.app(), handle_signals=False, shutdown_timeout=2.0, access_log=None)
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
