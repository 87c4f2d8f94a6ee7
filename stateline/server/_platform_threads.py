"""Platform API: ``/info``, assistants, threads, state and history (langgraph-sdk shapes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from stateline._ids import check_id, new_id
from stateline.checkpointing import delete_thread, fork
from stateline.errors import UnknownCheckpointError

from ._auth import Principal
from ._errors import ApiError
from ._platform_common import Platform
from ._platform_convert import state_json

SORTS = ("thread_id", "status", "created_at", "updated_at")
STATUSES = ("idle", "busy", "interrupted", "error")


def _int(body: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = body.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ApiError(422, "InvalidRequest", f"{key} must be a whole number from {low} to {high}")
    return value


def _matches(metadata: dict[str, Any], wanted: dict[str, Any]) -> bool:
    return all(metadata.get(k) == v for k, v in wanted.items())


def platform_threads_router(p: Platform) -> APIRouter:
    router = APIRouter(tags=["platform"])
    ctx, pdb, principal = p.ctx, p.pdb, p.principal

    @router.get("/info")
    async def info() -> dict[str, Any]:
        """What this server is (langgraph-sdk and agent-chat-ui ask first; no token needed)."""
        return {"version": "0.1.0", "langgraph_py_version": None, "flags": {"assistants": True, "crons": False},
                "host": {"kind": "stateline", "project_id": None, "revision_id": None}}

    @router.post("/assistants/search")
    async def search_assistants(request: Request, who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        """The one assistant: the workflow this server runs."""
        body = await p.body(request)
        wanted = body.get("graph_id")
        if wanted not in (None, p.graph_id):
            return []
        if not _matches(p.assistant()["metadata"], body.get("metadata") or {}):
            return []
        return [p.assistant()][_int(body, "offset", 0, 0, 10_000):][: _int(body, "limit", 10, 1, 1000)]

    @router.get("/assistants/{assistant_id}")
    async def get_assistant(assistant_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        p.check_assistant(assistant_id)
        return p.assistant()

    @router.get("/assistants/{assistant_id}/graph")
    async def get_graph(assistant_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        p.check_assistant(assistant_id)
        graph = await run_in_threadpool(lambda: ctx.session.graph.get_graph())
        return graph.to_json()

    @router.get("/assistants/{assistant_id}/schemas")
    async def get_schemas(assistant_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        """JSON schemas of the workflow's input, output and state (what LangGraph Studio shows)."""
        p.check_assistant(assistant_id)

        def schemas() -> dict[str, Any]:
            graph = ctx.session.graph
            state = _state_schema(graph)
            return {"graph_id": p.graph_id, "input_schema": state, "output_schema": state, "state_schema": state,
                    "config_schema": None, "context_schema": None}

        return await run_in_threadpool(schemas)

    @router.post("/threads")
    async def create_thread(request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
        """A new thread owned by the caller, with ``metadata``; ``if_exists``: raise (409) or do_nothing."""
        body = await p.body(request)
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ApiError(422, "InvalidRequest", "metadata must be a JSON object")
        if body.get("supersteps"):
            raise ApiError(422, "NotSupported", "supersteps are not supported: send the messages as runs instead")
        thread_id = check_id("thread id", body["thread_id"]) if body.get("thread_id") else new_id()
        made = await run_in_threadpool(ctx.owners.create, thread_id, who.user_id, None, None)
        if made is None:
            if body.get("if_exists") == "do_nothing":
                return await p.thread_out(await p.owned(who, thread_id, "thread.read"))
            await ctx.record(who, "thread.create", thread_id, 409)
            raise ApiError(409, "ThreadExists", f"thread id {thread_id!r} is taken; pick another or omit it")
        await run_in_threadpool(pdb.ensure_thread, thread_id, who.user_id, metadata)
        await ctx.record(who, "thread.create", thread_id, 200)
        return await p.thread_out(made)

    @router.get("/threads/{thread_id}")
    async def get_thread(thread_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        return await p.thread_out(await p.owned(who, thread_id, "thread.read"))

    @router.patch("/threads/{thread_id}")
    async def update_thread(thread_id: str, request: Request, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Merge ``metadata`` into the thread's."""
        owned = await p.owned(who, thread_id, "thread.change")
        body = await p.body(request)
        if not isinstance(body.get("metadata", {}), dict):
            raise ApiError(422, "InvalidRequest", "metadata must be a JSON object")
        row = await run_in_threadpool(pdb.ensure_thread, thread_id, owned.user_id or who.user_id)
        await run_in_threadpool(pdb.set_metadata, thread_id, {**row.metadata, **(body.get("metadata") or {})})
        return await p.thread_out(owned)

    @router.delete("/threads/{thread_id}", status_code=204)
    async def delete(thread_id: str, who: Principal = Depends(principal)) -> None:
        """Delete the thread: checkpoints, index, runs, events (409 while a run is active)."""
        await p.owned(who, thread_id, "thread.delete")
        if await run_in_threadpool(pdb.active, thread_id):
            raise ApiError(409, "ThreadBusy", f"thread {thread_id!r} has an active run; cancel or join it first")

        def drop() -> None:
            delete_thread(ctx.session.database, thread_id)
            pdb.delete_thread(thread_id)

        await run_in_threadpool(drop)

    @router.post("/threads/search")
    async def search(request: Request, who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        """The caller's threads (an admin's: all) filtered by metadata, ids, status; paged and sorted."""
        body = await p.body(request)
        return await run_in_threadpool(_search, p, who, body)

    @router.post("/threads/count")
    async def count(request: Request, who: Principal = Depends(principal)) -> int:
        body = {**(await p.body(request)), "offset": 0}
        body.pop("limit", None)
        return len(await run_in_threadpool(_search, p, who, body, False, True))

    @router.post("/threads/{thread_id}/copy")
    async def copy(thread_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        """A new thread with this one's history and metadata (the source is unchanged)."""
        owned = await p.owned(who, thread_id, "thread.copy")
        new = new_id()
        owner = owned.user_id or who.user_id

        def make() -> Any:
            made = ctx.owners.create(new, owner, owned.policy, owned.title)
            head = p.engine.head_checkpoint(thread_id)
            if head is not None:
                fork(ctx.session.database, thread_id, head, new)
            row = pdb.thread(thread_id)
            pdb.ensure_thread(new, owner, row.metadata if row is not None else {})
            return made

        made = await run_in_threadpool(make)
        await ctx.record(who, "thread.copy", thread_id, 200, f"to={new}")
        return await p.thread_out(made)

    @router.get("/threads/{thread_id}/state")
    async def get_state(thread_id: str, who: Principal = Depends(principal), subgraphs: bool = Query(False)) -> Any:
        await p.owned(who, thread_id, "thread.state")
        return await run_in_threadpool(_state, p, thread_id, None, subgraphs)

    @router.get("/threads/{thread_id}/state/{checkpoint_id}")
    async def get_state_at(
        thread_id: str, checkpoint_id: str, who: Principal = Depends(principal), subgraphs: bool = Query(False),
    ) -> Any:
        await p.owned(who, thread_id, "thread.state")
        return await run_in_threadpool(_state, p, thread_id, checkpoint_id, subgraphs)

    @router.post("/threads/{thread_id}/state/checkpoint")
    async def get_state_by_checkpoint(thread_id: str, request: Request, who: Principal = Depends(principal)) -> Any:
        await p.owned(who, thread_id, "thread.state")
        body = await p.body(request)
        checkpoint = body.get("checkpoint") or {}
        return await run_in_threadpool(
            _state, p, thread_id, checkpoint.get("checkpoint_id"), bool(body.get("subgraphs"))
        )

    @router.post("/threads/{thread_id}/state")
    async def update_state(thread_id: str, request: Request, who: Principal = Depends(principal)) -> Any:
        """Go back to a checkpoint (``checkpoint_id`` / ``checkpoint``, no ``values``): a new head copied from it."""
        await p.owned(who, thread_id, "thread.state.update")
        body = await p.body(request)
        target = body.get("checkpoint_id") or (body.get("checkpoint") or {}).get("checkpoint_id")
        if body.get("values") is not None or not target:
            raise ApiError(
                422,
                "NotSupported",
                "writing state values directly would bypass the agents' validation and the turn core; "
                "send a message as "
                'a run, or POST {"checkpoint_id": ...} to go back to an earlier checkpoint',
            )
        if await run_in_threadpool(pdb.active, thread_id):
            raise ApiError(409, "ThreadBusy", f"thread {thread_id!r} has an active run; wait for it to end")
        try:
            config = await run_in_threadpool(_rewind, p, thread_id, str(target))
        except UnknownCheckpointError as exc:
            raise ApiError(404, "UnknownCheckpoint", str(exc)) from None
        await ctx.record(who, "thread.rewind", thread_id, 200, f"to={target}")
        return {"checkpoint": {"thread_id": thread_id, "checkpoint_ns": "",
                               "checkpoint_id": config["configurable"]["checkpoint_id"], "checkpoint_map": None}}

    @router.post("/threads/{thread_id}/history")
    async def history(thread_id: str, request: Request, who: Principal = Depends(principal)) -> list[dict[str, Any]]:
        """Checkpoints newest first: ``limit``, ``before`` (a checkpoint), ``metadata`` filter."""
        await p.owned(who, thread_id, "thread.history")
        body = await p.body(request)
        return await run_in_threadpool(_history, p, thread_id, body)

    @router.get("/threads/{thread_id}/history")
    async def history_get(
        thread_id: str, who: Principal = Depends(principal), limit: int = Query(10, ge=1, le=1000),
        before: str | None = Query(None),
    ) -> list[dict[str, Any]]:
        await p.owned(who, thread_id, "thread.history")
        body: dict[str, Any] = {"limit": limit, **({"before": before} if before else {})}
        return await run_in_threadpool(_history, p, thread_id, body)

    return router


def _state_schema(graph: Any) -> dict[str, Any]:
    """The state's JSON schema; LangChain message types have no pydantic schema of their own, so when
    LangGraph cannot build one the state's channels are listed (any value)."""
    try:
        return dict(graph.get_input_jsonschema())
    except Exception:  # noqa: BLE001 - pydantic cannot describe BaseMessage annotations
        channels = [c for c in graph.output_channels if not c.startswith("__")]
        return {"title": "ConversationState", "type": "object", "properties": {c: {} for c in channels}}


def _rewind(p: Platform, thread_id: str, checkpoint_id: str) -> Any:
    from stateline.checkpointing import rewind

    return rewind(p.ctx.session.database, thread_id, checkpoint_id)


def _state(p: Platform, thread_id: str, checkpoint_id: str | None, subgraphs: bool) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread_id}
    if checkpoint_id:
        conf["checkpoint_id"] = check_id("checkpoint id", checkpoint_id)
    snapshot = p.ctx.session.graph.get_state({"configurable": conf}, subgraphs=subgraphs)
    if checkpoint_id and snapshot.metadata is None:
        raise ApiError(404, "UnknownCheckpoint", f"thread {thread_id!r} has no checkpoint {checkpoint_id!r}")
    if snapshot.metadata is None:  # a thread with no turn yet
        return {"values": {}, "next": [], "tasks": [], "checkpoint": None, "metadata": {}, "created_at": None,
                "parent_checkpoint": None, "interrupts": []}
    return state_json(snapshot)


def _history(p: Platform, thread_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
    limit = _int(body, "limit", 10, 1, 1000)
    before = body.get("before")
    before_id = before.get("checkpoint_id") if isinstance(before, dict) else before
    wanted = body.get("metadata") or {}
    if p.engine.head_checkpoint(thread_id) is None:
        return []
    out: list[dict[str, Any]] = []
    passed = before_id is None
    for snapshot in p.ctx.session.history(thread_id):
        if not passed:
            passed = snapshot.config["configurable"]["checkpoint_id"] == before_id
            continue
        if wanted and not _matches(snapshot.metadata or {}, wanted):
            continue
        out.append(state_json(snapshot))
        if len(out) >= limit:
            break
    return out


def _search(
    p: Platform, who: Principal, body: dict[str, Any], with_values: bool = True, everything: bool = False,
) -> list[dict[str, Any]]:
    limit, offset = _int(body, "limit", 10, 1, 1000), _int(body, "offset", 0, 0, 1_000_000)
    if everything:
        limit = 1_000_000_000
    wanted = body.get("metadata") or {}
    ids = set(body.get("ids") or [])
    status = body.get("status")
    if status is not None and status not in STATUSES:
        raise ApiError(422, "InvalidRequest", f"status must be one of {', '.join(STATUSES)}")
    sort_by, order = body.get("sort_by") or "created_at", body.get("sort_order") or "desc"
    if sort_by not in SORTS or order not in ("asc", "desc"):
        raise ApiError(422, "InvalidRequest", f"sort_by must be one of {', '.join(SORTS)}; sort_order asc or desc")
    user = None if who.admin else who.user_id
    rows = {t.thread_id: t for t in p.pdb.threads(user)}
    owned = {t.thread_id: t for t in p.ctx.owners.list(user, limit=100_000)}
    found = []
    for thread_id, thread in owned.items():
        meta = rows[thread_id].metadata if thread_id in rows else {}
        if (ids and thread_id not in ids) or not _matches(meta, wanted):
            continue
        found.append(thread)
    need_status = status is not None or sort_by == "status"
    records = [p.thread_json(t, with_values=False) for t in found] if need_status else None
    if records is not None:
        records = [r for r in records if status is None or r["status"] == status]
        records.sort(key=lambda r: str(r[sort_by]), reverse=order == "desc")
        page_ids = [r["thread_id"] for r in records[offset: offset + limit]]
    else:
        def key(t: Any) -> Any:
            row = rows.get(t.thread_id)
            if sort_by == "thread_id":
                return t.thread_id
            if sort_by == "updated_at" and row is not None:
                return row.updated_at
            return t.created_at or 0
        found.sort(key=key, reverse=order == "desc")
        page_ids = [t.thread_id for t in found[offset: offset + limit]]
    return [p.thread_json(owned[t], with_values=with_values) for t in page_ids]
