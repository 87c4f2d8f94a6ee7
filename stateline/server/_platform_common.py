"""What the Platform API routes share: the caller, the one assistant, thread records."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Header, Request
from starlette.concurrency import run_in_threadpool

from stateline.errors import UnknownThreadError

from ._auth import Principal
from ._context import bearer_token
from ._errors import ApiError
from ._platform_convert import interrupts_of, iso, jsonable
from ._platform_db import PlatformDB
from ._platform_engine import Engine

if TYPE_CHECKING:
    from ._context import ServerContext

ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")
"""uuid5 namespace of assistant ids (the one the Platform uses for an assistant per graph)."""


@dataclass
class Platform:
    """One per app: the server context, the Platform tables and the run engine."""

    ctx: ServerContext
    """Session, owners, audit log, tokens."""
    pdb: PlatformDB
    """The Platform's thread metadata and run rows."""
    engine: Engine
    """Starts, executes and streams runs."""

    # -- the caller ----------------------------------------------------------------------
    async def principal(
        self,
        authorization: str | None = Header(default=None, include_in_schema=False),
        x_api_key: str | None = Header(default=None, alias="X-Api-Key", include_in_schema=False),
    ) -> Principal:
        """``Authorization: Bearer <token>`` or ``X-Api-Key: <token>`` (what langgraph-sdk sends)."""
        who = self.ctx.tokens.lookup(bearer_token(authorization) or x_api_key)
        if who is None:
            raise ApiError(
                401, "Unauthorized", "send Authorization: Bearer <token> or X-Api-Key: <token> with a known API token"
            )
        self.engine.ensure_started()
        return who

    @staticmethod
    async def body(request: Request) -> dict[str, Any]:
        """The JSON object body (``{}`` when empty); 400/422 when it is not one."""
        raw = await request.body()
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise ApiError(400, "MalformedJSON", "the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise ApiError(422, "InvalidRequest", "the request body must be a JSON object")
        return data

    # -- the assistant -------------------------------------------------------------------
    @property
    def graph_id(self) -> str:
        return self.ctx.session.workflow or "stateline"

    @staticmethod
    def assistant_of(workflow: str | None) -> str:
        """The assistant id of a workflow (a uuid5 of its name, the same on every replica)."""
        return str(uuid.uuid5(ASSISTANT_NAMESPACE, workflow or "stateline"))

    @property
    def assistant_id(self) -> str:
        return self.assistant_of(self.ctx.session.workflow)

    def assistant(self) -> dict[str, Any]:
        agents = [a.name for a in self.ctx.session.agents()]
        return {
            "assistant_id": self.assistant_id,
            "graph_id": self.graph_id,
            "name": self.graph_id,
            "description": f"stateline workflow {self.graph_id!r}: "
            f"a supervisor over {', '.join(agents) or 'no agents'}",
            "config": {},
            "context": {},
            "metadata": {"created_by": "system", "agents": agents},
            "version": 1,
            "created_at": iso(0.0),
            "updated_at": iso(0.0),
        }

    def check_assistant(self, assistant_id: Any) -> str:
        if assistant_id not in (self.assistant_id, self.graph_id):
            raise ApiError(
                404, "UnknownAssistant",
                f"assistant {assistant_id!r} is not served here; use {self.graph_id!r} or {self.assistant_id!r} "
                "(GET /assistants/search lists it)",
            )
        return self.assistant_id

    # -- threads -------------------------------------------------------------------------
    async def owned(self, who: Principal, thread_id: str, action: str) -> Any:
        """The thread (an ``OwnedThread``) if ``who`` may use it, else 404; audited."""
        thread = await self.ctx.owned(who, thread_id, action)
        await self.ctx.record(who, action, thread_id)
        return thread

    def status(self, thread_id: str) -> tuple[str, str, Any]:
        """(Platform status, stateline status, head snapshot or None)."""
        try:
            snapshot = next(iter(self.ctx.session.history(thread_id, limit=1)), None)
        except UnknownThreadError:
            snapshot = None
        core = "new" if snapshot is None else self.ctx.session.status(thread_id)
        if self.pdb.active(thread_id) or self.ctx.hub.running(thread_id):
            return "busy", core, snapshot
        return {"waiting": "interrupted", "failed": "error"}.get(core, "idle"), core, snapshot

    def thread_json(self, owned: Any, with_values: bool = True) -> dict[str, Any]:
        row = self.pdb.thread(owned.thread_id)
        status, core, snapshot = self.status(owned.thread_id)
        interrupts: dict[str, list[dict[str, Any]]] = {}
        values: Any = None
        if snapshot is not None:
            for task in snapshot.tasks:
                if task.interrupts:
                    interrupts[task.id] = [{"value": jsonable(i.value), "id": i.id} for i in task.interrupts]
            if not interrupts and (found := interrupts_of(snapshot)):
                interrupts[""] = found
            values = jsonable(snapshot.values or {}) if with_values else None
        created = row.created_at if row is not None else owned.created_at
        return {
            "thread_id": owned.thread_id, "created_at": iso(created),
            "updated_at": iso(row.updated_at if row is not None else created),
            "metadata": row.metadata if row is not None else {}, "status": status, "values": values,
            "interrupts": interrupts, "config": {}, "stateline_status": core,
        }

    async def thread_out(self, owned: Any) -> dict[str, Any]:
        return await run_in_threadpool(self.thread_json, owned)
