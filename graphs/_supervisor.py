"""The supervisor graph: ``route`` hands each message to an agent subgraph or the fallback."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command
from stateline.errors import SetupError
from stateline.nodes import (
    FALLBACK,
    ConversationState,
    EffectLedger,
    Gate,
    ModelProvider,
    OfflineProvider,
    make_fallback,
    make_route,
)

from ._agent import EDGES, Agent, _adapt, agent_nodes, build_agent_graph
from ._direct import DirectAgent
from ._hooks import HookSet, instrument
from ._registry import AgentRegistry
from ._runtime import supported, transient_config

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

    ``gate`` tells the route node which agents may take work (the lifecycle plugs in here).
    Drafts live in the thread's (supervisor's) state. Agent subgraphs store no checkpoints
    of their own (see :func:`_agent_node`), except approval agents, which interrupt.
    """
    if not isinstance(registry, AgentRegistry):
        raise SetupError(f"build_supervisor needs an AgentRegistry, got {type(registry).__name__}")
    provider = provider or OfflineProvider()
    hooks = hooks or HookSet()
    agents = registry.list()
    def cards() -> list[Any]:
        return [a.card() for a in agents]

    route = _reporting_switches(make_route(cards, provider, gate), hooks)
    builder = StateGraph(ConversationState)
    builder.add_node(
        "route", instrument(SUPERVISOR_GRAPH, "route", _adapt(route), hooks),
        destinations=tuple(a.name for a in agents) + (FALLBACK, END),
    )
    builder.add_node(FALLBACK, instrument(SUPERVISOR_GRAPH, FALLBACK, _adapt(make_fallback(cards, provider)), hooks))
    for agent in agents:
        builder.add_node(agent.name, _agent_node(agent, provider=provider, hooks=hooks, ledger=ledger))
        builder.add_edge(agent.name, END)
    builder.add_edge(START, "route")
    builder.add_edge(FALLBACK, END)
    return builder.compile(checkpointer=checkpointer, store=store, name=SUPERVISOR_GRAPH)


def _agent_node(agent: Agent, *, provider: ModelProvider, hooks: HookSet, ledger: EffectLedger | None) -> Any:
    """The supervisor's node for ``agent``: its subgraph, or its nodes run in the node's task.

    An approval agent's subgraph inherits the supervisor's saver: ``interrupt()`` in
    ``validate`` resumes from the subgraph's own checkpoint; a plug-in graph runs as the
    graph it is. Any other agent stores no checkpoints of its own: its namespace is new
    every turn, so its checkpoints would store the whole conversation again per turn (its
    input and ``messages``), more than half the cost of a turn. Nothing is lost by it: the
    supervisor checkpoints before the agent starts and after it finishes, a crash inside
    re-runs the agent task from ``collect`` (nodes are at-least-once) and ``act``'s effects
    keep a key that is the same on the re-run (``make_act``), so the ledger still runs
    each once. Such an agent's nodes run one after the other in the supervisor's task
    (:class:`~graphs._direct.DirectAgent`), not as a second LangGraph run: the same
    functions, reducers and hooks, a third less CPU per turn.
    """
    if agent.approval or not supported():  # another langgraph: see graphs._runtime
        return build_agent_graph(agent, provider=provider, hooks=hooks, ledger=ledger)
    if agent.graph is not None:  # a plug-in graph: its own LangGraph run, storing nothing
        graph = build_agent_graph(agent, provider=provider, hooks=hooks, ledger=ledger, checkpointer=False)

        def run_plugin(state: ConversationState, config: RunnableConfig) -> Any:
            given = agent_view(state)
            return changes(given, graph.invoke(given, transient_config(config)))

        run_plugin.__name__ = agent.name
        return run_plugin
    direct = DirectAgent(agent.name, agent_nodes(agent, provider=provider, hooks=hooks, ledger=ledger,
                                                 checkpointed=False), EDGES)

    def run_agent(state: ConversationState, config: RunnableConfig, runtime: Runtime) -> Any:
        given = agent_view(state)
        return changes(given, direct.invoke(given, config, runtime))

    run_agent.__name__ = agent.name
    return run_agent


def agent_view(state: ConversationState) -> dict[str, Any]:
    """The state an agent's run is handed: every channel, but of ``messages`` only the newest
    human message and what follows it.

    ``collect``, ``validate`` and ``act`` read the drafts, the fields asked for and the
    latest user text (``nodes.latest_user_text``), nothing older. Handing the agent the
    whole conversation made its run merge it with ``add_messages`` (input, each node's
    reply) and copy it once per merge: work that grew with the thread, on every turn.
    The reply still lands in the thread's full list: :func:`changes` returns only the
    messages the agent appended, which the supervisor's reducer adds after the rest.
    """
    messages = state.get("messages") or []
    start = len(messages)
    while start > 0:
        start -= 1
        if isinstance(messages[start], HumanMessage):
            break
    return {**state, "messages": messages[start:]}


def changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """What an agent's run changed: its final state minus what it was given.

    A subgraph returns its whole state; written back as is, every channel of the
    supervisor gets a new version (stored again at the next checkpoint) and
    ``add_messages`` re-merges the whole conversation. Messages appended after the given
    ones come back alone; any other change to the list (a message replaced or removed)
    returns the whole list, as the subgraph node did before.
    """
    out = {k: v for k, v in after.items() if k != "messages" and (k not in before or not _same(before[k], v))}
    old, new = before.get("messages") or [], after.get("messages")
    if new is not None and new is not old:
        n = len(old)
        same_start = len(new) >= n and all(a is b for a, b in zip(old, new[:n], strict=True))
        if not same_start or len(new) > n:
            out["messages"] = new[n:] if same_start else new
    return out


def _same(a: Any, b: Any) -> bool:
    """``a == b``, and False where comparing raises (e.g. arrays): then the value is written."""
    try:
        return a is b or bool(a == b)
    except Exception:  # noqa: BLE001
        return False


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
