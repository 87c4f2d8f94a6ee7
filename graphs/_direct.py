"""Run an agent's ``collect -> validate -> act`` nodes inside the supervisor's task, without a second LangGraph run.

An agent that stores no checkpoints of its own (every agent but approval agents and
plug-in graphs, see ``_supervisor._agent_node``) gains nothing from running as a nested
Pregel loop: its namespace is new every turn, nothing of it is stored, a crash re-runs
the whole agent task from the supervisor's stored checkpoint. Yet the loop was about a
third of a turn's CPU (channels, task preparation, writes, a config per task, for three
nodes in a line). :class:`DirectAgent` runs the same node functions in the same order,
applying their updates with the reducers ``ConversationState`` declares, as LangGraph
would:

- a node returning a dict follows its static edge (``act -> END``), one returning a
  ``Command`` goes where ``goto`` says and applies ``update`` first;
- the input is written through the reducers too (as ``invoke(input)`` does);
- each node gets the metadata LangGraph gives a task of a subgraph (``langgraph_step``,
  ``langgraph_node``, ``langgraph_checkpoint_ns`` = ``<agent task ns>|<node>:<id>``),
  so ``act``'s effect scope is the one it had under the nested run (``effect_scope``);
- with ``recursion_limit`` steps exhausted it raises ``GraphRecursionError``;
- a streamed run sees the inner tasks as ``custom`` items (:data:`TASK`) carrying what
  LangGraph's ``tasks`` mode would (``id``, ``name``, ``input`` / ``result``, ``error``),
  so the stream adapter reports the action's start and result as before.

Hooks are unchanged: the node functions are the instrumented ones.
"""

from __future__ import annotations

import typing
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphRecursionError
from langgraph.graph import END
from langgraph.types import Command

from stateline.nodes import ConversationState

TASK = "stateline.task"
"""``custom`` stream items of a directly run agent's inner tasks."""


def _reducers(state_type: type) -> dict[str, Callable[[Any, Any], Any] | None]:
    """Per key of ``state_type``: the reducer of an ``Annotated[..., reducer]`` key, or None (last value)."""
    hints = typing.get_type_hints(state_type, include_extras=True)
    out: dict[str, Callable[[Any, Any], Any] | None] = {}
    for key, hint in hints.items():
        meta = getattr(hint, "__metadata__", ())
        out[key] = meta[0] if meta and callable(meta[0]) else None
    return out


REDUCERS = _reducers(ConversationState)


def _empty(key: str) -> Any:
    """The value a reducer key starts from (LangGraph: the annotated type's empty value)."""
    return [] if key == "messages" else {}


def apply(state: dict[str, Any], update: Mapping[str, Any] | None) -> dict[str, Any]:
    """``state`` with ``update`` written through the keys' reducers (a new dict)."""
    if not update:
        return state
    out = dict(state)
    for key, value in update.items():
        reducer = REDUCERS.get(key)
        out[key] = value if reducer is None else reducer(out.get(key, _empty(key)), value)
    return out


@dataclass(frozen=True)
class DirectAgent:
    """An agent's nodes run in order in the calling task (see the module docstring)."""

    name: str
    """The agent (the inner tasks' namespace prefix)."""
    nodes: Mapping[str, Callable[..., Any]]
    """Node name -> the instrumented node function ``(state, config, runtime)``."""
    edges: Mapping[str, str]
    """Static edges: where a node returning a plain dict goes (absent: the run ends)."""
    first: str = "collect"

    def invoke(self, given: Mapping[str, Any], config: RunnableConfig, runtime: Any = None) -> dict[str, Any]:
        """The agent's final state for input ``given`` (as ``CompiledStateGraph.invoke`` returns it)."""
        state = apply({}, given)
        writer = _writer()
        limit = int(config.get("recursion_limit") or 25)
        node, step = self.first, 0
        while node != END:
            if step >= limit:
                raise GraphRecursionError(
                    f"agent {self.name!r} ran {limit} steps without finishing (recursion_limit); "
                    "a node keeps sending the run back to itself"
                )
            task_id = str(uuid.uuid4())
            if writer is not None:
                writer({"kind": TASK, "agent": self.name, "id": task_id, "name": node, "input": state})
            try:
                out = self.nodes[node](state, self._config(config, node, task_id, step), runtime)
            except Exception as exc:
                if writer is not None:
                    writer({"kind": TASK, "agent": self.name, "id": task_id, "name": node, "error": exc})
                raise
            update, goto = _split(out, self.edges.get(node, END))
            if writer is not None:
                writer({"kind": TASK, "agent": self.name, "id": task_id, "name": node, "result": update or {}})
            state = apply(state, update)
            node, step = goto, step + 1
        return state

    @staticmethod
    def _config(config: RunnableConfig, node: str, task_id: str, step: int) -> RunnableConfig:
        meta = dict(config.get("metadata") or {})
        outer = str(meta.get("langgraph_checkpoint_ns") or (config.get("configurable") or {}).get("checkpoint_ns", ""))
        ns = f"{outer}|{node}:{task_id}" if outer else f"{node}:{task_id}"
        meta.update(langgraph_step=step, langgraph_node=node, langgraph_checkpoint_ns=ns)
        return {**config, "metadata": meta}


def _split(out: Any, static: str) -> tuple[Mapping[str, Any] | None, str]:
    """(update, next node) of a node's return value."""
    if isinstance(out, Command):
        goto = out.goto
        if not isinstance(goto, str) or not goto:
            goto = static if not goto else goto
        if not isinstance(goto, str):
            raise TypeError(f"an agent node may go to one node by name, got goto={out.goto!r}")
        update = out.update
        if update is not None and not isinstance(update, Mapping):
            raise TypeError(f"an agent node's Command.update must be a dict, got {type(update).__name__}")
        return update, goto
    if out is not None and not isinstance(out, Mapping):
        raise TypeError(f"an agent node must return a dict or a Command, got {type(out).__name__}")
    return out, static


def _writer() -> Callable[[Any], None] | None:
    """The run's ``custom`` stream writer (a no-op unless it is streamed in that mode); None outside a run."""
    from langgraph.config import get_stream_writer

    try:
        return get_stream_writer()
    except RuntimeError:  # not inside a runnable context (a direct call in a test)
        return None
