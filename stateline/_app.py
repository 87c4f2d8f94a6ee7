"""The public facade: agents + a database + a supervisor, one call per user turn."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.errors import GraphInterrupt
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from checkpointing import AutoRetention, Database, ThreadIndex, ThreadInfo, open_database
from graphs import Agent, AgentRegistry, HookSet, build_supervisor
from nodes import EffectLedger, Gate, ModelProvider, provider_from_env
from stateline_errors import InvalidInputError, SetupError, UnknownThreadError

from ._convert import interrupt_value, replies_after_last_user, thread_status, to_view
from ._ids import check_id, check_message, new_id
from ._records import Turn, ThreadView

Durability = Literal["sync", "async", "exit"]


class App:
    """A stateline application: register agents, then :meth:`send` messages to threads.

    Every turn runs with ``durability="sync"`` by default, so each finished step is
    committed before the next starts and a hard crash loses at most the step in flight.
    """

    def __init__(
        self,
        agents: Iterable[Agent] = (),
        *,
        db: str | Database | None = None,
        provider: ModelProvider | None = None,
        hooks: Iterable[object] = (),
        workflow: str | None = None,
        agents_file: str | Path | None = None,
        durability: Durability = "sync",
    ) -> None:
        if durability not in ("sync", "async", "exit"):
            raise SetupError(f"durability {durability!r} must be 'sync', 'async' or 'exit'")
        self.database = db if isinstance(db, Database) else open_database(db)
        self._owns_db = not isinstance(db, Database)
        self.registry = AgentRegistry(list(agents))
        if agents_file is not None:
            self.registry.load_toml(agents_file)
        self.provider = provider or provider_from_env()
        self.hooks = HookSet(hooks)
        if (retention := AutoRetention.from_env(self.database)) is not None:  # STATELINE_RETENTION_KEEP_LAST
            self.hooks.add(retention)
        self.workflow = workflow
        self.durability = durability
        self.threads = ThreadIndex(self.database)
        self.gate: Gate | None = None
        self.ledger: EffectLedger | None = None
        self._graph: CompiledStateGraph | None = None
        self._plugins: list[Any] = []

    # -- building -------------------------------------------------------------
    def register(self, agent: Agent, *, replace: bool = False) -> Agent:
        """Add an agent; the supervisor is rebuilt on the next turn."""
        self.registry.register(agent, replace=replace)
        self._graph = None
        return agent

    def unregister(self, name: str) -> Agent:
        agent = self.registry.unregister(name)
        self._graph = None
        return agent

    def add_hook(self, hook: object) -> None:
        """Register a lifecycle/tracking hook (see ``graphs`` hook protocols)."""
        self.hooks.add(hook)

    @property
    def graph(self) -> CompiledStateGraph:
        """The compiled supervisor over the registered agents."""
        if self._graph is None:
            self._graph = build_supervisor(
                self.registry,
                provider=self.provider,
                hooks=self.hooks,
                ledger=self.ledger,
                gate=self.gate,
                checkpointer=self.database.saver,
                store=self.database.store,
            )
        return self._graph

    # -- running --------------------------------------------------------------
    def _config(self, thread_id: str, user_id: str | None, run_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id, "user_id": user_id, "run_id": run_id}}

    def send(self, thread_id: str, message: str, *, user_id: str | None = None) -> Turn:
        """Handle one user message in ``thread_id`` and return the agents' replies.

        If the thread's previous turn was cut short by a crash, that turn is finished first
        (only its unfinished tasks run) and ``Turn.resumed`` says so; no accepted turn is lost.
        """
        thread_id = check_id("thread id", thread_id)
        text = check_message(message)
        if user_id is not None:
            check_id("user id", user_id)
        resumed = False
        status = self.status(thread_id)
        if status == "waiting":
            raise InvalidInputError(
                f"thread {thread_id!r} is waiting for approval; answer it with "
                f"`stateline resume {thread_id} --approve | --reject | --edit k=v`"
            )
        if status in ("interrupted", "failed"):
            self.resume(thread_id, user_id=user_id)
            resumed = True
        self.threads.touch(thread_id, user_id=user_id, workflow=self.workflow)
        turn = self._run(thread_id, user_id, {"messages": [HumanMessage(text)]}, text)
        return _with(turn, resumed=resumed)

    def resume(self, thread_id: str, *, user_id: str | None = None, decision: Any = None) -> Turn:
        """Finish an interrupted turn (``invoke(None)``), or answer a waiting one with ``decision``."""
        thread_id = check_id("thread id", thread_id)
        status = self.status(thread_id)
        if status == "new":
            raise UnknownThreadError(thread_id)
        if decision is not None and status != "waiting":
            raise InvalidInputError(f"thread {thread_id!r} is not waiting for approval (it is {status})")
        payload = Command(resume=decision) if decision is not None else None
        return self._run(thread_id, user_id, payload, None)

    def _run(self, thread_id: str, user_id: str | None, payload: Any, text: str | None) -> Turn:
        run_id = new_id()
        config = self._config(thread_id, user_id, run_id)
        self.hooks.emit("run_started", run_id=run_id, thread_id=thread_id, input=text)
        try:
            result = self.graph.invoke(payload, config, durability=self.durability)
        except GraphInterrupt:
            result = None
        except BaseException as exc:
            self.hooks.emit("run_finished", run_id=run_id, thread_id=thread_id, status="failed", error=exc)
            raise
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}})
        waiting = thread_status(snapshot) == "waiting"
        status = "waiting" if waiting else "completed"
        self.hooks.emit("run_finished", run_id=run_id, thread_id=thread_id, status=status, error=None)
        values = snapshot.values or (result or {})
        replies = replies_after_last_user(list(values.get("messages") or []))
        agent = next((m.agent for m in reversed(replies) if m.agent), None)
        return Turn(
            thread_id, run_id, status, tuple(replies), agent if agent != "supervisor" else None,
            interrupt=interrupt_value(snapshot) if waiting else None,
        )

    # -- reading --------------------------------------------------------------
    def status(self, thread_id: str) -> str:
        """new, idle, waiting, interrupted or failed (DESIGN.md's detection rules)."""
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}}, subgraphs=True)
        return thread_status(snapshot)

    def state(self, thread_id: str) -> ThreadView:
        """The thread's current state; an unknown thread raises UnknownThreadError."""
        thread_id = check_id("thread id", thread_id)
        snapshot = self.graph.get_state({"configurable": {"thread_id": thread_id}}, subgraphs=True)
        if snapshot.metadata is None and not self.threads.exists(thread_id):
            raise UnknownThreadError(thread_id)
        owner = self.threads.get(thread_id).user_id if self.threads.exists(thread_id) else None
        return to_view(thread_id, snapshot, owner)

    def history(self, thread_id: str, *, limit: int | None = None) -> Iterator[Any]:
        """The thread's checkpoints, newest first, streamed (StateSnapshot objects)."""
        thread_id = check_id("thread id", thread_id)
        if not self.threads.exists(thread_id):
            self.state(thread_id)  # raises UnknownThreadError when nothing is stored
        yield from self.graph.get_state_history({"configurable": {"thread_id": thread_id}}, limit=limit)

    def list_threads(self, *, user_id: str | None = None, limit: int = 100) -> list[ThreadInfo]:
        return self.threads.list(user_id=user_id, limit=limit)

    def agents(self) -> Sequence[Agent]:
        return self.registry.list()

    # -- closing --------------------------------------------------------------
    def close(self) -> None:
        if self._owns_db:
            self.database.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _with(turn: Turn, **changes: Any) -> Turn:
    from dataclasses import replace

    return replace(turn, **changes)


@contextmanager
def open_app(agents: Iterable[Agent] = (), **kwargs: Any) -> Iterator[App]:
    """``with open_app([agent], db="sqlite:///app.db") as app: app.send(...)``."""
    app = App(agents, **kwargs)
    try:
        yield app
    finally:
        app.close()


AppFactory = Callable[..., App]
