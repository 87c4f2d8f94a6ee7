"""The turn core: the one admission and execution path of every turn.

Every entry point — ``App.send``, ``stream``, ``astream``, ``resume``, the HTTP server, the
worker, ``recover`` and the CLI — goes through here, in this order:

1. **validate** the request (:meth:`TurnCore.request`): ids, message, decision. Typed errors,
   nothing touched.
2. **lease** (:meth:`TurnCore.leased`): the thread's cross-process lease. Another turn or a
   recoverer holding it gives ``ThreadBusyError`` before anything runs. It is the only lock
   per thread: in this process and across processes alike.
3. **settle** (:meth:`TurnCore.admit`): what earlier turns left is finished by the same rules
   ``recover`` applies (``lifecycle.Recovery.settle``) — so a crash followed by the next
   message ends exactly as a crash followed by ``recover`` would. An effect in doubt refuses
   the request (``ThreadInDoubtError``), as a thread waiting for approval does.
4. **check** the thread for this request: waiting, failed, the workflow it was started with.
5. **run** one :class:`Step` per graph invocation (:meth:`TurnCore.invoke` or the stream
   adapter in ``_stream``): the run row is written first and *fail-closed* (if it cannot be
   written, nothing runs), the graph runs, the finish is recorded.

Why this gives exactly-once effects under any order of events: every graph invocation is a
tracked run holding the lease, so at most one process executes a thread; an accepted input
is in its run row before the graph starts, so settle can re-submit it if it never reached a
checkpoint; a cut-short turn is always *finished* (``invoke(None)`` re-runs only its
unfinished tasks under their stored task ids, hence the same effect keys) and never
restarted from START while it is unfinished, so an act never runs again on the same draft
under a new effect scope.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphInterrupt
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from stateline.checkpointing import head_is_idle
from stateline.errors import (
    InvalidInputError,
    ThreadBusyError,
    ThreadInDoubtError,
    ThreadStateError,
    TurnNotAcceptedError,
    UnknownThreadError,
    WorkflowMismatchError,
)
from stateline.graphs import AgentRegistry
from stateline.lifecycle import LeaseHold

from ._convert import interrupt_value, replies_after_last_user, thread_status
from ._ids import check_id, check_message, new_id
from ._records import Turn

if TYPE_CHECKING:
    from ._app import App

log = logging.getLogger("stateline.core")
ACTED = ("resumed", "resubmitted", "retried")
"""Recovery outcomes that ran work before the request's own step."""


@dataclass(frozen=True)
class Request:
    """A validated request for one turn."""

    thread_id: str
    """The conversation."""
    message: str | None = None
    """A user message (stripped), or None for a resume or a decision."""
    decision: dict[str, Any] | None = None
    """A person's answer to a waiting draft (normalised by :func:`check_decision`)."""
    user_id: str | None = None
    """Who sends it (cross-thread memory)."""
    run_id: str | None = None
    """The run id to use for the message's run (a queue fixes it when the job is queued)."""


@dataclass(frozen=True)
class Step:
    """One graph invocation the core runs as one tracked run."""

    thread_id: str
    """The conversation."""
    run_id: str
    """Its run row's id."""
    kind: str
    """turn, decision, resume, retry, recover or resubmit."""
    payload: Any
    """What ``invoke``/``stream`` is given: the input, ``None`` (finish the unfinished) or a ``Command``."""
    graph: CompiledStateGraph
    """The graph that runs it (for a decision: one where the waiting agent requires approval)."""
    input: str | None = None
    """The accepted user text stored in the run row (what recovery re-submits)."""
    user_id: str | None = None
    """Who sent it."""
    parent_run_id: str | None = None
    """The run this one finishes or retries."""
    attempt: int = 1
    """1 for a first run; retries count up (bounded by the retry policy)."""
    checkpoint_id: str | None = None
    """Run from this checkpoint (a restart after a failed turn forks from before it)."""
    fresh: bool = False
    """Drop the thread's checkpoints first: they hold only a failed first turn (its run row keeps the input)."""
    note: str | None = None
    """Why this step runs as it does, for the caller (e.g. which failed turn a restart rolled back)."""


@dataclass(frozen=True)
class Admission:
    """What admission decided: the step to run (None: settling finished everything asked for)."""

    step: Step | None
    """The request's own step."""
    previous: str | None
    """``resumed`` (earlier work was finished first), ``restarted`` (a failed turn was rolled back) or None."""
    settled: tuple[Any, ...]
    """The recovery actions taken before the step (``lifecycle.RecoveryAction``)."""

    def summary(self) -> str:
        acted = [a for a in self.settled if a.outcome in ACTED]
        return "; ".join(f"{a.outcome} (run {a.run_id})" for a in acted) or "nothing to finish"


def check_decision(decision: Any) -> dict[str, Any]:
    """A person's answer to a waiting draft, normalised; InvalidInputError if malformed."""
    if isinstance(decision, str):
        decision = {"action": decision}
    if not isinstance(decision, dict) or decision.get("action") not in ("approve", "reject", "edit"):
        raise InvalidInputError("decision must be {'action': 'approve' | 'reject' | 'edit', 'fields': {...}}")
    fields = decision.get("fields") or {}
    if not isinstance(fields, dict) or not all(isinstance(k, str) and k for k in fields):
        raise InvalidInputError("decision fields must map field names to values")
    if decision["action"] == "edit" and not fields:
        raise InvalidInputError("an edit needs at least one field, e.g. --edit price=15")
    return {"action": decision["action"], "fields": dict(fields)} if fields else {"action": decision["action"]}


class TurnCore:
    """Admission and execution of turns for one :class:`~stateline.App` (see the module docstring)."""

    def __init__(self, app: App) -> None:
        self.app = app
        self._decision_graphs: dict[tuple[int, str], CompiledStateGraph] = {}

    # -- 1. validate --------------------------------------------------------------------
    @staticmethod
    def request(
        thread_id: Any, *, message: Any = None, decision: Any = None, user_id: Any = None, run_id: Any = None,
        max_chars: int | None = None, needs_message: bool = False,
    ) -> Request:
        """Check a request's parts (typed errors, nothing touched); ``needs_message``: a send."""
        thread_id = check_id("thread id", thread_id)
        if user_id is not None:
            check_id("user id", user_id)
        if run_id is not None:
            check_id("run id", run_id)
        if message is not None and decision is not None:
            raise InvalidInputError("send either a message or a decision, not both")
        text = None
        if message is not None or needs_message:
            text = check_message(message) if max_chars is None else check_message(message, limit=max_chars)
        return Request(thread_id, text, None if decision is None else check_decision(decision), user_id, run_id)

    # -- 2. lease -------------------------------------------------------------------------
    @contextmanager
    def leased(self, thread_id: str) -> Iterator[LeaseHold]:
        """Hold the thread's lease for the block; ThreadBusyError (nothing done) if it is held.

        Pass the hold to the block's last step (``invoke(step, release=hold)``): the lease is
        then released in that run's finish record, one transaction instead of two.
        """
        with self.app.ops.recovery.leases.held(thread_id) as hold:
            yield hold

    # -- 3 + 4. settle and check (lease held) ----------------------------------------------
    def admit(self, req: Request) -> Admission:
        """Decide what runs for ``req``; raises the typed error of the thread's state if it cannot."""
        ops, t = self.app.ops, req.thread_id
        if req.run_id is not None and ops.runs.exists(req.run_id):
            raise InvalidInputError(f"run {req.run_id!r} already exists; a turn is accepted once")
        self.check_workflow(t)
        quiet = self._quiet(t)
        settled = () if quiet else tuple(ops.recovery.settle(t, for_message=req.message is not None))
        for action in settled:
            if action.outcome == "busy":
                raise ThreadBusyError(t)
            if action.outcome == "in_doubt":
                raise ThreadInDoubtError(t, [e.effect_id for e in ops.ledger.in_doubt(thread_id=t)] or ["?"])
        acted = any(a.outcome in ACTED for a in settled)
        status = "idle" if quiet and req.message is not None else self.app.status(t)
        previous = "resumed" if acted else None
        if req.decision is not None:
            return Admission(self._decision(req, status), previous, settled)
        if req.message is None:
            return Admission(None if acted else self._resume(req, status), previous, settled)
        return self._message(req, status, previous, settled)

    def _quiet(self, thread_id: str) -> bool:
        """The common case in O(1): the head checkpoint is idle, the last run finished, nothing in doubt."""
        ops = self.app.ops
        last = ops.runs.latest(thread_id)
        if last is not None and last.status not in ("completed", "waiting"):
            return False
        return head_is_idle(self.app.database, thread_id) and not ops.ledger.has_in_doubt(thread_id)

    def check_workflow(self, thread_id: str) -> None:
        serving = self.app.workflow
        if serving is None or not self.app.threads.exists(thread_id):
            return
        recorded = self.app.threads.get(thread_id).workflow
        if recorded is not None and recorded != serving:
            raise WorkflowMismatchError(thread_id, recorded, serving)

    def _decision(self, req: Request, status: str) -> Step:
        t = req.thread_id
        if status == "new":
            raise UnknownThreadError(t)
        if status != "waiting":
            raise ThreadStateError(t, status, f"thread {t!r} is not waiting for approval (it is {status})")
        snapshot = self.app.graph.get_state({"configurable": {"thread_id": t}}, subgraphs=True)
        waiting = interrupt_value(snapshot)
        agent = waiting.get("agent") if isinstance(waiting, dict) else None
        return self._step(req, "decision", Command(resume=req.decision), graph=self.graph_for_decision(agent))

    def _resume(self, req: Request, status: str) -> Step:
        t = req.thread_id
        if status == "new":
            raise UnknownThreadError(t)
        if status == "waiting":
            raise ThreadStateError(
                t, status, f"thread {t!r} is waiting for approval; answer it with "
                f"`stateline resume {t} --approve | --reject | --edit k=v`",
            )
        if status not in ("interrupted", "failed"):
            raise ThreadStateError(t, status, f"thread {t!r} has nothing to resume (it is {status})")
        last = self.app.ops.runs.latest(t)
        return self._step(
            req, "retry" if status == "failed" else "resume", None,
            parent_run_id=last.run_id if last else None, attempt=(last.attempt + 1) if last else 1,
        )

    def _message(self, req: Request, status: str, previous: str | None, settled: tuple[Any, ...]) -> Admission:
        t = req.thread_id
        if status == "waiting":
            raise ThreadStateError(
                t, status, f"thread {t!r} is waiting for approval; answer it with "
                f"`stateline resume {t} --approve | --reject | --edit k=v`",
            )
        pending = self._retryable(t, status)
        if pending is not None:
            raise TurnNotAcceptedError(t, pending)
        if status == "interrupted":  # settle could not finish it (its resume raised): do not pile on top
            raise TurnNotAcceptedError(t, "; ".join(a.detail for a in settled) or "unfinished tasks remain")
        payload = {"messages": [HumanMessage(req.message)]}
        if status == "failed":  # a permanent failure: roll the failed turn back, start anew from START
            fork, failed_run = self._before_failed_turn(t)
            note = f"the failed turn (run {failed_run}) was rolled back; this message starts anew"
            step = self._step(req, "turn", payload, run_id=req.run_id, checkpoint_id=fork or None, note=note,
                              fresh=fork == "")
            return Admission(step, "restarted", settled)
        return Admission(self._step(req, "turn", payload, run_id=req.run_id), previous, settled)

    def _retryable(self, thread_id: str, status: str) -> str | None:
        """Why a new message must wait: the latest run failed with a transient error and has
        attempts left (settle just retried it and it failed again), on an unfinished thread or
        before its input reached a checkpoint. None: the message may run."""
        ops = self.app.ops
        last = ops.runs.latest(thread_id)
        if last is None or last.status != "failed" or not last.transient:
            return None
        if last.attempt >= ops.recovery.policy.max_attempts:
            return None
        if status == "idle" and (last.input is None or self._input_stored(thread_id, last.run_id)):
            return None
        return f"{last.error_type}: {last.error_message}"

    def _input_stored(self, thread_id: str, run_id: str) -> bool:
        config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        return any(True for _ in self.app.database.saver.list(config, filter={"run_id": run_id}, limit=1))

    def _before_failed_turn(self, thread_id: str) -> tuple[str | None, str | None]:
        """(checkpoint to fork from, failed run): the head before the failed turn's input.

        A restart after a permanent failure runs the new message from there, so the failed
        turn leaves no orphan user message and no half-done state (an ``active_agent`` set
        by its route step) behind; its checkpoints stay in the history as a branch and its
        run row says what happened. None when the turn's input checkpoint is not found.
        """
        runs = self.app.ops.runs
        run = runs.latest(thread_id)
        seen: set[str] = set()
        while run is not None and run.input is None and run.parent_run_id and run.run_id not in seen:
            seen.add(run.run_id)
            run = runs.get(run.parent_run_id) if runs.exists(run.parent_run_id) else None
        if run is None or run.input is None:
            return None, None
        config: Any = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
        first = next(iter(self.app.database.saver.list(config, filter={"run_id": run.run_id, "source": "input"})), None)
        if first is None:
            return None, run.run_id
        parent = (first.parent_config or {}).get("configurable") or {}
        return parent.get("checkpoint_id") or "", run.run_id

    def _step(self, req: Request, kind: str, payload: Any, **fields: Any) -> Step:
        graph = fields.pop("graph", None) or self.app.graph
        run_id = fields.pop("run_id", None) or new_id()
        text = req.message if kind == "turn" else None
        return Step(req.thread_id, run_id, kind, payload, graph, input=text, user_id=req.user_id, **fields)

    def graph_for_decision(self, agent: str | None) -> CompiledStateGraph:
        """The graph that must take a person's decision for ``agent``.

        The meaning of a decision comes from the thread's own record: it waits on ``agent``
        because that agent required approval when it paused. If this process was started
        without approval for it, its ``validate`` would skip the decision and act at once — a
        reject would be carried out. So a decision is always answered by a graph in which the
        waiting agent requires approval, whatever this process's configuration says.
        """
        app = self.app
        if agent is None or agent not in app.registry or app.registry.get(agent).approval:
            return app.graph
        key = (id(app.graph), agent)
        if key not in self._decision_graphs:
            agents = [replace(a, approval=True) if a.name == agent else a for a in app.registry.list()]
            self._decision_graphs[key] = app._compile(AgentRegistry(agents))
        return self._decision_graphs[key]

    # -- 5. run ---------------------------------------------------------------------------
    def config(self, step: Step) -> RunnableConfig:
        configurable: dict[str, Any] = {"thread_id": step.thread_id, "user_id": step.user_id, "run_id": step.run_id}
        if step.checkpoint_id is not None:
            configurable["checkpoint_id"] = step.checkpoint_id
        return self.app._config(configurable)

    def open_run(self, step: Step) -> None:
        """Write the run row (fail-closed: an error here propagates and nothing runs), then tell observers."""
        app = self.app
        track: dict[str, Any] = {"kind": step.kind, "parent_run_id": step.parent_run_id, "attempt": step.attempt}
        # the run row and the thread index in one commit (without an fsync of its own under
        # durability="sync": the run's first durable commit to the file syncs it, see Tracker.open_run)
        with app.database.transaction(durable=app.durability != "sync"):
            app.ops.tracker.open_run(
                run_id=step.run_id, thread_id=step.thread_id, input=step.input, user_id=step.user_id,
                durability=app.durability, **track,
            )
            if step.kind == "turn":
                app.threads.touch(step.thread_id, user_id=step.user_id, workflow=app.workflow)
        if step.fresh:
            app.database.saver.delete_thread(step.thread_id)
        app.hooks.emit(
            "run_started", run_id=step.run_id, thread_id=step.thread_id, input=step.input, user_id=step.user_id,
            durability=app.durability, **track,
        )

    def close_run(
        self, step: Step, status: str, error: BaseException | None, release: LeaseHold | None = None
    ) -> None:
        """Record the finish (and release the lease ``release`` in the same transaction). If that
        write fails the turn still happened (its checkpoints are stored): the row stays
        ``running``, the lease is released when the lease block ends, and the next settle of
        the thread closes the row."""
        try:
            self.app.ops.tracker.close_run(
                run_id=step.run_id, thread_id=step.thread_id, status=status, error=error,
                also=None if release is None else release.release_in,
            )
            if release is not None:
                release.released = True
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("could not record the end of run %s; the next turn of the thread closes it", step.run_id)
        self.app.hooks.emit("run_finished", run_id=step.run_id, thread_id=step.thread_id, status=status, error=error)

    def invoke(self, step: Step, release: LeaseHold | None = None) -> Turn:
        """The invoke adapter: run ``step`` to its end and return the replies (``release``: the
        lease hold to end with the run's finish record, when this is the block's last step)."""
        app = self.app
        self.open_run(step)
        # one fsync for the turn's checkpoints: the run's finish record (a durable commit)
        # covers them, or the block's end does (see Database.deferred_checkpoints)
        with app.database.deferred_checkpoints():
            try:
                result = step.graph.invoke(step.payload, self.config(step), durability=app.durability)
            except GraphInterrupt:
                result = None
            except BaseException as exc:
                self.close_run(step, "failed", exc, release)
                raise
            finished = isinstance(result, dict) and "__interrupt__" not in result and result.get("messages") is not None
            snapshot = None if finished else step.graph.get_state({"configurable": {"thread_id": step.thread_id}})
            waiting = snapshot is not None and thread_status(snapshot) == "waiting"
            status = "waiting" if waiting else "completed"
            self.close_run(step, status, None, release)
        values = result if snapshot is None else (snapshot.values or (result or {}))
        return turn_from(step.thread_id, step.run_id, status, values, snapshot if waiting else None)

    def current_turn(self, thread_id: str, run_id: str) -> Turn:
        """The thread's latest replies as a Turn (after settling finished the work asked for)."""
        snapshot = self.app.graph.get_state({"configurable": {"thread_id": thread_id}})
        waiting = thread_status(snapshot) == "waiting"
        return turn_from(thread_id, run_id, "waiting" if waiting else "completed", snapshot.values or {},
                         snapshot if waiting else None)


def turn_from(thread_id: str, run_id: str, status: Any, values: Any, waiting: Any) -> Turn:
    replies = replies_after_last_user(list((values or {}).get("messages") or []))
    agent = next((m.agent for m in reversed(replies) if m.agent), None)
    return Turn(
        thread_id, run_id, status, tuple(replies), agent if agent != "supervisor" else None,
        interrupt=interrupt_value(waiting) if waiting is not None else None,
    )
