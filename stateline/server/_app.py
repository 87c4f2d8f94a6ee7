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
from starlette.exceptions import HTTPException as StarletteHTTPException

from stateline._app import App
from stateline._ids import MAX_MESSAGE_CHARS
from stateline.errors import StatelineError

from ._auth import TokenTable
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


def UNAUTHORIZED() -> JSONResponse:  # noqa: N802 - reads as a constant
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
    api.add_middleware(RequireToken, tokens=tokens)  # added last: runs first
    for router in (page_router, threads_router, turns_router, ops_router, platform_router):  # the OpenAPI order
        api.include_router(router(ctx))
    return api
