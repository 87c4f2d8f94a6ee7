"""One turn as a stream of typed events, produced from the graph's own stream.

The supervisor is streamed with ``subgraphs=True`` in the ``tasks`` (node start/finish,
inside agents too), ``custom`` (reply chunks the nodes write, see ``nodes.speak``) and
``updates`` (interrupts) modes; :class:`EventTranslator` turns those items into
:data:`stateline._events.Event` objects. Events are stored (with offsets) before they
are yielded, in small batches so that a burst of chunks costs one transaction.

The graph runs synchronously in the calling thread; :func:`aiterate` moves any such
iterator to a worker thread for asyncio callers, so the event loop is never blocked.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import Executor
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import StreamMode

from stateline.checkpointing import now
from stateline.graphs import AGENT_TASK
from stateline.nodes import CHUNK, FALLBACK, SUPERVISOR

from ._convert import thread_status
from ._core import ACTED, Admission, Step
from ._events import (
    AgentComplete,
    AgentStart,
    AgentSwitch,
    ContentChunk,
    ConversationEnd,
    ErrorEvent,
    EventLog,
    Resumed,
    ToolExecution,
    ToolResult,
    WaitingInput,
)

if TYPE_CHECKING:
    from stateline.lifecycle import LeaseHold

    from ._app import App

T = TypeVar("T")
STREAM_MODES: list[StreamMode] = ["tasks", "custom", "updates"]
FLUSH_SECONDS = 0.05
"""Chunks are stored (and handed on) at least this often; any other event flushes at once."""


class EventTranslator:
    """Turns ``graph.stream(..., subgraphs=True)`` items of one run into events and step rows."""

    def __init__(self, thread_id: str, run_id: str, tools: dict[str, str], previous: str | None) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self.tools = tools
        """Agent name -> the name of its action function."""
        self.previous = previous
        """The agent that took the last message before this run (for ``agent_switch``)."""
        self.current: str | None = None
        self.failed = False
        self._started: dict[str, float] = {}
        self._duration: float | None = None

    def _ev(self, cls: type, **fields: Any) -> Any:
        return cls(thread_id=self.thread_id, run_id=self.run_id, **fields)

    def feed(self, namespace: tuple[str, ...], mode: str, data: Any) -> list[Any]:
        if mode == "custom":
            if isinstance(data, dict) and data.get("kind") == CHUNK:
                return [self._ev(ContentChunk, agent=data["agent"], text=data["text"])]
            if isinstance(data, dict) and data.get("kind") == AGENT_TASK:  # an agent's node run in its task
                return self._task((f"{data['agent']}:",), data)
            return []
        if mode == "updates":
            if namespace or not isinstance(data, dict) or "__interrupt__" not in data:
                return []
            return [self._waiting(i) for i in data["__interrupt__"]]
        if mode == "tasks" and isinstance(data, dict):
            return self._task(namespace, data)
        return []

    def _waiting(self, intr: Any) -> WaitingInput:
        value = intr.value if isinstance(getattr(intr, "value", None), dict) else {}
        return self._ev(
            WaitingInput, agent=value.get("agent"), draft=dict(value.get("draft") or {}),
            question=str(value.get("question") or ""), interrupt_id=getattr(intr, "id", None),
        )

    def _task(self, namespace: tuple[str, ...], data: dict[str, Any]) -> list[Any]:
        node = data["name"]
        agent = namespace[0].split(":", 1)[0] if namespace else (node if node in self.tools else None)
        starting = "input" in data
        self._duration = self._clock(data["id"], starting)
        if namespace:
            return self._agent_task(agent or "", node, data, starting)
        if starting:
            return self._root_start(node)
        return self._root_result(node, data)

    def _clock(self, key: str, starting: bool) -> float | None:
        """Start a task's clock, or the task's duration in ms when it ends."""
        if starting:
            self._started[key] = now()
            return None
        return round((now() - self._started.pop(key, now())) * 1000, 3)

    def _root_start(self, node: str) -> list[Any]:
        if node in self.tools:
            events: list[Any] = []
            if node != self.previous:
                events.append(self._ev(AgentSwitch, from_agent=self.previous, to_agent=node))
                self.previous = node
            self.current = node
            return [*events, self._ev(AgentStart, agent=node)]
        if node == FALLBACK:
            self.current = SUPERVISOR
            return [self._ev(AgentStart, agent=SUPERVISOR)]
        return []

    def _root_result(self, node: str, data: dict[str, Any]) -> list[Any]:
        if data.get("error") is not None:
            return self._error(data["error"], node, self.current)
        if data.get("interrupts"):
            return []
        result = data.get("result") or {}
        name = node if node in self.tools else SUPERVISOR
        if node in self.tools or node == FALLBACK or (node == "route" and result.get("messages")):
            return [self._ev(AgentComplete, agent=name, text=_last_reply(result, name))]
        return []

    def _agent_task(self, agent: str, node: str, data: dict[str, Any], starting: bool) -> list[Any]:
        events: list[Any] = []
        if node == "act":
            tool = self.tools.get(agent, "act")
            if starting:
                draft = ((data.get("input") or {}).get("drafts") or {}).get(agent) or {}
                events.append(self._ev(ToolExecution, agent=agent, tool=tool, call_id=data["id"], input=dict(draft)))
            elif not data.get("interrupts"):
                output = ((data.get("result") or {}).get("results") or {}).get(agent)
                error = data.get("error")
                events.append(self._ev(
                    ToolResult, agent=agent, tool=tool, call_id=data["id"], output=output,
                    error=None if error is None else _error_text(error), duration_ms=self._duration,
                ))
        if not starting and data.get("error") is not None:
            events.extend(self._error(data["error"], node, agent))
        return events

    def _error(self, error: Any, node: str | None, agent: str | None) -> list[Any]:
        if self.failed:
            return []
        self.failed = True
        return [self._ev(ErrorEvent, message=_error_text(error), error_type=_error_type(error), node=node, agent=agent)]

    def crashed(self, exc: BaseException) -> list[Any]:
        """The run raised: one error event (unless a node's failure was already reported)."""
        return self._error(exc, None, self.current)


def _error_text(error: Any) -> str:
    return str(error) or type(error).__name__


def _error_type(error: Any) -> str:
    return type(error).__name__ if isinstance(error, BaseException) else "Error"


def _last_reply(result: dict[str, Any], agent: str) -> str:
    for msg in reversed(result.get("messages") or []):
        if isinstance(msg, HumanMessage):
            break
        if isinstance(msg, AIMessage) and (msg.name == agent or msg.name is None):
            return msg.text if isinstance(msg.content, str) else str(msg.content)
    return ""


# -- one turn -------------------------------------------------------------------------
def event_log(app: App) -> EventLog:
    """The app's event log (tables created on first use)."""
    log = app.__dict__.get("_event_log")
    if log is None:
        log = app.__dict__.setdefault("_event_log", EventLog(app.database))
    return log


class TurnStream(Iterator[Any]):
    """A turn's events, holding the thread's lease until the last one (or :meth:`close`).

    Admission ran when it was made (typed errors raised there, before anything ran); a
    stream that is dropped unread releases the lease when it is closed or collected.
    """

    def __init__(self, events: Generator[Any, None, Any], release: Callable[[], object]) -> None:
        self._events = events
        self._release: Callable[[], object] | None = release

    def __iter__(self) -> TurnStream:
        return self

    def __next__(self) -> Any:
        try:
            return next(self._events)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        release, self._release = self._release, None
        if release is not None:
            try:
                self._events.close()
            finally:
                release()

    def __del__(self) -> None:
        self.close()


def stream_turn(
    app: App,
    thread_id: str,
    message: str | None = None,
    *,
    decision: Any = None,
    user_id: str | None = None,
    max_chars: int | None = None,
) -> TurnStream:
    """Admit the turn now (typed errors raise here), then return its event iterator.

    ``message`` sends a user message; ``decision`` answers a waiting thread (``{"action":
    "approve" | "reject" | "edit", "fields": {...}}``); with neither, an interrupted or
    failed turn is finished. Whatever admission finished first (a cut-short or failed
    turn, a lost input) is announced by a ``resumed`` event; see ``stateline._core``.
    """
    core = app.core
    req = core.request(thread_id, message=message, decision=decision, user_id=user_id, max_chars=max_chars)
    lease = core.leased(req.thread_id)
    hold = lease.__enter__()
    try:
        admission = core.admit(req)
        previous = _last_agent(app, req.thread_id)
        settled = _settled_replies(app, admission)
    except BaseException as exc:
        lease.__exit__(type(exc), exc, exc.__traceback__)
        raise
    return TurnStream(_produce(app, admission, previous, settled, hold), lambda: lease.__exit__(None, None, None))


def _settled_replies(app: App, admission: Admission) -> list[Any]:
    """The replies of work admission finished first (a turn cut short by a crash), as
    ``agent_complete`` events, so a streaming client sees them as a ``send`` caller does."""
    acted = [a for a in admission.settled if a.outcome in ACTED and a.run_id]
    if not acted:
        return []
    turn = app.core.current_turn(acted[-1].thread_id, acted[-1].run_id or "")
    return [
        AgentComplete(thread_id=turn.thread_id, run_id=turn.run_id, agent=r.agent or SUPERVISOR, text=r.text)
        for r in turn.replies
    ]


def _lead(admission: Admission) -> Resumed | None:
    step = admission.step
    if step is not None and step.kind == "decision":
        return Resumed(thread_id=step.thread_id, reason="decision", decision=step.payload.resume)
    if admission.previous == "restarted" and step is not None:
        return Resumed(thread_id=step.thread_id, reason="restart", detail=step.note or "the failed turn is abandoned")
    if admission.previous == "resumed" and step is not None:
        return Resumed(thread_id=step.thread_id, reason="recovery", detail=admission.summary())
    if step is not None and step.kind in ("resume", "retry"):
        return Resumed(thread_id=step.thread_id, reason="recovery", detail=f"{step.kind} of the unfinished turn")
    return None


def _produce(
    app: App, admission: Admission, previous: str | None, settled: list[Any], hold: LeaseHold
) -> Generator[Any, None, None]:
    step = admission.step
    if step is None:  # admission finished the unfinished turn: say so and end
        acted = [a for a in admission.settled if a.run_id]
        t = acted[-1].thread_id if acted else ""
        status: Literal["waiting", "completed"] = "waiting" if app.status(t) == "waiting" else "completed"
        note = Resumed(thread_id=t, reason="recovery", detail=admission.summary())
        yield from event_log(app).append(t, [note, *settled, ConversationEnd(thread_id=t, status=status)])
        return
    lead = _lead(admission)
    if settled and lead is not None:
        yield from event_log(app).append(step.thread_id, [lead, *settled])
        lead = None
    yield from _run(app, step, lead, previous, hold)


def _last_agent(app: App, thread_id: str) -> str | None:
    values = app.graph.get_state({"configurable": {"thread_id": thread_id}}).values or {}
    trail = values.get("trail") or []
    return trail[-1] if trail else None


def _run(app: App, step: Step, lead: Any, previous: str | None, hold: LeaseHold) -> Generator[Any, None, str]:
    """The stream adapter of the turn core: one tracked run, its events stored and yielded.

    The graph is pulled inside ``deferred_checkpoints`` blocks that end before anything is
    yielded: the checkpoints of a stretch of the run commit without an fsync each, the
    block's end (or the durable store of the events that follow) syncs them, and only then
    does a client see what that stretch produced. So, as for ``send``, nothing a client was
    shown can be lost by a power loss, at one fsync per flush instead of one per checkpoint.
    """
    core, log, thread_id = app.core, event_log(app), step.thread_id
    tools = {a.name: getattr(a.act, "__name__", "act") for a in app.registry.list()}
    tr = EventTranslator(thread_id, step.run_id, tools, previous)
    core.open_run(step)  # fail-closed: raises before anything runs
    pending: list[Any] = [lead.model_copy(update={"run_id": step.run_id})] if lead is not None else []
    items = iter(step.graph.stream(
        step.payload, core.config(step), stream_mode=STREAM_MODES, subgraphs=True, durability=app.durability
    ))
    error: BaseException | None = None
    try:
        done = False
        while not done:
            with app.database.deferred_checkpoints():
                done = _pull(items, tr, pending)
            if pending:
                yield from log.append(thread_id, pending)
                pending = []
    except Exception as exc:  # noqa: BLE001 - a failed run is reported as events, the thread stays resumable
        error = exc
        pending.extend(tr.crashed(exc))
    except BaseException as exc:  # the consumer closed the stream, or the process is stopping
        _close(items)
        core.close_run(step, "failed", exc, hold)
        raise
    after = step.graph.get_state({"configurable": {"thread_id": thread_id}}, subgraphs=True)
    state = thread_status(after)
    outcome = "failed" if error is not None or state == "failed" else ("waiting" if state == "waiting" else "completed")
    if outcome == "failed" and not tr.failed:
        pending.extend(tr.crashed(RuntimeError("a node failed")))
    pending.append(tr._ev(ConversationEnd, status=outcome, agent=tr.current))
    try:
        yield from log.append(thread_id, pending)
    finally:
        core.close_run(step, outcome, error, hold)
    return outcome


def _pull(items: Iterator[Any], tr: EventTranslator, pending: list[Any]) -> bool:
    """Feed graph stream items to ``tr`` until there is something to hand on: any event but a
    chunk at once, chunks at least every ``FLUSH_SECONDS``. True once the stream is exhausted."""
    started = time.monotonic()
    for namespace, mode, data in items:
        events = tr.feed(namespace, mode, data)
        pending.extend(events)
        urgent = any(not isinstance(e, ContentChunk) for e in events)
        if pending and (urgent or time.monotonic() - started >= FLUSH_SECONDS):
            return False
    return True


def _close(items: Iterator[Any]) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()


# -- asyncio --------------------------------------------------------------------------
_DONE = object()


async def aiterate(make: Callable[[], Iterator[T]], executor: Executor | None = None) -> AsyncIterator[T]:
    """Run ``make()`` and iterate it in a worker thread; yield its items on the event loop.

    If the consumer stops early the worker still runs the iterator to its end: a client
    going away must not cut a turn in half.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[Any, BaseException | None]] = asyncio.Queue()

    def put(item: Any, exc: BaseException | None = None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (item, exc))
        except RuntimeError:  # the loop is gone; finish the work regardless
            pass

    def work() -> None:
        try:
            for item in make():
                put(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_DONE, exc)
            return
        put(_DONE)

    loop.run_in_executor(executor, work)
    while True:
        item, exc = await queue.get()
        if item is _DONE:
            if exc is not None:
                raise exc
            return
        yield item
