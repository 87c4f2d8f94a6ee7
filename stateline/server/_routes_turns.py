"""Turn routes: post a message, resume a waiting thread, read or follow its events (SSE)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from stateline._events import ConversationEnd, ErrorEvent
from stateline.errors import StatelineError

from ._auth import Principal
from ._errors import ApiError, status_of
from ._hub import END, Hub
from ._models import Decision, NewMessage

if TYPE_CHECKING:
    from ._context import ServerContext

def turns_router(ctx: ServerContext) -> APIRouter:
    router = APIRouter()
    principal, record, settings = ctx.principal, ctx.record, ctx.settings

    @router.post(
        "/api/threads/{thread_id}/messages", tags=["turns"], responses={200: {"content": {"text/event-stream": {}}}}
    )
    async def post_message(
        thread_id: str, body: NewMessage, request: Request, who: Principal = Depends(principal)
    ) -> Any:
        """Send a message. Reply: SSE events (``Accept: text/event-stream`` or ``stream: true``) or JSON.

        A thread already running a turn answers per its policy: 409 (``reject``) or waits (``enqueue``).
        """
        thread = await ctx.owned(who, thread_id, "message.post")
        size = len(body.message.strip())
        if size > settings.max_message_chars:
            await record(who, "message.post", thread_id, 413)
            raise ApiError(
                413, "MessageTooLarge", f"message has {size} characters; the limit is {settings.max_message_chars}"
            )
        try:
            reply = await ctx.run_turn(
                request, who, thread, ctx.wants_stream(request, body.stream), message=body.message
            )
        except StatelineError as exc:
            await record(who, "message.post", thread_id, status_of(exc), type(exc).__name__)
            raise
        await record(who, "message.post", thread_id, 200)
        return reply

    @router.post("/api/threads/{thread_id}/resume", tags=["turns"])
    async def resume(thread_id: str, body: Decision, request: Request, who: Principal = Depends(principal)) -> Any:
        """Approve, reject or edit (``fields``) the draft a waiting thread shows; or ``continue`` after a crash."""
        thread = await ctx.owned(who, thread_id, "thread.resume")
        decision: dict[str, Any] | None = (
            {"action": body.action, "fields": body.fields} if body.fields else {"action": body.action}
        )
        if body.action == "continue":
            decision = None
        try:
            reply = await ctx.run_turn(request, who, thread, ctx.wants_stream(request, body.stream), decision=decision)
        except StatelineError as exc:
            await record(who, "thread.resume", thread_id, status_of(exc), type(exc).__name__)
            raise
        await record(who, "thread.resume", thread_id, 200, json.dumps(decision or {"action": "continue"}, default=str))
        return reply

    @router.get(
        "/api/threads/{thread_id}/events", tags=["turns"], responses={200: {"content": {"text/event-stream": {}}}}
    )
    async def events(
        thread_id: str,
        request: Request,
        who: Principal = Depends(principal),
        after: str | None = Query(None, description="the last offset you saw (or send Last-Event-ID)"),
        last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
        stream: bool | None = Query(None),
    ) -> Any:
        """Stored events after an offset, then (SSE) the running turn's events live until it ends."""
        hub, log = ctx.hub, ctx.log
        await ctx.owned(who, thread_id, "events.read")
        raw = last_event_id if last_event_id is not None else (after if after is not None else "0")
        offset = await run_in_threadpool(log.check_offset, thread_id, raw)
        await record(who, "events.read", thread_id, 200, f"after={offset}")
        if not ctx.wants_stream(request, stream):
            stored = await run_in_threadpool(log.after, thread_id, offset)
            return {
                "events": [e.model_dump(mode="json") for e in stored],
                "running": hub.running(thread_id) is not None,
            }
        queue = hub.listen(thread_id)
        return EventSourceResponse(_replay(hub, log, thread_id, offset, queue, request), ping=10)

    return router


def _failure(thread_id: str, exc: BaseException) -> Any:
    return ErrorEvent(thread_id=thread_id, message=str(exc) or type(exc).__name__, error_type=type(exc).__name__)


def _sse_item(event: Any) -> dict[str, Any]:
    item = {"event": event.type, "data": event.model_dump_json()}
    if event.offset is not None:
        item["id"] = str(event.offset)
    return item


async def _sse(hub: Hub, thread_id: str, queue: asyncio.Queue[Any], request: Request) -> AsyncIterator[dict[str, Any]]:
    try:
        while (item := await queue.get()) is not END:
            yield _sse_item(item)
    finally:
        hub.forget(thread_id, queue)


async def _replay(
    hub: Hub, log: Any, thread_id: str, offset: int, queue: asyncio.Queue[Any] | None, request: Request
) -> AsyncIterator[dict[str, Any]]:
    """Stored events after ``offset``, then live ones (skipping any already sent)."""
    try:
        last = offset
        for event in await run_in_threadpool(log.after, thread_id, offset):
            last = event.offset
            yield _sse_item(event)
        if queue is None:
            return
        while (item := await queue.get()) is not END:
            if item.offset is None or item.offset > last:
                last = item.offset or last
                yield _sse_item(item)
    finally:
        if queue is not None:
            hub.forget(thread_id, queue)


def _turn_json(thread_id: str, events: list[Any]) -> dict[str, Any]:
    ends = [e for e in events if isinstance(e, ConversationEnd)]
    status = ends[-1].status if ends else "failed"
    replies = [{"agent": e.agent, "text": e.text} for e in events if e.type == "agent_complete"]
    waiting = next((e.model_dump(mode="json") for e in reversed(events) if e.type == "waiting_input"), None)
    return {
        "thread_id": thread_id, "status": status, "replies": replies, "waiting": waiting,
        "run_ids": sorted({e.run_id for e in events if e.run_id}, key=[e.run_id for e in events].index),
        "events": [e.model_dump(mode="json") for e in events],
    }
