"""Platform runs: start them through the App's turn core, stream them from the stored events.

Every run's turn is ``App.stream`` (the one turn core: thread lease, run row, effect ledger,
stored events) in a worker thread. Nothing about a run lives only in memory:

- the run row (``platform_runs``) says which run a thread is on; a second replica sees it,
  so ``reject`` answers 409 and ``enqueue`` waits there too;
- a run's stream is read back from the thread's stored events (from any replica, also
  after a restart or a kill -9), so a client may rejoin a running or finished run;
- a background thread beats for the runs this process executes, starts pending runs whose
  turn has come (also those another replica accepted), and takes over running runs whose
  replica stopped beating: the turn is finished by the core (``App.stream`` with no
  message resumes the cut-short turn; ``App.recover`` re-submits one whose input never
  reached a checkpoint), once, under the thread lease.

Readers on this replica are woken when a local run stores events; readers of a run on
another replica poll the events table (every ``POLL_SECONDS``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool

from stateline.checkpointing import now, rewind
from stateline.errors import (
    StatelineError,
    ThreadBusyError,
    ThreadStateError,
    UnknownThreadError,
)

from ._platform_convert import PartMaker, interrupts_of, jsonable
from ._platform_db import TERMINAL, PlatformDB, RunRow
from ._platform_notify import PgWake, wake_for

if TYPE_CHECKING:
    from ._context import ServerContext

log = logging.getLogger("stateline.server.platform")
POLL_SECONDS = 0.2
"""How often a reader checks for events stored by another replica."""
WAKE_GAP = 0.02
"""Readers are woken at most this often for reply chunks (the run's end always wakes them)."""
BUSY_RETRY_SECONDS = 60.0
"""How long a run waits for a thread lease held outside the Platform runs (a recoverer, an /api turn)."""


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


class Engine:
    """Starts, executes, takes over and streams Platform runs for one server process."""

    def __init__(self, ctx: ServerContext, pdb: PlatformDB, assistant_id: str) -> None:
        self.ctx = ctx
        self.assistant_id = assistant_id
        self.session = ctx.session
        self.pdb = pdb
        self.beat_seconds = _env_float("STATELINE_PLATFORM_BEAT_SECONDS", 1.0)
        self.stale_seconds = _env_float("STATELINE_PLATFORM_STALE_SECONDS", 10.0)
        self.local: set[str] = set()
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}
        self._events: dict[str, asyncio.Event] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None
        self._pg: PgWake | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def ensure_started(self) -> None:
        """Start the heartbeat/sweeper thread (once) and remember the event loop."""
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        if self._sweeper is None:
            self._sweeper = threading.Thread(target=self._sweep_forever, name="stateline-platform", daemon=True)
            self._sweeper.start()
            self._pg = wake_for(self.session.database, self._wake_local)

    def stop(self) -> None:
        self._stop.set()
        if self._pg is not None:
            self._pg.stop()

    def _sweep_forever(self) -> None:
        while not self._stop.wait(self.beat_seconds):
            try:
                self.sweep()
            except Exception:
                log.warning("platform sweep failed", exc_info=True)

    def sweep(self) -> None:
        """Beat for local runs, take over dead replicas' runs, start pending runs whose turn came."""
        with self._lock:
            mine = list(self.local)
        self.pdb.beat(mine)
        for run in self.pdb.stale(self.assistant_id, now() - self.stale_seconds):
            if run.run_id not in mine and self.pdb.take_over(run, now() - self.stale_seconds):
                log.warning(
                    "taking over run %s of thread %s (its replica %s stopped)", run.run_id, run.thread_id, run.replica
                )
                self._launch(run.run_id, continuing=True)
        for run in self.pdb.pending(self.assistant_id):
            self.try_start(run.run_id)

    # -- wake-ups ----------------------------------------------------------------------
    def notify(self, thread_id: str, *, force: bool = False) -> None:
        """Called from worker threads when ``thread_id`` stored events or a run changed:
        wakes this replica's readers, and (PostgreSQL) the other replicas' (``force``: unthrottled)."""
        self._wake_local(thread_id)
        if self._pg is not None:
            self._pg.notify(thread_id, force=force)

    def _wake_local(self, thread_id: str) -> None:
        loop = self.loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._wake, thread_id)
            except RuntimeError:  # the loop is closed: nobody is listening
                pass

    def _wake(self, thread_id: str) -> None:
        self._versions[thread_id] = self._versions.get(thread_id, 0) + 1
        event = self._events.pop(thread_id, None)
        if event is not None:
            event.set()

    def version(self, thread_id: str) -> int:
        return self._versions.get(thread_id, 0)

    async def wait(self, thread_id: str, seen: int, timeout: float = POLL_SECONDS) -> None:
        """Until something happened on ``thread_id`` here after version ``seen``, or ``timeout``."""
        if self.version(thread_id) != seen:
            return
        event = self._events.setdefault(thread_id, asyncio.Event())
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            pass

    # -- starting ----------------------------------------------------------------------
    def head_checkpoint(self, thread_id: str) -> str | None:
        try:
            for snapshot in self.session.history(thread_id, limit=1):
                return str(snapshot.config["configurable"]["checkpoint_id"])
        except UnknownThreadError:
            return None
        return None

    def try_start(self, run_id: str) -> bool:
        """Start ``run_id`` here if it is pending and first in its thread's line."""
        run = self.pdb.run(run_id)
        if run is None or run.status != "pending" or run.assistant_id != self.assistant_id:
            return False
        offset = self.ctx.log.last_offset(run.thread_id)
        if not self.pdb.claim(run_id, offset, self.head_checkpoint(run.thread_id)):
            return False
        self.notify(run.thread_id, force=True)
        self._launch(run_id, continuing=False)
        return True

    def _launch(self, run_id: str, *, continuing: bool) -> None:
        with self._lock:
            if run_id in self.local:
                return
            self.local.add(run_id)
        self.ctx.executor.submit(self._execute, run_id, continuing)

    # -- executing (a worker thread) -----------------------------------------------------
    def _turn(self, run: RunRow, continuing: bool) -> Any:
        req, user = run.request, run.user_id
        if continuing:
            return self.session.stream(run.thread_id, user_id=user)
        if req.get("decision") is not None:
            return self.session.stream(run.thread_id, decision=req["decision"], user_id=user)
        return self.session.stream(run.thread_id, req.get("message"), user_id=user)

    def _consume(self, run: RunRow, continuing: bool) -> tuple[str, str | None]:
        """Run the turn to its end; (Platform status, error)."""
        deadline = time.monotonic() + BUSY_RETRY_SECONDS
        status, error, seen, woke = "success", None, False, 0.0
        while True:
            try:
                for event in self._turn(run, continuing):
                    seen = True
                    if event.type == "conversation_end":
                        status = "error" if event.status == "failed" else "success"
                    elif event.type == "error":
                        error = f"{event.error_type}: {event.message}"
                    if time.monotonic() - woke >= WAKE_GAP or event.type != "content_chunk":
                        woke = time.monotonic()  # a burst of stored chunks: one wake-up, one read
                        self.notify(run.thread_id)
                return status, error if status == "error" else None
            except ThreadBusyError:
                if seen or time.monotonic() > deadline:
                    raise
                time.sleep(0.25)  # a recoverer or an /api turn holds the thread: wait for the lease

    def _execute(self, run_id: str, continuing: bool) -> None:
        run = self.pdb.run(run_id)
        if run is None:
            return
        status, error = "success", None
        try:
            status, error = self._consume(run, continuing)
        except ThreadStateError as exc:
            if continuing:  # nothing left to finish: re-submit an input that never reached a checkpoint
                report = self.session.recover(thread_id=run.thread_id)
                log.warning("run %s: %s", run_id, getattr(report, "summary", lambda: report)())
            else:
                status, error = "error", f"{type(exc).__name__}: {exc}"
        except StatelineError as exc:
            status, error = "error", f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            log.error("run %s failed", run_id, exc_info=exc)
            status, error = "error", f"{type(exc).__name__}: {exc}"
        finally:
            self._finish(run_id, status, error)

    def _finish(self, run_id: str, status: str, error: str | None) -> None:
        run = self.pdb.run(run_id)
        try:
            if run is None:
                return
            if run.cancel == "rollback" and run.checkpoint_before:
                rewind(self.session.database, run.thread_id, run.checkpoint_before)
                self.pdb.delete_run(run_id)
            else:
                end = self.ctx.log.last_offset(run.thread_id)
                self.pdb.finish(run_id, status, end, self.head_checkpoint(run.thread_id), error)
            self.pdb.touch_thread(run.thread_id)
        finally:
            with self._lock:
                self.local.discard(run_id)
            if run is not None:
                self.notify(run.thread_id, force=True)
                for nxt in self.pdb.active(run.thread_id):
                    if nxt.status == "pending" and self.try_start(nxt.run_id):
                        break

    # -- reading -----------------------------------------------------------------------
    async def until_done(self, run_id: str) -> RunRow | None:
        """The run once it has ended (None if it was deleted, e.g. rolled back)."""
        while True:
            run = await run_in_threadpool(self.pdb.run, run_id)
            if run is None or run.status in TERMINAL:
                return run
            seen = self.version(run.thread_id)
            await self.wait(run.thread_id, seen)

    def final_values(self, run: RunRow, *, errors: bool = True) -> dict[str, Any]:
        """What ``/runs/wait`` and ``/join`` answer: the state values at the run's end
        (``{"__error__": ...}`` for a failed run, unless ``errors`` is False)."""
        if errors and run.status == "error" and run.error:
            kind, _, message = run.error.partition(": ")
            return {"__error__": {"error": kind, "message": message or kind}}
        if not run.end_checkpoint:
            return {}
        config: Any = {"configurable": {"thread_id": run.thread_id, "checkpoint_id": run.end_checkpoint}}
        snapshot = self.session.graph.get_state(config, subgraphs=True)
        values = jsonable(snapshot.values or {})
        if interrupts := interrupts_of(snapshot):
            values["__interrupt__"] = interrupts
        return values

    async def parts(
        self, run_id: str, modes: list[str], subgraphs: bool, last_id: str | None = None
    ) -> AsyncIterator[tuple[str, str, Any]]:
        """``(id, event, data)`` of the run, from its first stored event (or after ``last_id``) to its end."""
        run = await run_in_threadpool(self.pdb.run, run_id)
        while run is not None and run.status == "pending":
            seen = self.version(run.thread_id)
            await self.wait(run.thread_id, seen)
            run = await run_in_threadpool(self.pdb.run, run_id)
        if run is None or run.start_offset is None:
            return
        skip = _parse_id(last_id)
        if skip is None:
            yield "0:m", "metadata", {"run_id": run.run_id, "attempt": 1}
        maker = PartMaker(modes, subgraphs, run.run_id, run.thread_id, run.assistant_id)
        cursor, errored = run.start_offset, False
        while True:
            done = run.status in TERMINAL
            seen = self.version(run.thread_id)
            events = await run_in_threadpool(self.session.events, run.thread_id, after=cursor)
            for event in events:
                if done and run.end_offset is not None and event.offset > run.end_offset:
                    break
                for k, (name, data) in enumerate(maker.parts(event)):
                    errored = errored or name == "error"
                    if skip is None or (event.offset, k) > skip:
                        yield f"{event.offset}:{k}", name, data
                cursor = event.offset
            if done:
                break
            await self.wait(run.thread_id, seen)
            fresh = await run_in_threadpool(self.pdb.run, run_id)
            if fresh is None:  # rolled back and deleted
                return
            run = fresh
        end = run.end_offset or cursor
        if run.status == "error" and not errored and (skip is None or skip < (end, 1000)):
            kind, _, message = (run.error or "RunError: the run failed").partition(": ")
            yield f"{end}:1000", "error", {"error": kind, "message": message}
        if "values" in modes and (skip is None or skip < (end, 1001)):
            yield f"{end}:1001", "values", await run_in_threadpool(lambda: self.final_values(run, errors=False))


def _parse_id(last_id: str | None) -> tuple[int, int] | None:
    """``"offset:k"`` (what this server sends as SSE ids) -> (offset, k); anything else -> None."""
    if not last_id:
        return None
    offset, _, k = last_id.partition(":")
    if offset.isdigit() and k.isdigit():
        return int(offset), int(k)
    if offset.isdigit() and k == "m":
        return int(offset), -1
    return None
