"""The HTTP API (FastAPI): threads, messages with SSE or JSON replies, approval, runs, agents.

Every ``/api`` route needs ``Authorization: Bearer <token>``. A thread belongs to the user
who created it; anyone else gets 404 for it, exactly as for a thread that does not exist
(admins see everything). Reads and changes are written to the audit log.

The routes live in ``_routes_threads``, ``_routes_turns`` and ``_routes_ops``; what they
share (session, owners, audit log, hub, helpers) is a :class:`ServerContext`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from stateline._app import App
from stateline._ids import MAX_MESSAGE_CHARS
from stateline.errors import StatelineError

from ._auth import ANONYMOUS, AuditLog, TokenTable
from ._context import ServerContext, bearer_token
from ._errors import ApiError, _error, status_of
from ._platform import platform_router
from ._routes_ops import ops_router, page_router
from ._routes_threads import threads_router
from ._routes_turns import turns_router

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


class BodyLimit:
    """413 for a request body over ``limit`` bytes, whether it declares a Content-Length or
    is sent chunked (a plain ASGI middleware: Starlette's BaseHTTPMiddleware would wrap
    every streamed SSE response).

    A body without a Content-Length is read here, counting, before the route runs: at most
    ``limit`` bytes of it are ever held, and the route then gets it replayed.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None and not length.isdigit():
            await _error(400, "InvalidRequest", "Content-Length is not a number")(scope, receive, send)
            return
        if length is not None and int(length) > self.limit:
            await self._too_large(scope, receive, send)
            return
        if length is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            messages = await self._read_counted(receive)
            if messages is None:
                await self._too_large(scope, receive, send)
                return
            receive = _replay(messages, receive)
        await self.app(scope, receive, send)

    async def _read_counted(self, receive: Any) -> list[dict[str, Any]] | None:
        """The body's messages, or None as soon as it passes the limit (the rest is not read)."""
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages  # the client went away: let the route see it
            size += len(message.get("body", b""))
            if size > self.limit:
                return None
            if not message.get("more_body", False):
                return messages

    async def _too_large(self, scope: Any, receive: Any, send: Any) -> None:
        await _error(413, "PayloadTooLarge", f"request body over {self.limit} bytes")(scope, receive, send)


def _replay(messages: list[dict[str, Any]], receive: Any) -> Any:
    pending = list(messages)

    async def replayed() -> dict[str, Any]:
        return pending.pop(0) if pending else await receive()

    return replayed


class RequireToken:
    """401 for any ``/api`` request without a known token, before its body is even parsed;
    each one is written to the audit log (user ``-``, the path, the thread it names)."""

    def __init__(self, app: Any, tokens: TokenTable, audit: AuditLog) -> None:
        self.app = app
        self.tokens = tokens
        self.audit = audit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope.get("path", "").startswith("/api/"):
            header = dict(scope.get("headers") or ()).get(b"authorization", b"").decode("latin-1")
            token = bearer_token(header)
            if self.tokens.lookup(token) is None:
                await run_in_threadpool(self._record, scope, "unknown token" if token else "no token")
                await UNAUTHORIZED()(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _record(self, scope: Any, detail: str) -> None:
        path = str(scope.get("path", ""))
        parts = path.split("/")
        thread = parts[3] if len(parts) > 3 and parts[2] == "threads" and parts[3] else None
        action = f"{scope.get('method', '?')} {'/'.join(parts[:3])}"
        self.audit.record(ANONYMOUS, action, path[:200], 401, detail, thread_id=thread[:200] if thread else None)


def UNAUTHORIZED() -> JSONResponse:
    return _error(401, "Unauthorized", "send Authorization: Bearer <token> with a known API token",
                  {"WWW-Authenticate": "Bearer"})


# -- errors: always a JSON body, never a 500 for bad input -----------------------------
async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return _error(exc.status, exc.kind, exc.message)


async def _stateline_error(request: Request, exc: StatelineError) -> JSONResponse:
    return _error(status_of(exc), type(exc).__name__, str(exc))


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return _error(400, "MalformedJSON", "the request body is not valid JSON")
    parts = [f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg')}" for e in errors]
    return _error(422, "InvalidRequest", "; ".join(parts))


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return _error(exc.status_code, "HTTPError", str(exc.detail), getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log_errors.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return _error(500, type(exc).__name__, "internal error; see the server log")


def create_app(session: App, tokens: TokenTable, settings: ServerSettings | None = None) -> FastAPI:
    """The FastAPI application serving ``session`` (an :class:`App` over agents and a database)."""
    ctx = ServerContext.build(session, tokens, settings or ServerSettings())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        ctx.executor.shutdown(wait=False, cancel_futures=True)

    # FastAPIOffline: /docs loads Swagger UI from files in the package (/static-offline-docs),
    # not from a CDN, so it works on a machine with no internet. No /redoc: ReDoc still
    # fetches its logo from cdn.redoc.ly.
    api = FastAPIOffline(
        redoc_url=None,
        lifespan=lifespan,
        title="stateline",
        version="0.1.0",
        description="Multi-agent conversations that survive crashes: threads, streamed turns (SSE), approval, runs.",
    )
    api.state.session = session
    api.state.hub = ctx.hub
    api.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    api.add_exception_handler(StatelineError, _stateline_error)  # type: ignore[arg-type]
    api.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    api.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    api.add_exception_handler(Exception, _unexpected)
    api.add_middleware(BodyLimit, limit=ctx.settings.max_body_bytes)
    api.add_middleware(RequireToken, tokens=tokens, audit=ctx.audit)  # added last: runs first
    for router in (page_router, threads_router, turns_router, ops_router, platform_router):  # the OpenAPI order
        api.include_router(router(ctx))
    return api
