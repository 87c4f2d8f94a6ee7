"""Define an agent in a few lines, and build its ``collect -> validate -> act`` graph."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from pydantic import BaseModel

from stateline.nodes import (
    AgentCard,
    ConversationState,
    EffectLedger,
    ModelProvider,
    OfflineProvider,
    make_act,
    make_collect,
    make_plugin_node,
    make_validate,
)
from stateline.errors import AgentDefinitionError

from ._hooks import HookSet, instrument

RESERVED_NAMES = frozenset({"route", "fallback", "supervisor", "__start__", "__end__"})
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class Agent:
    """An agent: what it collects (``schema``) and what it does once that is valid (``act``)."""

    name: str
    """Unique registry name: lowercase letters, digits, ``_`` or ``-``."""
    description: str
    """One sentence saying what it does; shown to users and routers."""
    intents: Sequence[str]
    """Intent labels it handles, e.g. ``("create_listing",)``."""
    schema: type[BaseModel] | None = None
    """The pydantic model of the fields it must collect (not needed with ``graph``)."""
    act: Callable[..., Any] | None = None
    """``act(model)`` or ``act(model, ctx)``, plain or ``async def``; returns the reply text."""
    keywords: Sequence[str] = ()
    """Extra words that point the offline router to it."""
    approval: bool = False
    """Pause for a person's approval (``interrupt()``) before ``act``."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """Free-form data for the application."""
    confirm: bool | None = None
    """Show the values and act only on "yes"; None: on when a model provider fills the draft."""
    tools: Sequence[Any] = ()
    """LangChain tools ``act`` may let the model call via ``ctx.use_tools(...)`` (each call is an effect)."""
    graph: Any = None
    """Any compiled LangGraph graph taking and returning ``{"messages": [...]}``, run instead of collect/act."""
    version: int = 1
    """The schema's version; a draft stored under another one is migrated when the thread goes on."""
    migrate: Callable[[dict[str, Any], int], dict[str, Any]] | None = None
    """``migrate(old_draft, old_version) -> draft`` for renamed or retyped fields (else: defaults)."""

    def __post_init__(self) -> None:
        if isinstance(self.intents, str):
            raise AgentDefinitionError(
                self.name, "intents", f"must be a list of labels, e.g. intents=[{self.intents!r}], not a string"
            )
        object.__setattr__(self, "intents", tuple(self.intents or ()))
        object.__setattr__(self, "keywords", tuple(self.keywords))
        object.__setattr__(self, "tools", tuple(self.tools or ()))
        _check_definition(self)

    def card(self) -> AgentCard:
        """What routers see of this agent."""
        fields = tuple(self.schema.model_fields) if self.schema is not None else ()
        return AgentCard(
            self.name, self.description, tuple(self.intents), tuple(self.keywords), fields, schema=self.schema
        )


def _check_definition(agent: Agent) -> None:
    name = agent.name if isinstance(agent.name, str) else None
    if not isinstance(agent.name, str) or not agent.name.strip():
        raise AgentDefinitionError(None, "name", "must be a non-empty string, e.g. name='listing'")
    if not _NAME.match(agent.name) or agent.name in RESERVED_NAMES:
        raise AgentDefinitionError(
            name,
            "name",
            "use lowercase letters, digits, '_' or '-', starting with a letter, "
            f"and none of {', '.join(sorted(RESERVED_NAMES))}",
        )
    if not isinstance(agent.description, str) or not agent.description.strip():
        raise AgentDefinitionError(name, "description", "must be one non-empty sentence saying what the agent does")
    if not agent.intents or not all(isinstance(i, str) and i.strip() for i in agent.intents):
        raise AgentDefinitionError(name, "intents", "give at least one non-empty intent label, e.g. intents=['sell']")
    if agent.graph is not None:
        if not callable(getattr(agent.graph, "invoke", None)):
            raise AgentDefinitionError(name, "graph", "must be a compiled LangGraph graph (StateGraph(...).compile())")
        return
    if not (isinstance(agent.schema, type) and issubclass(agent.schema, BaseModel)):
        raise AgentDefinitionError(
            name, "schema", f"must be a pydantic BaseModel subclass, got {agent.schema!r}"
        )
    if not callable(agent.act):
        raise AgentDefinitionError(name, "act", "must be a function act(model) or act(model, ctx)")
    _check_arity(name, agent.act)
    if not isinstance(agent.version, int) or agent.version < 1:
        raise AgentDefinitionError(name, "version", "must be a whole number >= 1")
    if agent.migrate is not None and not callable(agent.migrate):
        raise AgentDefinitionError(name, "migrate", "must be a function migrate(old_draft, old_version) -> draft")
    for tool in agent.tools:
        if not (getattr(tool, "name", None) and callable(getattr(tool, "invoke", None))):
            raise AgentDefinitionError(name, "tools", f"{tool!r} is not a LangChain tool (use @tool or StructuredTool)")


def _check_arity(name: str, act: Callable[..., Any]) -> None:
    """``act`` must take the model, and optionally ``ctx``: one or two positional arguments."""
    import inspect

    try:
        params = list(inspect.signature(act).parameters.values())
    except (TypeError, ValueError):
        return  # a builtin without a signature: trust it
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    star = any(p.kind is p.VAR_POSITIONAL for p in params)
    kw_required = [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.default is p.empty]
    if kw_required or len(required) > 2 or (not positional and not star):
        raise AgentDefinitionError(
            name, "act", f"takes {inspect.signature(act)}; it must be act(model) or act(model, ctx)"
        )


def build_agent_graph(
    agent: Agent,
    *,
    provider: ModelProvider | None = None,
    hooks: HookSet | None = None,
    ledger: EffectLedger | None = None,
    checkpointer: Any = None,
) -> CompiledStateGraph:
    """Compile ``agent`` into the graph ``collect -> validate -> (act | ask and end)``.

    Inside a supervisor, ``checkpointer=None`` checkpoints into the parent's saver under
    the subgraph's own namespace (a crash inside ``act`` resumes at ``act``); ``False``
    stores nothing (a crash re-runs the whole agent) and keys ``act``'s effects so that
    they stay the same on that re-run.
    """
    if not isinstance(agent, Agent):
        raise AgentDefinitionError(None, "agent", f"expected an Agent, got {type(agent).__name__}")
    provider = provider or OfflineProvider()
    hooks = hooks or HookSet()
    if agent.graph is not None:
        return _plugin_graph(agent, hooks, checkpointer)
    nodes = agent_nodes(agent, provider=provider, hooks=hooks, ledger=ledger, checkpointed=checkpointer is not False)
    builder = StateGraph(ConversationState)
    for node, fn in nodes.items():
        if node in DESTINATIONS:
            builder.add_node(node, fn, destinations=DESTINATIONS[node])
        else:
            builder.add_node(node, fn)
    builder.add_edge(START, "collect")
    for node, target in EDGES.items():
        builder.add_edge(node, target)
    return builder.compile(checkpointer=checkpointer, name=agent.name)


DESTINATIONS: dict[str, tuple[str, ...]] = {"collect": ("validate", END), "validate": ("act", "validate", END)}
"""Where each node's ``Command`` may go."""
EDGES = {"act": END}
"""Static edges: a node returning a plain dict goes here."""


def agent_nodes(
    agent: Agent, *, provider: ModelProvider, hooks: HookSet, ledger: EffectLedger | None, checkpointed: bool
) -> dict[str, Callable[..., Any]]:
    """``agent``'s instrumented node functions ``(state, config, runtime)``, by node name.

    ``checkpointed=False``: the nodes run without checkpoints of their own (``act`` keys its
    effects so that a re-run of the whole agent keeps them: see ``nodes.make_act``).
    """
    assert agent.schema is not None and agent.act is not None  # checked at definition
    confirm = agent.confirm if agent.confirm is not None else getattr(provider, "name", "offline") != "offline"
    nodes = {
        "collect": make_collect(agent.name, agent.schema, provider, version=agent.version, migrate=agent.migrate),
        "validate": make_validate(
            agent.name, agent.schema, agent.description, approval=agent.approval, confirm=confirm
        ),
        "act": make_act(
            agent.name, agent.schema, agent.act, ledger, checkpointed=checkpointed,
            tools=agent.tools, chat_model=getattr(provider, "chat_model", None),
        ),
    }
    return {node: instrument(agent.name, node, _adapt(fn), hooks) for node, fn in nodes.items()}


def _plugin_graph(agent: Agent, hooks: HookSet, checkpointer: Any) -> CompiledStateGraph:
    """A compiled graph registered as an agent: one tracked node ``run`` around it."""
    run = make_plugin_node(agent.name, agent.graph)
    builder = StateGraph(ConversationState)
    builder.add_node("run", instrument(agent.name, "run", _adapt(run), hooks))
    builder.add_edge(START, "run")
    builder.add_edge("run", END)
    return builder.compile(checkpointer=checkpointer, name=agent.name)


def _adapt(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Call a node factory's function with just the arguments it declares."""
    import inspect

    params = inspect.signature(fn).parameters
    wants_config, wants_runtime = "config" in params, "runtime" in params

    def call(state: Any, config: Any, runtime: Any) -> Any:
        kwargs: dict[str, Any] = {}
        if wants_config:
            kwargs["config"] = config
        if wants_runtime:
            kwargs["runtime"] = runtime
        return fn(state, **kwargs)

    return call
