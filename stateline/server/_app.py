"""The HTTP API (FastAPI): threads, messages with SSE or JSON replies, approval, runs, agents.

Every ``/api`` route needs ``Authorization: Bearer <token>``. A thread belongs to the user
who created it; anyone else gets 404 for it, exactly as for a thread that does not exist
(admins see everything). Reads and changes are written to the audit log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from stateline._app import App
from stateline._convert import checkpoint_row
from stateline._events import ConversationEnd, ErrorEvent
from stateline._ids import MAX_MESSAGE_CHARS, check_id, new_id
from stateline._stream import event_log, stream_turn
from stateline_errors import (
    AgentUnavailableError,
    InvalidInputError,
    InvalidTransitionError,
    StatelineError,
    StorageError,
    ThreadBusyError,
    ThreadStateError,
    UnknownAgentError,
    UnknownRunError,
    UnknownThreadError,
)

from ._auth import AuditLog, Principal, TokenTable
from ._graph import graph_picture
from ._hub import END, Hub
from ._lifecycle import agent_rows, change_agent_status, run_detail, run_row, timeline
from ._threads import ThreadOwners

log_errors = logging.getLogger("stateline.server")


@dataclass
class ServerSettings:
    """What ``stateline serve`` configures."""

    max_message_chars: int = MAX_MESSAGE_CHARS
    """Longer messages get 413."""
    default_policy: str = "reject"
    """What a message to a busy thread gets unless the thread says otherwise: reject (409) or enqueue."""
    workers: int = 8
    """Threads running turns (graph work is synchronous)."""
    max_body_bytes: int = 256 * 1024
    """Larger request bodies get 413 before they are parsed."""


class ApiError(Exception):
    def __init__(self, status: int, kind: str, message: str) -> None:
        self.status = status
        self.kind = kind
        self.message = message
        super().__init__(message)


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "type": kind, "message": message}}, status_code=status, headers=headers)


_STATUS = [
    (UnknownThreadError, 404), (UnknownRunError, 404), (UnknownAgentError, 404),
    (ThreadBusyError, 409), (ThreadStateError, 409), (InvalidTransitionError, 409), (AgentUnavailableError, 409),
    (InvalidInputError, 400), (StorageError, 503), (StatelineError, 400),
]


def status_of(exc: StatelineError) -> int:
    return next(code for cls, code in _STATUS if isinstance(exc, cls))


class BodyLimit:
    """413 for a request whose Content-Length is over ``limit`` (a plain ASGI middleware:
    Starlette's BaseHTTPMiddleware would wrap every streamed SSE response)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            length = dict(scope.get("headers") or ()).get(b"content-length")
            problem = None
            if length is not None and not length.isdigit():
                problem = _error(400, "InvalidRequest", "Content-Length is not a number")
            elif length is not None and int(length) > self.limit:
                problem = _error(413, "PayloadTooLarge", f"request body over {self.limit} bytes")
            if problem is not None:
                await problem(scope, receive, send)
                return
        await self.app(scope, receive, send)


class RequireToken:
    """401 for any ``/api`` request without a known token, before its body is even parsed."""

    def __init__(self, app: Any, tokens: TokenTable) -> None:
        self.app = app
        self.tokens = tokens

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/api/"):
            header = dict(scope.get("headers") or ()).get(b"authorization", b"").decode("latin-1")
            if self.tokens.lookup(bearer_token(header)) is None:
                await UNAUTHORIZED()(scope, receive, send)
                return
        await self.app(scope, receive, send)


def bearer_token(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


def UNAUTHORIZED() -> JSONResponse:  # noqa: N802 - reads as a constant
    return _error(401, "Unauthorized", "send Authorization: Bearer <token> with a known API token",
                  {"WWW-Authenticate": "Bearer"})


# -- request bodies -----------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewThread(_Body):
    thread_id: str | None = Field(default=None, description="your id for it; a random one if omitted")
    title: str | None = Field(default=None, max_length=200)
    policy: Literal["reject", "enqueue"] | None = Field(default=None, description="what a message to a busy thread gets")


class ThreadChange(_Body):
    policy: Literal["reject", "enqueue"]


class NewMessage(_Body):
    message: str = Field(description="what the user says")
    stream: bool | None = Field(default=None, description="SSE reply (default: when Accept is text/event-stream)")


class Decision(_Body):
    action: Literal["approve", "reject", "edit", "continue"] = Field(
        description="approve, reject or edit a waiting draft; continue finishes a turn a crash interrupted"
    )
    fields: dict[str, Any] = Field(default_factory=dict, description="edited field values (action 'edit')")
    stream: bool | None = None


class AgentStatusChange(_Body):
    status: str = Field(description="the lifecycle status to move to, e.g. paused or active")
    reason: str | None = Field(default=None, max_length=500)


def create_app(session: App, tokens: TokenTable, settings: ServerSettings | None = None) -> FastAPI:
    """The FastAPI application serving ``session`` (an :class:`App` over agents and a database)."""
    settings = settings or ServerSettings()
    executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="stateline-turn")
    owners = ThreadOwners(session.database, session.threads, settings.default_policy)
    audit = AuditLog(session.database)
    log = event_log(session)
    hub = Hub(executor)
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        executor.shutdown(wait=False, cancel_futures=True)

    api = FastAPI(
        lifespan=lifespan,
        title="stateline",
        version="0.1.0",
        description="Multi-agent conversations that survive crashes: threads, streamed turns (SSE), approval, runs.",
    )
    api.state.session = session
    api.state.hub = hub

    # -- errors: always a JSON body, never a 500 for bad input -------------------------
    @api.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.kind, exc.message)

    @api.exception_handler(StatelineError)
    async def _stateline_error(request: Request, exc: StatelineError) -> JSONResponse:
        return _error(status_of(exc), type(exc).__name__, str(exc))

    @api.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(400, "MalformedJSON", "the request body is not valid JSON")
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}" for e in errors]
        return _error(422, "InvalidRequest", "; ".join(parts))

    @api.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "HTTPError", str(exc.detail), getattr(exc, "headers", None))

    @api.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log_errors.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, type(exc).__name__, "internal error; see the server log")

    api.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    api.add_middleware(RequireToken, tokens=tokens)  # added last: runs first

    # -- who is calling ------------------------------------------------------------------
    async def principal(authorization: str | None = Header(default=None, include_in_schema=False)) -> Principal:
        who = tokens.lookup(bearer_token(authorization))
        if who is None:  # RequireToken answers first; kept so a route can never run unauthenticated
            raise ApiError(401, "Unauthorized", "send Authorization: Bearer <token> with a known API token")
        return who

    async def record(who: Principal, action: str, target: str | None, outcome: int = 200, detail: str | None = None) -> None:
        await run_in_threadpool(audit.record, who.user_id, action, target, outcome, detail)

    async def owned(who: Principal, thread_id: str, action: str) -> Any:
        """The thread if ``who`` may see it; otherwise 404, the same as an unknown thread."""
        try:
            check_id("thread id", thread_id)
        except InvalidInputError:
            raise UnknownThreadError(thread_id) from None
        thread = await run_in_threadpool(owners.get, thread_id)
        if thread is None or not (who.admin or thread.user_id == who.user_id):
            await record(who, action, thread_id, 404, "denied" if thread is not None else "unknown")
            raise UnknownThreadError(thread_id)
        return thread

    async def read(who: Principal, thread_id: str, action: str, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` in a worker thread, if ``who`` may read the thread; audited."""
        await owned(who, thread_id, action)
        result = await run_in_threadpool(fn, *args)
        await record(who, action, thread_id)
        return result

    def wants_stream(request: Request, flag: bool | None) -> bool:
        if flag is not None:
            return flag
        return "text/event-stream" in request.headers.get("accept", "")

    # -- page and health -----------------------------------------------------------------
    @api.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_static("index.html"))

    @api.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        kinds = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
        kind = next((v for k, v in kinds.items() if name.endswith(k)), None)
        if kind is None or "/" in name or name.startswith("."):
            raise ApiError(404, "NotFound", f"no static file {name!r}")
        try:
            return Response(_static(name), media_type=kind)
        except FileNotFoundError:
            raise ApiError(404, "NotFound", f"no static file {name!r}") from None

    @api.get("/health", tags=["server"])
    async def health() -> dict[str, Any]:
        """Liveness: no token needed."""
        return {"status": "ok", "database": session.database.url.backend, "agents": session.registry.names()}

    @api.get("/api/me", tags=["server"])
    async def me(who: Principal = Depends(principal)) -> dict[str, Any]:
        return {"user_id": who.user_id, "role": who.role}

    # -- threads ---------------------------------------------------------------------
    def thread_summary(thread: Any) -> dict[str, Any]:
        status = session.status(thread.thread_id)
        return {
            **thread.as_dict(), "status": "running" if hub.running(thread.thread_id) else status,
            "last_offset": log.last_offset(thread.thread_id),
        }

    @api.post("/api/threads", status_code=201, tags=["threads"])
    async def create_thread(body: NewThread, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Create a conversation owned by the caller."""
        thread_id = check_id("thread id", body.thread_id) if body.thread_id is not None else new_id()
        made = await run_in_threadpool(owners.create, thread_id, who.user_id, body.policy, body.title)
        if made is None:
            await record(who, "thread.create", thread_id, 409)
            raise ApiError(409, "ThreadExists", f"thread id {thread_id!r} is taken; pick another or omit it")
        await record(who, "thread.create", thread_id, 201)
        return await run_in_threadpool(thread_summary, made)

    @api.get("/api/threads", tags=["threads"])
    async def list_threads(
        who: Principal = Depends(principal), limit: int = Query(100, ge=1, le=1000),
    ) -> dict[str, Any]:
        """The caller's threads, newest first (an admin sees everyone's)."""
        rows = await run_in_threadpool(owners.list, None if who.admin else who.user_id, limit=limit)
        await record(who, "thread.list", None)
        return {"threads": await run_in_threadpool(lambda: [thread_summary(t) for t in rows])}

    @api.get("/api/threads/{thread_id}", tags=["threads"])
    async def get_thread(thread_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Status, active agent, drafts, messages and what a waiting thread asks."""
        thread = await owned(who, thread_id, "thread.read")
        view = await run_in_threadpool(_view, session, thread_id)
        await record(who, "thread.read", thread_id)
        summary = await run_in_threadpool(thread_summary, thread)
        return {**summary, **view, "status": summary["status"]}

    @api.patch("/api/threads/{thread_id}", tags=["threads"])
    async def change_thread(thread_id: str, body: ThreadChange, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Change the busy policy: ``reject`` (409 while a turn runs) or ``enqueue`` (wait)."""
        thread = await owned(who, thread_id, "thread.change")
        await run_in_threadpool(owners.set_policy, thread_id, thread.user_id, body.policy)
        await record(who, "thread.change", thread_id, 200, f"policy={body.policy}")
        return await run_in_threadpool(thread_summary, await run_in_threadpool(owners.get, thread_id))

    @api.get("/api/threads/{thread_id}/history", tags=["threads"])
    async def history(thread_id: str, who: Principal = Depends(principal), limit: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
        """The thread's checkpoints, newest first."""
        return {"checkpoints": await read(who, thread_id, "thread.history", _history, session, thread_id, limit)}

    # -- turns -----------------------------------------------------------------------
    async def run_turn(request: Request, who: Principal, thread: Any, stream: bool, **turn: Any) -> Any:
        thread_id = thread.thread_id
        lock = await hub.acquire(thread_id, thread.policy)
        try:
            events = await run_in_threadpool(
                stream_turn, session, thread_id, max_chars=settings.max_message_chars, user_id=thread.user_id, **turn
            )
        except BaseException:
            hub.release(thread_id, lock)
            raise
        queue = hub.start(thread_id, lock, events, lambda exc: _failure(thread_id, exc))
        if stream:
            return EventSourceResponse(_sse(hub, thread_id, queue, request), ping=10)
        collected = []
        while (item := await queue.get()) is not END:
            collected.append(item)
        return _turn_json(thread_id, collected)

    @api.post("/api/threads/{thread_id}/messages", tags=["turns"], responses={200: {"content": {"text/event-stream": {}}}})
    async def post_message(
        thread_id: str, body: NewMessage, request: Request, who: Principal = Depends(principal)
    ) -> Any:
        """Send a message. Reply: SSE events (``Accept: text/event-stream`` or ``stream: true``) or JSON.

        A thread already running a turn answers per its policy: 409 (``reject``) or waits (``enqueue``).
        """
        thread = await owned(who, thread_id, "message.post")
        size = len(body.message.strip())
        if size > settings.max_message_chars:
            await record(who, "message.post", thread_id, 413)
            raise ApiError(413, "MessageTooLarge", f"message has {size} characters; the limit is {settings.max_message_chars}")
        try:
            reply = await run_turn(request, who, thread, wants_stream(request, body.stream), message=body.message)
        except StatelineError as exc:
            await record(who, "message.post", thread_id, status_of(exc), type(exc).__name__)
            raise
        await record(who, "message.post", thread_id, 200)
        return reply

    @api.post("/api/threads/{thread_id}/resume", tags=["turns"])
    async def resume(thread_id: str, body: Decision, request: Request, who: Principal = Depends(principal)) -> Any:
        """Approve, reject or edit (``fields``) the draft a waiting thread shows; or ``continue`` after a crash."""
        thread = await owned(who, thread_id, "thread.resume")
        decision = {"action": body.action, "fields": body.fields} if body.fields else {"action": body.action}
        if body.action == "continue":
            decision = None
        try:
            reply = await run_turn(request, who, thread, wants_stream(request, body.stream), decision=decision)
        except StatelineError as exc:
            await record(who, "thread.resume", thread_id, status_of(exc), type(exc).__name__)
            raise
        await record(who, "thread.resume", thread_id, 200, json.dumps(decision or {"action": "continue"}, default=str))
        return reply

    @api.get("/api/threads/{thread_id}/events", tags=["turns"], responses={200: {"content": {"text/event-stream": {}}}})
    async def events(
        thread_id: str,
        request: Request,
        who: Principal = Depends(principal),
        after: str | None = Query(None, description="the last offset you saw (or send Last-Event-ID)"),
        last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
        stream: bool | None = Query(None),
    ) -> Any:
        """Stored events after an offset, then (SSE) the running turn's events live until it ends."""
        await owned(who, thread_id, "events.read")
        raw = last_event_id if last_event_id is not None else (after if after is not None else "0")
        offset = await run_in_threadpool(log.check_offset, thread_id, raw)
        await record(who, "events.read", thread_id, 200, f"after={offset}")
        if not wants_stream(request, stream):
            stored = await run_in_threadpool(log.after, thread_id, offset)
            return {"events": [e.model_dump(mode="json") for e in stored], "running": hub.running(thread_id) is not None}
        queue = hub.listen(thread_id)
        return EventSourceResponse(_replay(hub, log, thread_id, offset, queue, request), ping=10)

    # -- runs --------------------------------------------------------------------------
    @api.get("/api/threads/{thread_id}/runs", tags=["runs"])
    async def list_runs(thread_id: str, who: Principal = Depends(principal), limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
        """The thread's runs with their steps (durations, failures) and effects: the timeline."""
        return {"runs": await read(who, thread_id, "runs.read", timeline, session, thread_id, limit)}

    async def owned_run(who: Principal, run_id: str, action: str) -> dict[str, Any]:
        try:
            check_id("run id", run_id)
            run = await run_in_threadpool(run_row, session, run_id)
        except (InvalidInputError, UnknownRunError):
            await record(who, action, run_id, 404, "unknown")
            raise UnknownRunError(run_id) from None
        try:
            await owned(who, run["thread_id"], action)
        except UnknownThreadError:
            raise UnknownRunError(run_id) from None
        return run

    @api.get("/api/runs/{run_id}", tags=["runs"])
    async def get_run(run_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        run = await owned_run(who, run_id, "run.read")
        detail = await run_in_threadpool(run_detail, session, run)
        await record(who, "run.read", run_id)
        return detail

    @api.get("/api/runs/{run_id}/events", tags=["runs"])
    async def run_events(run_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        await owned_run(who, run_id, "run.events")
        stored = await run_in_threadpool(log.for_run, run_id)
        await record(who, "run.events", run_id)
        return {"events": [e.model_dump(mode="json") for e in stored]}

    # -- agents ------------------------------------------------------------------------
    @api.get("/api/agents", tags=["agents"])
    async def agents(who: Principal = Depends(principal)) -> dict[str, Any]:
        return {"agents": await run_in_threadpool(agent_rows, session)}

    @api.post("/api/agents/{name}/status", tags=["agents"])
    async def agent_status(name: str, body: AgentStatusChange, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Move an agent through its lifecycle (admins only)."""
        if name not in session.registry:
            raise UnknownAgentError(name, session.registry.names())
        if not who.admin:
            await record(who, "agent.status", name, 403)
            raise ApiError(403, "Forbidden", "only an admin may change an agent's status")
        row = await run_in_threadpool(
            change_agent_status, session, name, body.status, body.reason or f"changed over HTTP by {who.user_id}", who.user_id
        )
        await record(who, "agent.status", name, 200, body.status)
        return row

    @api.get("/api/graph", tags=["agents"])
    async def graph(who: Principal = Depends(principal)) -> dict[str, Any]:
        """The supervisor and its agents: Mermaid text, plus nodes and edges to draw."""
        return await run_in_threadpool(graph_picture, session)

    @api.get("/api/audit", tags=["server"])
    async def audit_rows(
        who: Principal = Depends(principal), limit: int = Query(200, ge=1, le=5000),
        target: str | None = Query(None), user: str | None = Query(None),
    ) -> dict[str, Any]:
        """The audit log, newest first (admins only)."""
        if not who.admin:
            raise ApiError(403, "Forbidden", "only an admin may read the audit log")
        return {"entries": await run_in_threadpool(lambda: audit.rows(user_id=user, target=target, limit=limit))}

    return api


# -- helpers ---------------------------------------------------------------------------
def _static(name: str) -> str:
    return resources.files("stateline.server.static").joinpath(name).read_text(encoding="utf-8")


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
