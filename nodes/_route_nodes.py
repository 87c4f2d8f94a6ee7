"""Supervisor nodes: ``route`` (intent -> ``Command(goto=agent)``) and ``fallback``.

Routing lives in a node, never in a conditional-edge function: an exception raised
in an edge function leaves a thread that ``invoke(None)`` cannot resume
(LangGraph #8834), while a failed node is an ordinary resumable task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.types import Command

from ._agent_nodes import latest_user_text
from ._provider import AgentCard, ModelProvider
from ._speak import speak, speak_stream
from ._state import ConversationState

FALLBACK = "fallback"
SUPERVISOR = "supervisor"

Gate = Callable[[str], str | None]
"""Given an agent name, None if it may take work, else a sentence saying why not."""


def _resumable_agent(state: ConversationState, names: set[str]) -> str | None:
    """The most recent agent that still holds an unfinished draft (to come back to)."""
    drafts = state.get("drafts") or {}
    for name in reversed(state.get("trail") or []):
        if name in names and drafts.get(name):
            return name
    return None


def make_route(
    cards: Callable[[], Sequence[AgentCard]], provider: ModelProvider, gate: Gate | None = None
) -> Callable[..., Command]:
    """``route``: classify the latest message and hand it to an agent (or the fallback)."""

    def route(state: ConversationState) -> Command:
        available = list(cards())
        names = {c.name for c in available}
        active = state.get("active_agent")
        if active not in names:
            active = _resumable_agent(state, names)
        decision = provider.route(latest_user_text(state), available, active=active)
        target = decision.agent if decision.agent in names else None
        if target is None:
            return Command(goto=FALLBACK, update={"active_agent": active})
        refusal = gate(target) if gate is not None else None
        if refusal:
            msg = AIMessage(speak(SUPERVISOR, refusal), name=SUPERVISOR)
            return Command(goto="__end__", update={"messages": [msg]})
        trail = [n for n in (state.get("trail") or []) if n != target] + [target]
        return Command(goto=target, update={"active_agent": target, "trail": trail})

    return route


def capabilities(cards: Sequence[AgentCard]) -> str:
    """One line per agent: what it can do."""
    return "\n".join(f"- {c.name}: {c.description}" for c in cards)


def make_fallback(cards: Callable[[], Sequence[AgentCard]], provider: ModelProvider) -> Callable[..., dict]:
    """``fallback``: a message no agent handles gets a helpful answer listing what the agents do."""

    def fallback(state: ConversationState) -> dict[str, Any]:
        available = list(cards())
        facts = (
            "I can't help with that directly. Here is what I can do:\n" + capabilities(available)
            if available
            else "No agents are available right now."
        )
        instruction = "Explain briefly that the request is out of scope and list the options."
        text = speak_stream(SUPERVISOR, provider.stream_reply(instruction, facts))
        if available and not all(c.name in text for c in available):
            # a model's answer must still list every agent
            text += speak(SUPERVISOR, f"\n{capabilities(available)}")
        return {"messages": [AIMessage(text, name=SUPERVISOR)]}

    return fallback
