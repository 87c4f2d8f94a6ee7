"""Thread routes: create, list, read, change the busy policy, checkpoint history."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from stateline._app import App
from stateline._convert import checkpoint_row
from stateline.errors import UnknownThreadError

from ._auth import Principal
from ._errors import ApiError
from ._models import NewThread, ThreadChange
from ._threads import scoped_id

if TYPE_CHECKING:
    from ._context import ServerContext


def threads_router(ctx: ServerContext) -> APIRouter:
    router = APIRouter()
    session, owners, principal, record = ctx.session, ctx.owners, ctx.principal, ctx.record

    @router.post("/api/threads", status_code=201, tags=["threads"])
    async def create_thread(body: NewThread, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Create a conversation owned by the caller.

        An id you pick is scoped to you: ``t1`` becomes ``t1@<your user id>`` (the reply's
        ``thread_id``), so it is taken only if you took it.
        """
        thread_id = scoped_id(body.thread_id, who.user_id)
        made = await run_in_threadpool(owners.create, thread_id, who.user_id, body.policy, body.title)
        if made is None:
            await record(who, "thread.create", thread_id, 409)
            raise ApiError(409, "ThreadExists", f"thread id {thread_id!r} is taken; pick another or omit it")
        await record(who, "thread.create", thread_id, 201)
        return await run_in_threadpool(ctx.thread_summary, made)

    @router.get("/api/threads", tags=["threads"])
    async def list_threads(
        who: Principal = Depends(principal), limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        """The caller's threads, newest first (an admin sees everyone's)."""
        rows = await run_in_threadpool(owners.list, None if who.admin else who.user_id, limit=limit)
        await record(who, "thread.list", None)
        return {"threads": await run_in_threadpool(lambda: [ctx.thread_summary(t) for t in rows])}

    @router.get("/api/threads/{thread_id}", tags=["threads"])
    async def get_thread(thread_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Status, active agent, drafts, messages and what a waiting thread asks."""
        thread = await ctx.owned(who, thread_id, "thread.read")
        view = await run_in_threadpool(_view, session, thread_id)
        await record(who, "thread.read", thread_id)
        summary = await run_in_threadpool(ctx.thread_summary, thread)
        return {**summary, **view, "status": summary["status"]}

    @router.patch("/api/threads/{thread_id}", tags=["threads"])
    async def change_thread(thread_id: str, body: ThreadChange, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Change the busy policy: ``reject`` (409 while a turn runs) or ``enqueue`` (wait)."""
        thread = await ctx.owned(who, thread_id, "thread.change")
        await run_in_threadpool(owners.set_policy, thread_id, thread.user_id, body.policy)
        await record(who, "thread.change", thread_id, 200, f"policy={body.policy}")
        return await run_in_threadpool(ctx.thread_summary, await run_in_threadpool(owners.get, thread_id))

    @router.get("/api/threads/{thread_id}/history", tags=["threads"])
    async def history(
        thread_id: str, who: Principal = Depends(principal), limit: int = Query(50, ge=1, le=1000)
    ) -> dict[str, Any]:
        """The thread's checkpoints, newest first."""
        return {"checkpoints": await ctx.read(who, thread_id, "thread.history", _history, session, thread_id, limit)}

    return router


def _view(session: App, thread_id: str) -> dict[str, Any]:
    from dataclasses import asdict

    try:
        view = session.state(thread_id)
    except UnknownThreadError:  # created but no message yet
        return {"active_agent": None, "drafts": {}, "messages": [], "interrupt": None, "errors": []}
    data = asdict(view)
    data.pop("extra", None)
    return json.loads(json.dumps(data, default=str))


def _history(session: App, thread_id: str, limit: int) -> list[dict[str, Any]]:
    if session.status(thread_id) == "new":
        return []
    return [checkpoint_row(s) for s in session.history(thread_id, limit=limit)]
