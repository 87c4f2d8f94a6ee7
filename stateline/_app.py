"""The public facade: agents + a database + a supervisor, one call per user turn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal

from langchain_core.messages import HumanMessage
from langgraph.errors import GraphInterrupt
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from stateline.checkpointing import AutoRetention, Database, ThreadIndex, ThreadInfo, head_is_idle, open_database
from stateline.graphs import Agent, AgentRegistry, HookSet, build_supervisor, install_runtime, run_config
from stateline.lifecycle import RetryPolicy
from stateline.nodes import EffectLedger, Gate, ModelProvider, provider_from_env
from stateline.errors import InvalidInputError, SetupError, UnknownThreadError

from ._convert import interrupt_value, replies_after_last_user, thread_status, to_view
from ._ids import check_id, check_message, new_id
from ._records import Turn, ThreadView
from ._wiring import Operations, wire

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
        tracking: bool = True,
        retry_policy: RetryPolicy | None = None,
        failure_limit: int = 3,
    ) -> None:
        if durability not in ("sync", "async", "exit"):
            raise SetupError(f"durability {durability!r} must be 'sync', 'async' or 'exit'")
        install_runtime()  # saves of stateline's own runs in the calling thread (graphs._runtime)
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
        self.ops: Operations | None = None
        """Lifecycle, tracking, effect ledger and recovery; None with ``tracking=False``."""
        if tracking:
            self.ops = wire(self, policy=retry_policy, failure_limit=failure_limit)

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
        """Register a hook: ``graphs`` protocols (run/node/agent switch) and, with tracking,
        ``on_transition`` / ``on_effect`` (see ``lifecycle``)."""
        if self.ops is not None and callable(getattr(hook, "on_transition", None)):
            self.ops.lifecycle.add_hook(hook)
        if self.ops is not None and callable(getattr(hook, "on_effect", None)):
            self.ops.ledger.add_hook(hook)
        from stateline.graphs import HOOK_METHODS

        if any(callable(getattr(hook, m, None)) for m in HOOK_METHODS) or self.ops is None:
            self.hooks.add(hook)

    def recover(self, *, thread_id: str | None = None, wait: bool = False, retry_failed: bool = False) -> Any:
        """Finish interrupted work (all threads, or one): a ``lifecycle.RecoveryReport``.

        Needs tracking (the run rows); see :class:`lifecycle.Recovery` for the rules.
        """
        if self.ops is None:
            raise SetupError("recover() needs tracking: create the App with tracking=True (the default)")
        return self.ops.recovery.recover(thread_id=thread_id, wait=wait, retry_failed=retry_failed)

    @property
    def graph(self) -> CompiledStateGraph:
        """The compiled supervisor over the registered agents."""
        if self._graph is None:
            self._graph = self._compile(self.registry)
        return self._graph

    def _compile(self, registry: AgentRegistry) -> CompiledStateGraph:
        return build_supervisor(
            registry,
            provider=self.provider,
            hooks=self.hooks,
            ledger=self.ledger,
            gate=self.gate,
            checkpointer=self.database.saver,
            store=self.database.store,
        )

    # -- streaming (stateline._stream) ------------------------------------------
    def stream(
        self, thread_id: str, message: str | None = None, *, decision: Any = None, user_id: str | None = None
    ) -> Iterator[Any]:
        """The events of one turn (see ``stateline.Event``), stored with offsets as they happen.

        ``message`` sends a user message; ``decision`` (``{"action": "approve" | "reject" |
        "edit", "fields": {...}}``) answers a thread waiting for approval. Bad input raises
        here, before anything runs; a failing node ends the stream with ``error`` and
        ``conversation_end(status="failed")`` events instead of raising.
        """
        from ._stream import stream_turn

        return stream_turn(self, thread_id, message, decision=decision, user_id=user_id)

    async def astream(
        self, thread_id: str, message: str | None = None, *, decision: Any = None, user_id: str | None = None
    ) -> AsyncIterator[Any]:
        """:meth:`stream` for asyncio: the graph runs in a worker thread, events arrive here."""
        from ._stream import aiterate

        async for event in aiterate(lambda: self.stream(thread_id, message, decision=decision, user_id=user_id)):
            yield event

    def events(self, thread_id: str, *, after: int = 0) -> list[Any]:
        """The thread's stored events after offset ``after`` (what a reconnecting client missed)."""
        from ._stream import event_log

        return event_log(self).after(check_id("thread id", thread_id), after)

    # -- running --------------------------------------------------------------
    def _config(self, thread_id: str, user_id: str | None, run_id: str) -> dict[str, Any]:
        return run_config({"thread_id": thread_id, "user_id": user_id, "run_id": run_id})

    def send(self, thread_id: str, message: str, *, user_id: str | None = None, run_id: str | None = None) -> Turn:
        """Handle one user message in ``thread_id`` and return the agents' replies.

        What happens to the thread's previous turn, chosen explicitly and reported in
        ``Turn.previous``:

        - cut short by a crash (unfinished tasks, no error): it is finished first (only its
          unfinished tasks run; with tracking, a turn whose input never reached a checkpoint
          is re-submitted), then this message runs — ``previous="resumed"``;
        - failed (a node raised): it is *not* retried; this message starts a new turn from
          START and the failed turn is abandoned — ``previous="restarted"``
          (``stateline recover`` / :meth:`resume` retry a failed turn instead).

        ``run_id`` names the turn's run (default: a fresh id); a queue passes its own, so that
        after a crash it can tell whether the turn was already accepted. A run id that is
        already stored is refused: the same turn is never accepted twice.
        """
        thread_id = check_id("thread id", thread_id)
        text = check_message(message)
        if user_id is not None:
            check_id("user id", user_id)
        if run_id is not None:
            check_id("run id", run_id)
            if self.ops is not None and self.ops.runs.exists(run_id):
                raise InvalidInputError(f"run {run_id!r} already exists; a turn is accepted once")
        resumed = False
        previous: str | None = None
        if self.ops is not None and self.ops.recovery.stale_runs(thread_id):
            resumed = bool(self.ops.recovery.recover(thread_id=thread_id).acted)
            previous = "resumed" if resumed else None
        with self._held(thread_id):
            # the common case (the last turn finished) from the head alone; get_state otherwise
            status = "idle" if head_is_idle(self.database, thread_id) else self.status(thread_id)
            if status == "waiting":
                raise InvalidInputError(
                    f"thread {thread_id!r} is waiting for approval; answer it with "
                    f"`stateline resume {thread_id} --approve | --reject | --edit k=v`"
                )
            if status == "interrupted":
                self._run(thread_id, user_id, None, None, kind="resume")
                resumed, previous = True, "resumed"
            elif status == "failed":
                previous = "restarted"
            self.threads.touch(thread_id, user_id=user_id, workflow=self.workflow)
            turn = self._run(thread_id, user_id, {"messages": [HumanMessage(text)]}, text, run_id=run_id)
        return _with(turn, resumed=resumed, previous=previous)

    def resume(self, thread_id: str, *, user_id: str | None = None, decision: Any = None) -> Turn:
        """Finish an interrupted turn (``invoke(None)``), or answer a waiting one with ``decision``."""
        thread_id = check_id("thread id", thread_id)
        status = self.status(thread_id)
        if status == "new":
            raise UnknownThreadError(thread_id)
        if decision is not None and status != "waiting":
            raise InvalidInputError(f"thread {thread_id!r} is not waiting for approval (it is {status})")
        payload = Command(resume=decision) if decision is not None else None
        with self._held(thread_id):
            return self._run(thread_id, user_id, payload, None, kind="decision" if decision is not None else "resume")

    def _held(self, thread_id: str) -> AbstractContextManager[None]:
        """The thread's lease for one turn: a recoverer or a turn in another process holding it
        makes this one fail with ThreadBusyError before anything runs (not run twice at once).
        Without tracking there is no lease table: nothing to hold."""
        return self.ops.recovery.leases.held(thread_id) if self.ops is not None else nullcontext()

    def _run(self, thread_id: str, user_id: str | None, payload: Any, text: str | None, **track: Any) -> Turn:
        """One graph invocation as a tracked run; ``track`` (kind, parent_run_id, attempt) goes to run_started."""
        run_id = track.pop("run_id", None) or new_id()
        config = self._config(thread_id, user_id, run_id)
        self.hooks.emit(
            "run_started", run_id=run_id, thread_id=thread_id, input=text, user_id=user_id,
            durability=self.durability, **track,
        )
        try:
            result = self.graph.invoke(payload, config, durability=self.durability)
        except GraphInterrupt:
            result = None
        except BaseException as exc:
            self.hooks.emit("run_finished", run_id=run_id, thread_id=thread_id, status="failed", error=exc)
            raise
        snapshot = None if _finished(result) else self.graph.get_state({"configurable": {"thread_id": thread_id}})
        waiting = snapshot is not None and thread_status(snapshot) == "waiting"
        status = "waiting" if waiting else "completed"
        self.hooks.emit("run_finished", run_id=run_id, thread_id=thread_id, status=status, error=None)
        values = result if snapshot is None else (snapshot.values or (result or {}))
        replies = replies_after_last_user(list(values.get("messages") or []))
        agent = next((m.agent for m in reversed(replies) if m.agent), None)
        return Turn(
            thread_id, run_id, status, tuple(replies), agent if agent != "supervisor" else None,
            interrupt=interrupt_value(snapshot) if waiting and snapshot is not None else None,
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


def _finished(result: Any) -> bool:
    """Whether ``invoke``'s result already is the thread's final state: it returns the last
    values with ``__interrupt__`` added when the run stopped for a person, so a result with
    messages and no interrupt saves reading the state back (a ``get_state``)."""
    return isinstance(result, dict) and "__interrupt__" not in result and result.get("messages") is not None


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
