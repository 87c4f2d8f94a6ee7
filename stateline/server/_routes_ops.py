"""The page, health and ``/api/me``; then runs, agents, the graph picture and the audit log."""

from __future__ import annotations

import re
from importlib import resources
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from stateline.errors import UnknownAgentError

from ._auth import Principal
from ._errors import ApiError
from ._graph import graph_picture
from ._lifecycle import agent_rows, change_agent_status, run_detail, timeline
from ._models import AgentStatusChange

if TYPE_CHECKING:
    from ._context import ServerContext


STATIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\.(js|css|svg)$")
"""The only names /static serves (no NUL, no path, no dot files)."""


def page_router(ctx: ServerContext) -> APIRouter:
    """The viewer page, its static files, ``/health`` (no token) and ``/api/me``."""
    router = APIRouter()
    session = ctx.session

    @router.get("/", include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(_static("index.html"))

    @router.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> Response:
        return Response(_static_bytes("favicon.ico"), media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})

    @router.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        kinds = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
        kind = next((v for k, v in kinds.items() if name.endswith(k)), None)
        if kind is None or not STATIC_NAME.match(name):
            raise ApiError(404, "NotFound", f"no static file {name[:100]!r}")
        try:
            return Response(_static(name), media_type=kind)
        except (OSError, ValueError):  # missing, or a name the file system refuses
            raise ApiError(404, "NotFound", f"no static file {name!r}") from None

    @router.get("/health", tags=["server"])
    async def health() -> dict[str, Any]:
        """Liveness: no token needed."""
        return {"status": "ok", "database": session.database.url.backend, "agents": session.registry.names()}

    @router.get("/api/me", tags=["server"])
    async def me(who: Principal = Depends(ctx.principal)) -> dict[str, Any]:
        return {"user_id": who.user_id, "role": who.role}

    return router


def ops_router(ctx: ServerContext) -> APIRouter:
    """Runs (the timeline), agents and their lifecycle, the graph, the audit log."""
    router = APIRouter()
    session, principal, record = ctx.session, ctx.principal, ctx.record

    @router.get("/api/threads/{thread_id}/runs", tags=["runs"])
    async def list_runs(
        thread_id: str, who: Principal = Depends(principal), limit: int = Query(100, ge=1, le=1000)
    ) -> dict[str, Any]:
        """The thread's runs with their steps (durations, failures) and effects: the timeline."""
        return {"runs": await ctx.read(who, thread_id, "runs.read", timeline, session, thread_id, limit)}

    @router.get("/api/runs/{run_id}", tags=["runs"])
    async def get_run(run_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        run = await ctx.owned_run(who, run_id, "run.read")
        detail = await run_in_threadpool(run_detail, session, run)
        await record(who, "run.read", run_id, thread_id=run["thread_id"])
        return detail

    @router.get("/api/runs/{run_id}/events", tags=["runs"])
    async def run_events(run_id: str, who: Principal = Depends(principal)) -> dict[str, Any]:
        run = await ctx.owned_run(who, run_id, "run.events")
        stored = await run_in_threadpool(ctx.log.for_run, run_id)
        await record(who, "run.events", run_id, thread_id=run["thread_id"])
        return {"events": [e.model_dump(mode="json") for e in stored]}

    @router.get("/api/agents", tags=["agents"])
    async def agents(who: Principal = Depends(principal)) -> dict[str, Any]:
        return {"agents": await run_in_threadpool(agent_rows, session)}

    @router.post("/api/agents/{name}/status", tags=["agents"])
    async def agent_status(name: str, body: AgentStatusChange, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Move an agent through its lifecycle (admins only)."""
        if name not in session.registry:
            raise UnknownAgentError(name, session.registry.names())
        if not who.admin:
            await record(who, "agent.status", name, 403)
            raise ApiError(403, "Forbidden", "only an admin may change an agent's status")
        row = await run_in_threadpool(
            change_agent_status,
            session,
            name,
            body.status,
            body.reason or f"changed over HTTP by {who.user_id}",
            who.user_id,
        )
        await record(who, "agent.status", name, 200, body.status)
        return row

    @router.get("/api/graph", tags=["agents"])
    async def graph(who: Principal = Depends(principal)) -> dict[str, Any]:
        """The supervisor and its agents: Mermaid text, plus nodes and edges to draw."""
        return await run_in_threadpool(graph_picture, session)

    @router.get("/api/audit", tags=["server"])
    async def audit_rows(
        who: Principal = Depends(principal), limit: int = Query(200, ge=1, le=5000),
        target: str | None = Query(None), user: str | None = Query(None), thread: str | None = Query(None),
    ) -> dict[str, Any]:
        """The audit log, newest first (admins only). Read-only: no route changes or deletes a row."""
        if not who.admin:
            await record(who, "audit.read", None, 403)
            raise ApiError(403, "Forbidden", "only an admin may read the audit log")
        return {"entries": await run_in_threadpool(
            lambda: ctx.audit.rows(user_id=user, target=target, thread_id=thread, limit=limit))}

    return router


def _static(name: str) -> str:
    return _static_bytes(name).decode("utf-8")


def _static_bytes(name: str) -> bytes:
    return resources.files("stateline.server.static").joinpath(name).read_bytes()
