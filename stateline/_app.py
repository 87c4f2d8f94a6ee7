"""The public facade: agents + a database + a supervisor, one call per user turn."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph.state import CompiledStateGraph

from stateline.checkpointing import AutoRetention, Database, ThreadIndex, ThreadInfo, open_database
from stateline.errors import SetupError, UnknownThreadError
from stateline.graphs import Agent, AgentRegistry, HookSet, build_supervisor, install_runtime, run_config
from stateline.lifecycle import RetryPolicy
from stateline.nodes import EffectLedger, Gate, ModelProvider, provider_from_env

from ._convert import thread_status, to_view
from ._core import TurnCore
from ._ids import check_id
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
        tracking: bool = True,  # False: no step events (run rows, leases, ledger and recovery stay: see docs)
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
        self.ops: Operations = wire(self, policy=retry_policy, failure_limit=failure_limit, steps=tracking)
        """Lifecycle, run tracking, effect ledger, leases and recovery: participants of every turn."""
        self.core = TurnCore(self)
        """The one admission and execution path (``stateline._core``)."""

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
        if callable(getattr(hook, "on_transition", None)):
            self.ops.lifecycle.add_hook(hook)
        if callable(getattr(hook, "on_effect", None)):
            self.ops.ledger.add_hook(hook)
        from stateline.graphs import HOOK_METHODS

        if any(callable(getattr(hook, m, None)) for m in HOOK_METHODS):
            self.hooks.add(hook)
        elif not callable(getattr(hook, "on_transition", None)) and not callable(getattr(hook, "on_effect", None)):
            self.hooks.add(hook)  # raises SetupError naming the hook methods

    def recover(self, *, thread_id: str | None = None, wait: bool = False, retry_failed: bool = False) -> Any:
        """Finish interrupted work (all threads, or one): a ``lifecycle.RecoveryReport``.

        The same rules every new turn applies first (``Recovery.settle``); see ``docs/architecture.md``.
        """
        if thread_id is not None:
            thread_id = check_id("thread id", thread_id)
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

    # -- running (every entry point goes through the turn core, stateline._core) ----------
    def _config(self, configurable: dict[str, Any]) -> RunnableConfig:
        return run_config(configurable)

    def send(self, thread_id: str, message: str, *, user_id: str | None = None, run_id: str | None = None) -> Turn:
        """Handle one user message in ``thread_id`` and return the agents' replies.

        What happens to the thread's earlier turns is decided by the same rules as
        :meth:`recover` (see ``docs/architecture.md``) and reported in ``Turn.previous``:

        - cut short by a crash, or failed with a transient error: it is finished (or retried)
          first, then this message runs — ``previous="resumed"``; if it fails again,
          :class:`~stateline.errors.TurnNotAcceptedError` and this message is not stored;
        - an effect in doubt: :class:`~stateline.errors.ThreadInDoubtError`, nothing runs
          until ``stateline effects resolve``;
        - failed with a permanent error: the failed turn is rolled back (the thread goes back
          to before its message) and this message starts anew — ``previous="restarted"``;
        - waiting for approval: :class:`~stateline.errors.ThreadStateError`.

        ``run_id`` names the turn's run (default: a fresh id); a queue passes its own, so that
        after a crash it can tell whether the turn was already accepted. A run id that is
        already stored is refused: the same turn is never accepted twice.
        """
        req = self.core.request(thread_id, message=message, user_id=user_id, run_id=run_id, needs_message=True)
        with self.core.leased(req.thread_id) as hold:
            admission = self.core.admit(req)
            assert admission.step is not None
            turn = self.core.invoke(admission.step, release=hold)
        return _with(turn, resumed=admission.previous == "resumed", previous=admission.previous)

    def resume(self, thread_id: str, *, user_id: str | None = None, decision: Any = None) -> Turn:
        """Finish an interrupted or failed turn (``invoke(None)``), or answer a waiting one with ``decision``
        (``{"action": "approve" | "reject" | "edit", "fields": {...}}``)."""
        req = self.core.request(thread_id, decision=decision, user_id=user_id)
        with self.core.leased(req.thread_id) as hold:
            admission = self.core.admit(req)
            if admission.step is None:  # settling finished the unfinished turn
                acted = [a for a in admission.settled if a.run_id]
                return _with(self.core.current_turn(req.thread_id, acted[-1].run_id if acted else ""), resumed=True)
            return self.core.invoke(admission.step, release=hold)

    # -- reading --------------------------------------------------------------
    def status(self, thread_id: str) -> str:
        """new, idle, waiting, interrupted or failed (the detection rules of docs/architecture.md)."""
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
