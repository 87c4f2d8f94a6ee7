"""Execution tracking through the ``graphs`` hook protocol: run rows and ordered step events.

The turn core writes the run row (:meth:`Tracker.open_run`) before the graph is invoked,
with the accepted input: a crash before the first checkpoint still leaves what recovery
needs (LangGraph #8764). If it cannot be written, nothing runs. Events go to the same
database as the checkpoints.

Run rows are committed durably (a run started with ``durability="sync"``: by the run's
first durable commit, see ``open_run``). Step events cost no commit of their own: on
SQLite they ride along with the thread's next checkpoint write (the node's task writes,
made right after the node: ``checkpointing._riders``), so a step's events are stored in
the same transaction as the step; what is left at the end goes with the run's finish
record. Elsewhere (PostgreSQL) each flush is its own transaction without an fsync of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from stateline.checkpointing import Database, now

from . import _process
from ._policy import RetryPolicy
from ._schema import ensure_schema

_MAX_TEXT = 2000
_INSERT_EVENT = (
    "INSERT INTO tracking_events(run_id, seq, at, kind, graph, node, duration_s, error_type, "
    "error_message, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SET_AGENT = "UPDATE tracking_runs SET agent = ? WHERE run_id = ? AND agent IS NULL"
SUPERVISOR = "supervisor"
ACT = "act"
"""The agent node that runs actions (effects): what ran before it is stored before it starts."""


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:_MAX_TEXT]


class Tracker:
    """Run rows and step events, stored as they happen.

    A participant of the turn core, not an observer: :meth:`open_run` and :meth:`close_run`
    are called by the core itself (a run row that cannot be written stops the turn before
    anything runs), and the node hooks are registered as participants, whose errors fail
    the step instead of being logged away. With ``steps=False`` (``App(tracking=False)``)
    only run rows are kept: recovery needs them; step timelines are optional.
    """

    def __init__(
        self, db: Database, *, policy: RetryPolicy | None = None, batch: bool = True, steps: bool = True
    ) -> None:
        self._db = db
        self.policy = policy or RetryPolicy()
        self.steps = steps
        """Record step events (node started/finished/failed, agent switches, effects)."""
        self.batch = batch
        """Write a node's 'started' event with its 'finished' one (one commit per node instead of
        two); after a crash, recovery records which tasks were left unfinished instead."""
        self._lock = threading.Lock()
        self._seq: dict[str, int] = {}
        self._pending: dict[str, list[tuple]] = {}
        self._new_agent: dict[str, str] = {}
        self._agent_seen: set[str] = set()
        self._current: dict[str, str] = {}  # thread -> run in flight in this process
        self._thread_of: dict[str, str] = {}  # run in flight -> its thread
        ensure_schema(db)

    def current_run(self, thread_id: str) -> str | None:
        """The run this process is executing on ``thread_id`` (for the effect ledger)."""
        return self._current.get(thread_id)

    # -- runs -----------------------------------------------------------------------
    def open_run(
        self, *, run_id: str, thread_id: str, input: Any, user_id: str | None = None, kind: str | None = None,
        parent_run_id: str | None = None, attempt: int = 1, durability: str | None = None, **_: Any,
    ) -> None:
        """Store the run row before the graph starts.

        With ``durability="sync"`` the row needs no fsync of its own: before the run does
        anything that outlives it (its input checkpoint, a task's checkpoint, an effect's
        ledger row) it makes a durable commit to the same file, which syncs the row too.
        """
        me = _process.current()
        kind = kind or ("turn" if input is not None else "resume")
        with self._db.transaction(durable=durability != "sync") as tx:
            tx.execute(
                "INSERT INTO tracking_runs(run_id, thread_id, kind, input, user_id, status, pid, host, proc, "
                "started_at, attempt, parent_run_id) VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)",
                (run_id, thread_id, kind, self._db.encrypt(input), user_id, me.pid, me.host, me.proc, now(), attempt,
                 parent_run_id),
            )
        with self._lock:
            self._seq[run_id] = 0
            self._current[thread_id] = run_id
            self._thread_of[run_id] = thread_id
        if kind != "turn":
            self.event(run_id, "resumed", detail=f"{kind} of {parent_run_id}" if parent_run_id else kind)

    def close_run(
        self, *, run_id: str, thread_id: str, status: str, error: BaseException | None,
        also: Callable[[Any], None] | None = None, **_: Any,
    ) -> None:
        """Record the run's end, durably, with its last step events; ``also(tx)`` writes more in
        the same transaction (the turn core releases the thread's lease there)."""
        with self._lock:
            rows, agent = self._take(run_id)
            self._seq.pop(run_id, None)
            self._thread_of.pop(run_id, None)
            self._agent_seen.discard(run_id)
            if self._current.get(thread_id) == run_id:
                del self._current[thread_id]
        riding = self._db.take_riding(thread_id)
        with self._db.transaction() as tx:
            for sql, params in riding:
                for row in params:
                    tx.execute(sql, row)
            self._write(tx, run_id, rows, agent)
            if also is not None:
                also(tx)
            tx.execute(
                "UPDATE tracking_runs SET status = ?, ended_at = ?, error_type = ?, error_message = ?, transient = ? "
                "WHERE run_id = ? AND status = 'running'",
                (
                    status, now(),
                    None if error is None else type(error).__name__,
                    self._db.encrypt(None if error is None else _clip(str(error))),
                    None if error is None else int(self.policy.is_transient(error)),
                    run_id,
                ),
            )

    # -- events ---------------------------------------------------------------------
    def event(
        self, run_id: str | None, kind: str, *, graph: str | None = None, node: str | None = None,
        duration_s: float | None = None, error: BaseException | None = None, detail: str | None = None,
        flush: bool = True,
    ) -> None:
        """Append one step event to ``run_id``'s timeline (ignored outside a tracked run).

        With ``batch`` on, an event with ``flush=False`` (a node starting, an agent switch, an
        effect) is written with the next flushed one (the node finishing) in one transaction.
        """
        if run_id is None or not self.steps:
            return
        with self._lock:
            if run_id not in self._seq:
                return
            self._seq[run_id] += 1
            self._pending.setdefault(run_id, []).append((
                run_id, self._seq[run_id], now(), kind, graph, node, duration_s,
                None if error is None else type(error).__name__,
                self._db.encrypt(None if error is None else _clip(str(error))), self._db.encrypt(_clip(detail)),
            ))
            if not flush and self.batch:
                return
            rows, agent = self._take(run_id)
            thread_id = self._thread_of.get(run_id)
        if thread_id is not None and self._db.ride_along(thread_id, self._statements(run_id, rows, agent)):
            return  # stored with the thread's next checkpoint write (see the module docstring)
        with self._db.transaction(durable=False) as tx:
            self._write(tx, run_id, rows, agent)

    def _take(self, run_id: str) -> tuple[list[tuple], str | None]:
        """The run's buffered events and its newly seen agent (call with the lock held)."""
        return self._pending.pop(run_id, []), self._new_agent.pop(run_id, None)

    @staticmethod
    def _statements(run_id: str, rows: list[tuple], agent: str | None) -> list[tuple[str, list[tuple]]]:
        """The writes of buffered events (and of the run's first agent) as (SQL, rows) pairs."""
        out: list[tuple[str, list[tuple]]] = [(_INSERT_EVENT, rows)] if rows else []
        if agent is not None:
            out.append((_SET_AGENT, [(agent, run_id)]))
        return out

    @classmethod
    def _write(cls, tx: Any, run_id: str, rows: list[tuple], agent: str | None) -> None:
        for sql, params in cls._statements(run_id, rows, agent):
            for row in params:
                tx.execute(sql, row)

    def _note_agent(self, run_id: str | None, graph: str) -> None:
        if run_id is None or graph == SUPERVISOR:
            return
        with self._lock:
            if run_id in self._seq and run_id not in self._agent_seen:
                self._agent_seen.add(run_id)
                self._new_agent[run_id] = graph

    def node_started(self, *, run_id: str | None, graph: str, node: str, **_: Any) -> None:
        self._note_agent(run_id, graph)
        self.event(run_id, "started", graph=graph, node=node, flush=False)
        if node == ACT and graph != SUPERVISOR:
            self._store_now(run_id)

    def _store_now(self, run_id: str | None) -> None:
        """Write the run's buffered and riding events in a transaction of their own (no fsync).

        Before an agent's ``act``, the one node that reaches outside the process: an agent
        without checkpoints of its own makes no write of its own between its nodes, so
        without this a crash inside ``act`` would leave no trace of the ``collect`` and
        ``validate`` that ran before it in the run's timeline.
        """
        if run_id is None or not self.steps:
            return
        with self._lock:
            rows, agent = self._take(run_id)
            thread_id = self._thread_of.get(run_id)
        riding = self._db.take_riding(thread_id) if thread_id is not None else []
        if not rows and agent is None and not riding:
            return
        with self._db.transaction(durable=False) as tx:
            for sql, params in riding:
                for row in params:
                    tx.execute(sql, row)
            self._write(tx, run_id, rows, agent)

    def node_finished(self, *, run_id: str | None, graph: str, node: str, duration_s: float, **_: Any) -> None:
        self.event(run_id, "finished", graph=graph, node=node, duration_s=duration_s)

    def node_failed(
        self, *, run_id: str | None, graph: str, node: str, error: BaseException, duration_s: float, **_: Any
    ) -> None:
        self.event(run_id, "failed", graph=graph, node=node, duration_s=duration_s, error=error)

    def node_interrupted(self, *, run_id: str | None, graph: str, node: str, **_: Any) -> None:
        self.event(run_id, "interrupted", graph=graph, node=node)

    def agent_switched(self, *, run_id: str | None, from_agent: str | None, to_agent: str, **_: Any) -> None:
        self.event(
            run_id,
            "agent_switched",
            graph=SUPERVISOR,
            node=to_agent,
            detail=f"{from_agent or '-'} -> {to_agent}",
            flush=False,
        )

    # -- the effect ledger reports here -------------------------------------------------
    def on_effect(
        self, *, thread_id: str, run_id: str | None, effect_id: str, name: str, status: str, **_: Any
    ) -> None:
        self.event(run_id, "effect", node=name, detail=f"{status} ({effect_id})", flush=False)
