"""What every route shares: the session, settings, owners, audit log, event log, hub and tokens."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import Header, Request
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from stateline._app import App
from stateline._ids import check_id
from stateline._stream import event_log, stream_turn
from stateline.errors import InvalidInputError, ThreadBusyError, UnknownRunError, UnknownThreadError

from ._auth import AuditLog, Principal, TokenTable
from ._errors import ApiError
from ._hub import END, Hub
from ._lifecycle import run_row
from ._routes_turns import _failure, _sse, _turn_json
from ._threads import ThreadOwners

if TYPE_CHECKING:
    from ._app import ServerSettings


THREAD_ACTIONS = ("thread", "message", "events", "runs")
"""Audit actions whose target is a thread."""
LEASE_POLL_SECONDS = 0.1
"""How often an ``enqueue`` turn asks again for a thread lease another process holds."""
ENQUEUE_WAIT_SECONDS = 300.0
"""How long an ``enqueue`` turn waits for that lease before answering 409 (a thread lease's own term)."""


def bearer_token(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip()
    return None


@dataclass
class ServerContext:
    """One per app; route factories take it and use its helpers."""

    session: App
    settings: ServerSettings
    owners: ThreadOwners
    audit: AuditLog
    log: Any
    hub: Hub
    tokens: TokenTable
    executor: ThreadPoolExecutor

    @classmethod
    def build(cls, session: App, tokens: TokenTable, settings: ServerSettings) -> ServerContext:
        executor = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="stateline-turn")
        return cls(
            session=session, settings=settings,
            owners=ThreadOwners(session.database, session.threads, settings.default_policy),
            audit=AuditLog(session.database), log=event_log(session), hub=Hub(executor),
            tokens=tokens, executor=executor,
        )

    # -- who is calling ------------------------------------------------------------------
    async def principal(self, authorization: str | None = Header(default=None, include_in_schema=False)) -> Principal:
        who = self.tokens.lookup(bearer_token(authorization))
        if who is None:  # RequireToken answers first; kept so a route can never run unauthenticated
            raise ApiError(401, "Unauthorized", "send Authorization: Bearer <token> with a known API token")
        return who

    async def record(
        self, who: Principal, action: str, target: str | None, outcome: int = 200, detail: str | None = None,
        *, thread_id: str | None = None,
    ) -> None:
        """One audit row; ``thread_id`` defaults to ``target`` for thread actions."""
        if thread_id is None and action.split(".")[0] in THREAD_ACTIONS:
            thread_id = target
        await run_in_threadpool(
            lambda: self.audit.record(who.user_id, action, target, outcome, detail, thread_id=thread_id)
        )

    async def owned(self, who: Principal, thread_id: str, action: str, *, target: str | None = None) -> Any:
        """The thread if ``who`` may see it; otherwise 404, the same as an unknown thread."""
        try:
            check_id("thread id", thread_id)
        except InvalidInputError:
            await self.record(who, action, target or thread_id[:200], 404, "invalid id")
            raise UnknownThreadError(thread_id) from None
        thread = await run_in_threadpool(self.owners.get, thread_id)
        if thread is None or not (who.admin or thread.user_id == who.user_id):
            await self.record(who, action, target or thread_id, 404, "denied" if thread is not None else "unknown",
                              thread_id=thread_id)
            raise UnknownThreadError(thread_id)
        return thread

    async def read(self, who: Principal, thread_id: str, action: str, fn: Any, *args: Any) -> Any:
        """``fn(*args)`` in a worker thread, if ``who`` may read the thread; audited."""
        await self.owned(who, thread_id, action)
        result = await run_in_threadpool(fn, *args)
        await self.record(who, action, thread_id)
        return result

    async def owned_run(self, who: Principal, run_id: str, action: str) -> dict[str, Any]:
        try:
            check_id("run id", run_id)
            run = await run_in_threadpool(run_row, self.session, run_id)
        except (InvalidInputError, UnknownRunError):
            await self.record(who, action, run_id, 404, "unknown")
            raise UnknownRunError(run_id) from None
        try:
            await self.owned(who, run["thread_id"], action, target=run_id)
        except UnknownThreadError:
            raise UnknownRunError(run_id) from None
        return run

    @staticmethod
    def wants_stream(request: Request, flag: bool | None) -> bool:
        if flag is not None:
            return flag
        return "text/event-stream" in request.headers.get("accept", "")

    # -- threads and turns -------------------------------------------------------------
    def thread_summary(self, thread: Any) -> dict[str, Any]:
        status = self.session.status(thread.thread_id)
        return {
            **thread.as_dict(), "status": "running" if self.hub.running(thread.thread_id) else status,
            "last_offset": self.log.last_offset(thread.thread_id),
        }

    async def _admit(self, thread: Any, turn: dict[str, Any]) -> Any:
        """Admit the turn under the thread's lease (``stream_turn``), the busy policy across replicas.

        The lease lives in the database, so a turn another replica (or a worker, a recoverer)
        runs on this thread holds it: ``reject`` answers 409 at once (ThreadBusyError);
        ``enqueue`` asks again every LEASE_POLL_SECONDS until the holder is done.
        """
        deadline = time.monotonic() + ENQUEUE_WAIT_SECONDS
        while True:
            try:
                return await run_in_threadpool(
                    stream_turn, self.session, thread.thread_id, max_chars=self.settings.max_message_chars,
                    user_id=thread.user_id, **turn,
                )
            except ThreadBusyError:
                if thread.policy != "enqueue" or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(LEASE_POLL_SECONDS)

    async def run_turn(self, request: Request, who: Principal, thread: Any, stream: bool, **turn: Any) -> Any:
        thread_id = thread.thread_id
        lock = await self.hub.acquire(thread_id, thread.policy)  # this process's own turns, in order
        try:
            events = await self._admit(thread, turn)
        except BaseException:
            self.hub.release(thread_id, lock)
            raise
        queue = self.hub.start(thread_id, lock, events, lambda exc: _failure(thread_id, exc))
        if stream:
            return EventSourceResponse(_sse(self.hub, thread_id, queue, request), ping=10)
        collected = []
        while (item := await queue.get()) is not END:
            collected.append(item)
        return _turn_json(thread_id, collected)
