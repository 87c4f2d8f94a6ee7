"""Platform API ``/store/*`` over the user memory store (LangGraph's store in the same database).

Agents remember per user under the namespace ``("users", <user id>)`` (``ctx.remember``).
A caller may read and write only namespaces under their own ``["users", <their id>]``;
an admin may use any namespace. Anything else is 403, saying which prefix is allowed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from stateline.nodes import USER_NAMESPACE

from ._auth import Principal
from ._errors import ApiError
from ._platform_common import Platform
from ._platform_convert import jsonable


def _namespace(value: Any, what: str = "namespace") -> tuple[str, ...]:
    if isinstance(value, str):
        value = value.split(".") if value else []
    if not isinstance(value, list) or not all(isinstance(v, str) and v and "." not in v for v in value):
        raise ApiError(422, "InvalidRequest", f"{what} must be a list of non-empty labels without '.'")
    return tuple(value)


def _allowed(who: Principal, namespace: tuple[str, ...], *, prefix: bool = False) -> tuple[str, ...]:
    """``namespace`` if ``who`` may use it; a non-admin's empty search prefix becomes their own."""
    if who.admin:
        return namespace
    own = (USER_NAMESPACE, who.user_id)
    if prefix and not namespace:
        return own
    if namespace[:2] != own:
        raise ApiError(403, "Forbidden", f"namespace {list(namespace)} is not yours; use one under {list(own)}")
    return namespace


def _item(item: Any) -> dict[str, Any]:
    out = {
        "namespace": list(item.namespace), "key": item.key, "value": jsonable(item.value),
        "created_at": item.created_at.isoformat(), "updated_at": item.updated_at.isoformat(),
    }
    if getattr(item, "score", None) is not None:
        out["score"] = item.score
    return out


def platform_store_router(p: Platform) -> APIRouter:
    router = APIRouter(tags=["platform"])
    store, principal = p.ctx.session.database.store, p.principal

    @router.put("/store/items", status_code=204)
    async def put_item(request: Request, who: Principal = Depends(principal)) -> None:
        """Store ``value`` (a JSON object) under ``namespace`` / ``key``."""
        body = await p.body(request)
        namespace = _allowed(who, _namespace(body.get("namespace")))
        key, value = body.get("key"), body.get("value")
        if not isinstance(key, str) or not key:
            raise ApiError(422, "InvalidRequest", "key must be a non-empty string")
        if not isinstance(value, dict):
            raise ApiError(422, "InvalidRequest", "value must be a JSON object")
        await run_in_threadpool(store.put, namespace, key, value)
        await p.ctx.record(who, "store.put", ".".join(namespace), 204, key)

    @router.get("/store/items")
    async def get_item(key: str, namespace: str = Query(""), who: Principal = Depends(principal)) -> dict[str, Any]:
        ns = _allowed(who, _namespace(namespace))
        item = await run_in_threadpool(store.get, ns, key)
        if item is None:
            raise ApiError(404, "UnknownItem", f"no item {key!r} in namespace {list(ns)}")
        return _item(item)

    @router.delete("/store/items", status_code=204)
    async def delete_item(request: Request, who: Principal = Depends(principal)) -> None:
        body = await p.body(request)
        ns = _allowed(who, _namespace(body.get("namespace")))
        if not isinstance(body.get("key"), str):
            raise ApiError(422, "InvalidRequest", "key must be a string")
        await run_in_threadpool(store.delete, ns, body["key"])
        await p.ctx.record(who, "store.delete", ".".join(ns), 204, body["key"])

    @router.post("/store/items/search")
    async def search_items(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
        body = await p.body(request)
        prefix = _allowed(who, _namespace(body.get("namespace_prefix") or [], "namespace_prefix"), prefix=True)
        limit, offset = body.get("limit", 10), body.get("offset", 0)
        if not (isinstance(limit, int) and 1 <= limit <= 1000 and isinstance(offset, int) and offset >= 0):
            raise ApiError(422, "InvalidRequest", "limit must be 1-1000 and offset 0 or more")
        flt = body.get("filter")
        if flt is not None and not isinstance(flt, dict):
            raise ApiError(422, "InvalidRequest", "filter must be a JSON object")
        items = await run_in_threadpool(
            lambda: store.search(prefix, query=body.get("query"), filter=flt, limit=limit, offset=offset)
        )
        return {"items": [_item(i) for i in items]}

    @router.post("/store/namespaces")
    async def namespaces(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
        body = await p.body(request)
        prefix = _allowed(who, _namespace(body.get("prefix") or [], "prefix"), prefix=True)
        suffix = _namespace(body["suffix"], "suffix") if body.get("suffix") else None
        found = await run_in_threadpool(
            lambda: store.list_namespaces(
                prefix=prefix or None, suffix=suffix, max_depth=body.get("max_depth"),
                limit=int(body.get("limit", 100)), offset=int(body.get("offset", 0)),
            )
        )
        return {"namespaces": [list(n) for n in found]}

    return router
