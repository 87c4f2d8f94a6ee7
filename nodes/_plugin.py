"""Agents beyond forms: a model with LangChain tools inside ``act``, and any compiled graph as an agent.

**Tools.** ``Agent(tools=[...])`` gives ``act``'s ``ctx.use_tools(instruction)``: the
provider's chat model is bound to the tools and asked the instruction; each tool call it
makes runs through ``ctx.effect("tool:<name>", ...)``, so the effect ledger runs it at most
once per turn (a re-run after a crash returns the recorded result; an unknown outcome is
reported in doubt). The loop stops when the model answers in words, or after
``max_steps`` rounds of tool calls.

**Graphs.** ``Agent(graph=compiled)`` registers any compiled LangGraph graph: the agent's
node invokes it with ``{"messages": <the conversation>}`` and appends the AI messages it
adds, named after the agent. If its final state has ``"stateline_active": True``, the agent
keeps the conversation for the next message (it is still collecting). It runs as a node
of the supervisor, so it gets run tracking, lifecycle gating and recovery like any agent
(a crash inside re-runs it: keep its side effects idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from stateline.errors import ModelProviderError

from ._speak import speak
from ._state import ConversationState

ACTIVE_KEY = "stateline_active"


def run_tool_loop(
    ctx: Any, model: Any, tools: Sequence[Any], instruction: str, *, system: str = "", max_steps: int = 4
) -> str:
    """Let ``model`` answer ``instruction`` with ``tools``; every tool call is one of ``ctx``'s effects."""
    if model is None:
        raise ModelProviderError(
            f"agent {ctx.agent!r} uses tools, which need a model: set STATELINE_OPENAI_BASE_URL or OPENAI_API_KEY"
        )
    if not tools:
        raise ModelProviderError(f"agent {ctx.agent!r} called use_tools but was defined without tools=[...]")
    by_name = {t.name: t for t in tools}
    bound = model.bind_tools(list(tools))
    messages: list[Any] = [SystemMessage(system or "Use the tools to do what the user asks, then answer briefly.")]
    messages.append(HumanMessage(instruction))
    for _ in range(max_steps):
        try:
            answer = bound.invoke(messages)
        except Exception as exc:
            raise ModelProviderError(f"tool-using model call failed ({type(exc).__name__}): {exc}") from exc
        messages.append(answer)
        calls = getattr(answer, "tool_calls", None) or []
        if not calls:
            return str(answer.content)
        for call in calls:
            tool = by_name.get(call["name"])
            result = (
                ctx.effect(f"tool:{call['name']}", tool.invoke, dict(call.get("args") or {}))
                if tool is not None else f"there is no tool named {call['name']!r}"
            )
            messages.append(ToolMessage(str(result), tool_call_id=call.get("id") or call["name"]))
    return str(messages[-1].content) if isinstance(messages[-1], AIMessage) else "Done."


def make_plugin_node(agent: str, graph: Any) -> Callable[..., dict[str, Any]]:
    """The node that runs a compiled graph as the agent ``agent`` (see the module docstring)."""

    def run(state: ConversationState, config: RunnableConfig) -> dict[str, Any]:
        given = list(state.get("messages") or [])
        sub_config: dict[str, Any] = {"configurable": dict(config.get("configurable") or {}),
                                      "callbacks": config.get("callbacks")}
        out = graph.invoke({"messages": given}, sub_config)
        produced = list((out or {}).get("messages") or [])[len(given):]
        replies = []
        for msg in produced:
            if isinstance(msg, AIMessage) and msg.content and not getattr(msg, "tool_calls", None):
                replies.append(AIMessage(speak(agent, str(msg.content)), name=agent))
        if not replies:
            replies.append(AIMessage(speak(agent, "Done."), name=agent))
        active = bool((out or {}).get(ACTIVE_KEY))
        trail = [n for n in (state.get("trail") or []) if n != agent] + [agent]
        return {"messages": replies, "active_agent": agent if active else None, "trail": trail,
                "results": {agent: str(replies[-1].content)}}

    return run
