"""What an agent's ``act`` function receives besides its validated model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from langgraph.store.base import BaseStore

USER_NAMESPACE = "users"
THREAD_NAMESPACE = "threads"
"""Memory of an anonymous conversation (no user id) lives under (THREAD_NAMESPACE, thread id)."""


@dataclass(frozen=True)
class EffectKey:
    """Identifies one side effect: stable when a node re-runs after a crash, unique per turn."""

    thread_id: str
    """The conversation."""
    scope: str
    """Checkpoint namespace and step of the ``act`` execution (the task id is in the namespace)."""
    name: str
    """The effect's name within ``act``, numbered when repeated (``publish#2``)."""


class EffectLedger(Protocol):
    """Runs a side effect at most once per key (see ``lifecycle`` for the durable ledger)."""

    def perform(
        self, *, key: EffectKey, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any: ...


class DirectEffects:
    """No ledger: run every effect each time (at-least-once). Used when nothing durable is wired."""

    def perform(
        self, *, key: EffectKey, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        return fn(*args, **kwargs)


@dataclass
class ActContext:
    """The conversation an action runs in, its side-effect ledger and the user's memory."""

    agent: str
    """The acting agent."""
    thread_id: str
    """The conversation."""
    user_id: str | None
    """Who is talking (None when anonymous)."""
    run_id: str | None
    """The tracked run this action belongs to."""
    scope: str
    """Checkpoint namespace and step; part of every effect key."""
    store: BaseStore | None = None
    """Cross-thread memory (LangGraph store), when the graph has one."""
    ledger: EffectLedger = field(default_factory=DirectEffects)
    """Where effects are recorded."""
    tools: tuple[Any, ...] = ()
    """The agent's LangChain tools, for :meth:`use_tools`."""
    model: Any = None
    """The provider's chat model (None offline), for :meth:`use_tools`."""
    _counts: dict[str, int] = field(default_factory=dict)

    def effect(self, name: str, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn(*args, **kwargs)`` as the side effect ``name``, exactly once per turn.

        With the durable ledger, a re-run of ``act`` after a crash returns the recorded
        result instead of running ``fn`` again.
        """
        n = self._counts.get(name, 0) + 1
        self._counts[name] = n
        key = EffectKey(self.thread_id, self.scope, name if n == 1 else f"{name}#{n}")
        return self.ledger.perform(key=key, fn=fn, args=args, kwargs=kwargs)

    def use_tools(self, instruction: str, *, system: str = "", max_steps: int = 4) -> str:
        """Ask the model ``instruction`` with the agent's tools; each tool call is an :meth:`effect`."""
        from ._plugin import run_tool_loop

        return run_tool_loop(self, self.model, self.tools, instruction, system=system, max_steps=max_steps)

    def stable_id(self, name: str) -> str:
        """An id for ``name`` that is the same when ``act`` re-runs after a crash (idempotency key)."""
        import hashlib

        return hashlib.sha256(f"{self.thread_id}|{self.scope}|{name}".encode()).hexdigest()[:16]

    def _namespace(self) -> tuple[str, ...]:
        # anonymous conversations do not share memory: without a user id it is this thread's
        if self.user_id:
            return (USER_NAMESPACE, self.user_id)
        return (THREAD_NAMESPACE, self.thread_id)

    def recall(self, key: str, default: Any = None) -> Any:
        """The user's remembered value ``key`` (across all their conversations; without a
        user id, only this conversation's)."""
        if self.store is None:
            return default
        item = self.store.get(self._namespace(), key)
        return default if item is None else item.value.get("value", default)

    def remember(self, key: str, value: Any) -> None:
        """Remember ``value`` under ``key`` for this user, across conversations and restarts."""
        if self.store is not None:
            self.store.put(self._namespace(), key, {"value": value})
