"""The supervisor graph: ``route`` hands each message to an agent subgraph or the fallback."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command

from nodes import FALLBACK, ConversationState, EffectLedger, Gate, ModelProvider, OfflineProvider, make_fallback, make_route
from stateline_errors import SetupError

from ._agent import _adapt, build_agent_graph
from ._hooks import HookSet, instrument
from ._registry import AgentRegistry

SUPERVISOR_GRAPH = "supervisor"


def build_supervisor(
    registry: AgentRegistry,
    *,
    provider: ModelProvider | None = None,
    hooks: HookSet | None = None,
    ledger: EffectLedger | None = None,
    gate: Gate | None = None,
    checkpointer: Any = None,
    store: Any = None,
) -> CompiledStateGraph:
    """Compile the supervisor over every agent in ``registry``.

    ``gate`` tells the route node which agents may take work (the lifecycle plugs in here);
    agent subgraphs inherit ``checkpointer``, so their drafts live in the thread's state.
    """
    if not isinstance(registry, AgentRegistry):
        raise SetupError(f"build_supervisor needs an AgentRegistry, got {type(registry).__name__}")
    provider = provider or OfflineProvider()
    hooks = hooks or HookSet()
    agents = registry.list()
    cards = lambda: [a.card() for a in agents]  # noqa: E731 - a tiny closure, read at every turn

    route = _reporting_switches(make_route(cards, provider, gate), hooks)
    builder = StateGraph(ConversationState)
    builder.add_node(
        "route", instrument(SUPERVISOR_GRAPH, "route", _adapt(route), hooks),
        destinations=tuple(a.name for a in agents) + (FALLBACK, END),
    )
    builder.add_node(FALLBACK, instrument(SUPERVISOR_GRAPH, FALLBACK, _adapt(make_fallback(cards, provider)), hooks))
    for agent in agents:
        builder.add_node(agent.name, build_agent_graph(agent, provider=provider, hooks=hooks, ledger=ledger))
        builder.add_edge(agent.name, END)
    builder.add_edge(START, "route")
    builder.add_edge(FALLBACK, END)
    return builder.compile(checkpointer=checkpointer, store=store, name=SUPERVISOR_GRAPH)


def _reporting_switches(route: Any, hooks: HookSet) -> Any:
    """Emit ``agent_switched`` when the route node hands a message to a different agent."""

    def route_and_report(state: ConversationState, config: Any) -> Command:
        command = route(state)
        trail = state.get("trail") or []
        previous = trail[-1] if trail else None
        target = command.goto if isinstance(command.goto, str) else None
        if target and target not in (FALLBACK, END, "__end__") and target != previous:
            configurable = config.get("configurable") or {}
            hooks.emit(
                "agent_switched",
                run_id=configurable.get("run_id"),
                thread_id=str(configurable.get("thread_id", "")),
                from_agent=previous,
                to_agent=target,
            )
        return command

    return route_and_report
