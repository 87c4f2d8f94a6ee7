"""The LangGraph Platform / Agent Protocol API beside ``/api``, so ``langgraph-sdk`` clients work.

Covered: ``/info``; ``/assistants/search``, ``/assistants/{id}`` (+ ``/graph``); threads
(create with metadata, get, patch, delete, search, count, copy); state (head, by checkpoint,
going back to a checkpoint) and history; runs (stream, wait, background, list, get, join,
rejoin a stream, cancel, delete; stateless ``/runs/*`` on a fresh thread); ``/store/*``.
See docs/platform.md for what each maps onto and what is not covered.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from ._platform_common import Platform
from ._platform_db import PlatformDB
from ._platform_engine import Engine
from ._platform_runs import platform_runs_router
from ._platform_store import platform_store_router
from ._platform_threads import platform_threads_router

if TYPE_CHECKING:
    from ._context import ServerContext


def platform_router(ctx: ServerContext) -> APIRouter:
    """Every Platform route, over the server's session (turns go through ``App.stream``)."""
    pdb = PlatformDB(ctx.session.database)
    assistant_id = Platform.assistant_of(ctx.session.workflow)
    platform = Platform(ctx, pdb, Engine(ctx, pdb, assistant_id))

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        platform.engine.ensure_started()  # heartbeat, takeover of dead replicas' runs, pending runs
        yield
        platform.engine.stop()

    router = APIRouter(lifespan=lifespan)
    for part in (platform_threads_router, platform_runs_router, platform_store_router):
        router.include_router(part(platform))
    return router
