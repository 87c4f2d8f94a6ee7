"""Platform API runs: stream, wait, background, get, join, rejoin a stream, cancel.

A run's input is mapped onto one stateline turn: ``input.messages`` -> the last user
message is sent (``App.stream(thread, message)``); ``command.resume`` -> the decision for a
thread waiting for approval (``approve`` / ``reject`` / ``{"action": "edit", "fields":
{...}}``, or agent-inbox style ``{"type": "accept" | "ignore" | "edit", "args": ...}``); no
input and no command -> a cut-short turn is finished. ``multitask_strategy`` is the busy
policy, kept in the database so every replica applies it: ``reject`` (409), ``enqueue``
(waits its turn), ``interrupt`` / ``rollback`` (pending runs are dropped; the running turn
is never cut in half, so it ends at its turn boundary, and with ``rollback`` it is then
reverted to the checkpoint it started from and deleted; then the new run starts).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from stateline._ids import new_id
from stateline.errors import ThreadStateError

from ._auth import Principal
from ._errors import ApiError
from ._platform_common import Platform
from ._platform_convert import MODES, iso
from ._platform_db import TERMINAL, RunRow

STRATEGIES = ("reject", "enqueue", "interrupt", "rollback")
UNSUPPORTED = ("interrupt_before", "interrupt_after", "webhook", "after_seconds")
_HITL = {"accept": "approve", "approve": "approve", "ignore": "reject", "reject": "reject", "response": "reject"}


def _bad(message: str) -> ApiError:
    return ApiError(422, "InvalidRequest", message)


def _text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [c.get("text", "") if isinstance(c, dict) else str(c) for c in content]
        return "".join(parts)
    return None


def message_of(inp: Any) -> str | None:
    """The user message a run's ``input`` carries (None for no input)."""
    if inp is None:
        return None
    if not isinstance(inp, dict) or set(inp) - {"messages"}:
        raise _bad("input must be {\"messages\": [{\"role\": \"user\", \"content\": \"...\"}]} (or null to resume)")
    messages = inp.get("messages") or []
    if isinstance(messages, dict):
        messages = [messages]
    for msg in reversed(messages if isinstance(messages, list) else []):
        if isinstance(msg, dict) and (msg.get("role") in ("user", "human") or msg.get("type") == "human"):
            text = _text(msg.get("content"))
            if text is not None:
                return text
        if isinstance(msg, str):
            return msg
    raise _bad("input.messages has no user message (role 'user' or type 'human' with text content)")


def decision_of(resume: Any) -> dict[str, Any]:
    """``command.resume`` as a stateline decision (the core validates it further)."""
    if isinstance(resume, list) and len(resume) == 1:
        resume = resume[0]
    if isinstance(resume, dict) and len(resume) == 1 and not ({"action", "type"} & set(resume)):
        resume = next(iter(resume.values()))  # {interrupt_id: value}
    if isinstance(resume, str):
        return {"action": _HITL.get(resume, resume)}
    if isinstance(resume, dict) and "action" in resume:
        return resume
    if isinstance(resume, dict) and resume.get("type") in _HITL:
        return {"action": _HITL[resume["type"]]}
    if isinstance(resume, dict) and resume.get("type") == "edit":
        args = resume.get("args") or {}
        fields = args.get("args", args) if isinstance(args, dict) else {}
        return {"action": "edit", "fields": fields}
    raise _bad("command.resume must be 'approve', 'reject', {\"action\": \"edit\", \"fields\": {...}} or "
               "{\"type\": \"accept\" | \"ignore\" | \"edit\", \"args\": ...}")


def modes_of(value: Any, default: list[str]) -> list[str]:
    if isinstance(value, list):
        value = [v for v in value if v != ""]
    modes = default if value in (None, [], "") else ([value] if isinstance(value, str) else value)
    if not isinstance(modes, list) or any(m not in MODES for m in modes):
        raise _bad(f"stream_mode must be one or more of {', '.join(MODES)}")
    return list(modes)


def run_json(run: RunRow) -> dict[str, Any]:
    return {
        "run_id": run.run_id, "thread_id": run.thread_id, "assistant_id": run.assistant_id,
        "created_at": iso(run.created_at), "updated_at": iso(run.updated_at), "status": run.status,
        "metadata": run.metadata, "multitask_strategy": run.strategy, "kwargs": run.request,
        "cancel_reason": run.cancel,
    }


def platform_runs_router(p: Platform) -> APIRouter:
    router = APIRouter(tags=["platform"])
    ctx, pdb, engine, principal = p.ctx, p.pdb, p.engine, p.principal

    def parse(body: dict[str, Any], owned: Any) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
        assistant_id = p.check_assistant(body.get("assistant_id"))
        if given := [k for k in UNSUPPORTED if body.get(k)]:
            raise _bad(f"{', '.join(given)} not supported by stateline serve (see docs/platform.md)")
        if body.get("on_disconnect") not in (None, "continue"):
            raise _bad("on_disconnect must be 'continue': a turn is never cut in half when a client goes away")
        policy = "enqueue" if owned.policy == "enqueue" else "reject"
        strategy = body.get("multitask_strategy") or policy
        if strategy not in STRATEGIES:
            raise _bad(f"multitask_strategy must be one of {', '.join(STRATEGIES)}")
        command = body.get("command") or None
        request: dict[str, Any] = {
            "stream_mode": modes_of(body.get("stream_mode"), ["values"]),
            "subgraphs": bool(body.get("stream_subgraphs")),
        }
        if command is not None:
            if not isinstance(command, dict) or set(command) - {"resume"} or "resume" not in command:
                raise _bad("command supports only resume (goto and update would bypass the agents)")
            if body.get("input") is not None:
                raise _bad("send either input or command, not both")
            request["decision"] = decision_of(command["resume"])
        else:
            request["message"] = message_of(body.get("input"))
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise _bad("metadata must be a JSON object")
        return assistant_id, strategy, request, metadata

    def precheck(thread_id: str, request: dict[str, Any]) -> None:
        """With no run active, refuse what the thread's state cannot take (before anything is stored)."""
        if pdb.active(thread_id):
            return
        status = ctx.session.status(thread_id)
        if request.get("message") is not None and status == "waiting":
            raise ThreadStateError(thread_id, status, f"thread {thread_id!r} is waiting for approval; "
                                   "answer it with command.resume ('approve', 'reject' or an edit)")
        if request.get("decision") is not None and status != "waiting":
            raise ThreadStateError(
                thread_id, status, f"thread {thread_id!r} is not waiting for approval (it is {status})"
            )
        if (
            request.get("message") is None
            and request.get("decision") is None
            and status not in ("interrupted", "failed")
        ):
            raise ThreadStateError(thread_id, status, f"thread {thread_id!r} has nothing to resume (it is {status}); "
                                   "send input.messages")

    def check_checkpoint(thread_id: str, body: dict[str, Any]) -> None:
        """A run from the thread's head checkpoint is an ordinary run; from an older one it is refused."""
        wanted = body.get("checkpoint_id") or (body.get("checkpoint") or {}).get("checkpoint_id")
        if wanted and wanted != engine.head_checkpoint(thread_id):
            raise _bad(f"runs start from the thread's head; to continue from checkpoint {wanted!r} first POST "
                       f"/threads/{thread_id}/state {{\"checkpoint_id\": ...}} (or copy the thread)")

    async def create(thread_id: str, request: Request, who: Principal) -> RunRow:
        body = await p.body(request)
        if body.get("if_not_exists") == "create" or thread_id == "":
            thread_id = thread_id or new_id()
            if await run_in_threadpool(ctx.owners.create, thread_id, who.user_id, None, None) is not None:
                await run_in_threadpool(pdb.ensure_thread, thread_id, who.user_id, {})
        owned = await p.owned(who, thread_id, "run.create")
        assistant_id, strategy, req, metadata = parse(body, owned)
        owner = owned.user_id or who.user_id
        await run_in_threadpool(pdb.ensure_thread, thread_id, owner)
        await run_in_threadpool(check_checkpoint, thread_id, body)
        await run_in_threadpool(precheck, thread_id, req)
        run = RunRow(new_id(), thread_id, assistant_id, owner, "pending", strategy, req, metadata)
        made, before = await run_in_threadpool(pdb.create_run, run)
        if made is None:
            await ctx.record(who, "run.create", thread_id, 409, "busy")
            busy = ", ".join(r.run_id for r in before)
            raise ApiError(409, "ThreadBusy", f"thread {thread_id!r} is busy with run {busy}; wait, or send "
                           "multitask_strategy 'enqueue' (or 'interrupt' / 'rollback')")
        await ctx.record(who, "run.create", thread_id, 200, f"run={run.run_id} strategy={strategy}")
        await run_in_threadpool(engine.try_start, run.run_id)
        return run

    def stream_response(run: RunRow, modes: list[str], subgraphs: bool, last_id: str | None) -> EventSourceResponse:
        async def items() -> Any:
            async for part_id, event, data in engine.parts(run.run_id, modes, subgraphs, last_id):
                yield {"id": part_id, "event": event, "data": json.dumps(data, default=str)}

        where = f"/threads/{run.thread_id}/runs/{run.run_id}"
        return EventSourceResponse(items(), ping=10, headers={"Location": f"{where}/stream", "Content-Location": where})

    async def waited(run: RunRow) -> JSONResponse:
        done = await engine.until_done(run.run_id)
        values = {} if done is None else await run_in_threadpool(engine.final_values, done)
        return JSONResponse(values, headers={"Content-Location": f"/threads/{run.thread_id}/runs/{run.run_id}"})

    async def run_of(who: Principal, thread_id: str, run_id: str, action: str) -> RunRow:
        await p.owned(who, thread_id, action)
        run = await run_in_threadpool(pdb.run, run_id)
        if run is None or run.thread_id != thread_id:
            raise ApiError(
                404,
                "UnknownRun",
                f"thread {thread_id!r} has no run {run_id!r}; GET /threads/{thread_id}/runs lists them",
            )
        return run

    @router.post("/threads/{thread_id}/runs/stream")
    async def stream_run(thread_id: str, request: Request, who: Principal = Depends(principal)) -> Any:
        """Start a run and stream it (SSE); ``Location`` is where to rejoin it."""
        run = await create(thread_id, request, who)
        return stream_response(run, run.request["stream_mode"], run.request["subgraphs"], None)

    @router.post("/runs/stream")
    async def stream_stateless(request: Request, who: Principal = Depends(principal)) -> Any:
        run = await create("", request, who)
        return stream_response(run, run.request["stream_mode"], run.request["subgraphs"], None)

    @router.post("/threads/{thread_id}/runs/wait")
    async def wait_run(thread_id: str, request: Request, who: Principal = Depends(principal)) -> Any:
        """Start a run and answer with the thread's values at its end."""
        return await waited(await create(thread_id, request, who))

    @router.post("/runs/wait")
    async def wait_stateless(request: Request, who: Principal = Depends(principal)) -> Any:
        return await waited(await create("", request, who))

    @router.post("/threads/{thread_id}/runs")
    async def background(thread_id: str, request: Request, who: Principal = Depends(principal)) -> Any:
        """Start a run in the background; poll, join, stream or cancel it by ``run_id``."""
        run = await create(thread_id, request, who)
        fresh = await run_in_threadpool(pdb.run, run.run_id)
        return JSONResponse(
            run_json(fresh or run), headers={"Content-Location": f"/threads/{thread_id}/runs/{run.run_id}"}
        )

    @router.post("/runs")
    async def background_stateless(request: Request, who: Principal = Depends(principal)) -> Any:
        run = await create("", request, who)
        fresh = await run_in_threadpool(pdb.run, run.run_id)
        return run_json(fresh or run)

    @router.get("/threads/{thread_id}/runs")
    async def list_runs(
        thread_id: str, who: Principal = Depends(principal), limit: int = Query(10, ge=1, le=1000),
        offset: int = Query(0, ge=0), status: str | None = Query(None),
    ) -> list[dict[str, Any]]:
        await p.owned(who, thread_id, "run.list")
        return [
            run_json(r)
            for r in await run_in_threadpool(lambda: pdb.runs(thread_id, limit=limit, offset=offset, status=status))
        ]

    @router.get("/threads/{thread_id}/runs/{run_id}")
    async def get_run(thread_id: str, run_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        return run_json(await run_of(who, thread_id, run_id, "run.read"))

    @router.get("/threads/{thread_id}/runs/{run_id}/join")
    async def join(thread_id: str, run_id: str, who: Principal = Depends(principal)) -> Any:
        """Wait for the run to end; the thread's values at its end."""
        return await waited(await run_of(who, thread_id, run_id, "run.join"))

    @router.get("/threads/{thread_id}/runs/{run_id}/stream")
    async def rejoin(
        thread_id: str, run_id: str, who: Principal = Depends(principal),
        stream_mode: list[str] | None = Query(None),
        last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
    ) -> Any:
        """The run's stream from its start (or after ``Last-Event-ID``), live until it ends; also when it has ended."""
        run = await run_of(who, thread_id, run_id, "run.stream")
        modes = modes_of(stream_mode, run.request["stream_mode"])
        return stream_response(run, modes, run.request["subgraphs"], last_event_id)

    @router.post("/threads/{thread_id}/runs/{run_id}/cancel")
    async def cancel(
        thread_id: str, run_id: str, who: Principal = Depends(principal),
        wait: int = Query(0), action: str = Query("interrupt"),
    ) -> Any:
        """A pending run is dropped. A running turn is never cut in half: ``rollback`` reverts it when it ends."""
        run = await run_of(who, thread_id, run_id, "run.cancel")
        if action not in ("interrupt", "rollback"):
            raise _bad("action must be interrupt or rollback")
        if run.status == "pending" and await run_in_threadpool(pdb.cancel_pending, run_id):
            if action == "rollback":
                await run_in_threadpool(pdb.delete_run, run_id)
        elif run.status == "running" and action == "rollback":
            await run_in_threadpool(pdb.mark_cancel, run_id, "rollback")
        elif run.status not in TERMINAL:
            raise ApiError(409, "RunRunning", f"run {run_id!r} is mid-turn and a turn is never cut in half; "
                           "cancel with action=rollback to revert it when it ends, or join it")
        await ctx.record(who, "run.cancel", thread_id, 200, f"run={run_id} action={action}")
        engine.notify(thread_id, force=True)
        if wait:
            await engine.until_done(run_id)
        fresh = await run_in_threadpool(pdb.run, run_id)
        return run_json(fresh) if fresh is not None else {}

    @router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204)
    async def delete_run(thread_id: str, run_id: str, who: Principal = Depends(principal)) -> None:
        run = await run_of(who, thread_id, run_id, "run.delete")
        if run.status not in TERMINAL:
            raise ApiError(409, "RunActive", f"run {run_id!r} is {run.status}; cancel or join it first")
        await run_in_threadpool(pdb.delete_run, run_id)

    return router
