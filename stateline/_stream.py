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
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import Executor
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from stateline.checkpointing import now
from stateline.graphs import AgentRegistry
from stateline.nodes import CHUNK, FALLBACK, SUPERVISOR
from stateline.errors import InvalidInputError, ThreadBusyError, ThreadStateError, UnknownThreadError

from ._convert import interrupt_value, thread_status
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
from ._ids import check_id, check_message, new_id

if TYPE_CHECKING:
    from ._app import App

T = TypeVar("T")
STREAM_MODES = ["tasks", "custom", "updates"]
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
        self.steps: list[dict[str, Any]] = []
        self._started: dict[str, float] = {}

    def _ev(self, cls: type, **fields: Any) -> Any:
        return cls(thread_id=self.thread_id, run_id=self.run_id, **fields)

    def feed(self, namespace: tuple[str, ...], mode: str, data: Any) -> list[Any]:
        if mode == "custom":
            if isinstance(data, dict) and data.get("kind") == CHUNK:
                return [self._ev(ContentChunk, agent=data["agent"], text=data["text"])]
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
        self._step(namespace, node, agent, data, starting)
        if namespace:
            return self._agent_task(agent or "", node, data, starting)
        if starting:
            return self._root_start(node)
        return self._root_result(node, data)

    def _step(self, namespace: tuple[str, ...], node: str, agent: str | None, data: dict, starting: bool) -> None:
        key = data["id"]
        if starting:
            self._started[key] = now()
        error = data.get("error")
        status = "running" if starting else ("failed" if error else ("interrupted" if data.get("interrupts") else "done"))
        started = self._started.get(key, now())
        self.steps.append({
            "run_id": self.run_id, "task_id": key, "thread_id": self.thread_id, "namespace": "|".join(namespace),
            "node": node, "agent": agent, "started_at": started, "status": status,
            "duration_ms": None if starting else round((now() - started) * 1000, 3),
            "error": None if error is None else _error_text(error),
        })

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
                step = self.steps[-1]
                output = ((data.get("result") or {}).get("results") or {}).get(agent)
                error = data.get("error")
                events.append(self._ev(
                    ToolResult, agent=agent, tool=tool, call_id=data["id"], output=output,
                    error=None if error is None else _error_text(error), duration_ms=step["duration_ms"],
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


# -- which graph answers a decision --------------------------------------------------
def graph_for_decision(app: App, agent: str | None) -> CompiledStateGraph:
    """The graph that must take a person's decision for ``agent``.

    A thread waits on an agent that required approval when it paused. If this process was
    started without approval for that agent, its ``validate`` would skip the decision and
    act at once — so a reject would publish. The decision is therefore always answered by
    a graph in which the waiting agent requires approval.
    """
    if agent is None or agent not in app.registry or app.registry.get(agent).approval:
        return app.graph
    cache: dict[tuple[int, str], CompiledStateGraph] = app.__dict__.setdefault("_decision_graphs", {})
    key = (id(app.graph), agent)
    if key not in cache:
        agents = [replace(a, approval=True) if a.name == agent else a for a in app.registry.list()]
        cache[key] = app._compile(AgentRegistry(agents))
    return cache[key]


# -- one turn -------------------------------------------------------------------------
class _Guard:
    """Threads with a turn in progress in this process (one turn per thread at a time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._busy: set[str] = set()

    def busy(self, thread_id: str) -> bool:
        with self._lock:
            return thread_id in self._busy

    def enter(self, thread_id: str) -> None:
        with self._lock:
            if thread_id in self._busy:
                raise ThreadBusyError(thread_id)
            self._busy.add(thread_id)

    def leave(self, thread_id: str) -> None:
        with self._lock:
            self._busy.discard(thread_id)


def event_log(app: App) -> EventLog:
    """The app's event log (tables created on first use)."""
    log = app.__dict__.get("_event_log")
    if log is None:
        log = app.__dict__.setdefault("_event_log", EventLog(app.database))
    return log


def guard(app: App) -> _Guard:
    return app.__dict__.setdefault("_turn_guard", _Guard())


def stream_turn(
    app: App,
    thread_id: str,
    message: str | None = None,
    *,
    decision: Any = None,
    user_id: str | None = None,
    max_chars: int | None = None,
) -> Iterator[Any]:
    """Check the request now (typed errors raise here), then return the turn's event iterator.

    ``message`` sends a user message (finishing an interrupted earlier turn first, which the
    stream announces with a ``resumed`` event of reason ``recovery``); ``decision`` answers
    a waiting thread (``{"action": "approve" | "reject" | "edit", "fields": {...}}``); with
    neither, an interrupted turn is finished.
    """
    thread_id = check_id("thread id", thread_id)
    if user_id is not None:
        check_id("user id", user_id)
    text = None
    if message is not None:
        text = check_message(message) if max_chars is None else check_message(message, limit=max_chars)
    if decision is not None:
        decision = check_decision(decision)
    if guard(app).busy(thread_id):
        raise ThreadBusyError(thread_id)
    snapshot = app.graph.get_state({"configurable": {"thread_id": thread_id}}, subgraphs=True)
    status = thread_status(snapshot)
    if text is not None and status == "waiting":
        raise ThreadStateError(
            thread_id, status,
            f"thread {thread_id!r} is waiting for approval; answer it with "
            f"`stateline resume {thread_id} --approve | --reject | --edit k=v`",
        )
    if text is None and status == "new":
        raise UnknownThreadError(thread_id)
    if decision is not None and status != "waiting":
        raise ThreadStateError(thread_id, status, f"thread {thread_id!r} is not waiting for approval (it is {status})")
    if text is None and decision is None and status not in ("interrupted", "failed"):
        raise ThreadStateError(thread_id, status, f"thread {thread_id!r} has nothing to resume (it is {status})")
    trail = list((snapshot.values or {}).get("trail") or [])
    return _produce(app, thread_id, text, decision, user_id, status, snapshot, trail[-1] if trail else None)


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


def _produce(
    app: App, thread_id: str, text: str | None, decision: Any, user_id: str | None,
    status: str, snapshot: Any, previous: str | None,
) -> Iterator[Any]:
    """The turn's runs. What happens to an unfinished earlier turn is chosen explicitly (as
    ``App.send`` does) and announced with a ``resumed`` event:

    - a run whose process died (tracking knows) is recovered first (``reason="recovery"``);
    - interrupted (unfinished tasks, no error): finished first, streamed (``recovery``);
    - failed: a new message starts from START and the failed turn is abandoned
      (``reason="restart"``); with no message, the failed step is retried (``recovery``).
    """
    guard(app).enter(thread_id)
    try:
        if decision is not None:
            waiting = interrupt_value(snapshot) or {}
            graph = graph_for_decision(app, waiting.get("agent") if isinstance(waiting, dict) else None)
            lead = Resumed(thread_id=thread_id, reason="decision", decision=decision)
            yield from _run(app, graph, thread_id, user_id, Command(resume=decision), "decision", decision, lead, previous)
            return
        parent = None
        stale = ops.recovery.stale_runs(thread_id) if (ops := getattr(app, "ops", None)) is not None else []
        if stale and status == "interrupted":
            # a process died mid-turn: close its run rows, then finish the turn here, streamed
            for run in stale:
                app.hooks.emit("run_finished", run_id=run.run_id, thread_id=thread_id, status="interrupted", error=None)
            parent = stale[-1].run_id
        elif stale:  # e.g. it died before its input reached a checkpoint: lifecycle re-submits it
            report = ops.recovery.recover(thread_id=thread_id)
            note = Resumed(thread_id=thread_id, reason="recovery", detail=report.summary())
            status = app.status(thread_id)
            previous = _last_agent(app, thread_id)
            if text is None and status not in ("interrupted", "failed"):
                end = ConversationEnd(thread_id=thread_id, status="waiting" if status == "waiting" else "completed")
                yield from event_log(app).append(thread_id, [note, end])
                return
            yield from event_log(app).append(thread_id, [note])
        if status == "interrupted" or (text is None and status == "failed"):
            kind = "resume" if status == "interrupted" else "retry"
            lead = Resumed(thread_id=thread_id, reason="recovery", detail=f"{kind} of the unfinished turn")
            outcome = yield from _run(
                app, app.graph, thread_id, user_id, None, kind, None, lead, previous, final=text is None,
                parent_run_id=parent,
            )
            if text is None:
                return
            if outcome == "failed":  # the earlier turn still fails: do not pile a message on top
                end = ConversationEnd(thread_id=thread_id, status="failed")
                yield from event_log(app).append(thread_id, [end])
                return
            previous = _last_agent(app, thread_id)
        assert text is not None
        lead = None
        if status == "failed":
            lead = Resumed(thread_id=thread_id, reason="restart", detail="the failed turn is abandoned; this message starts anew")
        app.threads.touch(thread_id, user_id=user_id, workflow=app.workflow)
        payload = {"messages": [HumanMessage(text)]}
        yield from _run(app, app.graph, thread_id, user_id, payload, "turn", text, lead, previous)
    finally:
        guard(app).leave(thread_id)


def _last_agent(app: App, thread_id: str) -> str | None:
    values = app.graph.get_state({"configurable": {"thread_id": thread_id}}).values or {}
    trail = values.get("trail") or []
    return trail[-1] if trail else None


def _run(
    app: App, graph: CompiledStateGraph, thread_id: str, user_id: str | None, payload: Any,
    kind: str, shown_input: Any, lead: Any, previous: str | None, *, final: bool = True, **track: Any,
) -> Generator[Any, None, str]:
    """One graph invocation: store and yield its events; ``final`` adds ``conversation_end``."""
    log = event_log(app)
    run_id = new_id()
    config = app._config(thread_id, user_id, run_id)
    tools = {a.name: getattr(a.act, "__name__", "act") for a in app.registry.list()}
    tr = EventTranslator(thread_id, run_id, tools, previous)
    own_tracking = getattr(app, "ops", None) is None  # else lifecycle's tracker records runs and steps
    if own_tracking:
        log.run_started(run_id, thread_id, user_id=user_id, kind=kind, input=shown_input)
    app.hooks.emit(
        "run_started", run_id=run_id, thread_id=thread_id, input=shown_input if kind == "turn" else None,
        user_id=user_id, kind=kind, durability=app.durability, **track,
    )
    pending: list[Any] = [lead.model_copy(update={"run_id": run_id})] if lead is not None else []
    last_flush = time.monotonic()

    def flush() -> list[Any]:
        nonlocal pending, last_flush
        stored = log.append(thread_id, pending, steps=_latest_steps(tr.steps) if own_tracking else ())
        tr.steps.clear()
        pending = []
        last_flush = time.monotonic()
        return stored

    error: BaseException | None = None
    try:
        for namespace, mode, data in graph.stream(
            payload, config, stream_mode=STREAM_MODES, subgraphs=True, durability=app.durability
        ):
            events = tr.feed(namespace, mode, data)
            pending.extend(events)
            urgent = any(not isinstance(e, ContentChunk) for e in events)
            if pending and (urgent or time.monotonic() - last_flush >= FLUSH_SECONDS):
                yield from flush()
    except Exception as exc:  # noqa: BLE001 - a failed run is reported as events, the thread stays resumable
        error = exc
        pending.extend(tr.crashed(exc))
    after = graph.get_state({"configurable": {"thread_id": thread_id}}, subgraphs=True)
    state = thread_status(after)
    outcome = "failed" if error is not None or state == "failed" else ("waiting" if state == "waiting" else "completed")
    if outcome == "failed" and not tr.failed:
        pending.extend(tr.crashed(RuntimeError("a node failed")))
    if final:
        pending.append(tr._ev(ConversationEnd, status=outcome, agent=tr.current))
    yield from flush()
    if own_tracking:
        log.run_finished(run_id, status=outcome, agent=tr.current, error=None if error is None else _error_text(error))
    app.hooks.emit(
        "run_finished", run_id=run_id, thread_id=thread_id,
        status=outcome, error=error,
    )
    return outcome


def _latest_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The newest row per task (a start and its finish in one batch become one write)."""
    latest: dict[str, dict[str, Any]] = {}
    for s in steps:
        latest[s["task_id"]] = s
    return list(latest.values())


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
