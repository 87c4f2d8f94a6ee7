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

from ._agent_nodes import last_question, latest_user_text
from ._intent import is_cancel, is_no, is_yes
from ._router import score_agent
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


def _conversation_move(state: ConversationState, text: str, active: str | None) -> bool:
    """A cancel, or a yes/no to the active agent's confirmation: that agent takes it, no model asked."""
    if active is None:
        return False
    if is_cancel(text):
        return True
    return (state.get("confirming") or {}).get(active) == "asked" and (is_yes(text) or is_no(text))


CLEAR_SCORE = 3.0
"""A keyword score this high (the agent's name, or three of its signals) routes without a model."""


def clear_signal(text: str, available: Sequence[AgentCard]) -> str | None:
    """The one agent a message signals beyond doubt by the offline rules, else None.

    A model router is still asked for everything else; this only spares it (and its
    latency) the messages that name an agent outright ("back to the listing", "list a
    product: title ..., price ..."), which a small model gets wrong surprisingly often.
    """
    scores = sorted(((score_agent(c, text), c.name) for c in available), reverse=True)
    if not scores or scores[0][0] < CLEAR_SCORE:
        return None
    if len(scores) > 1 and scores[0][0] - scores[1][0] < 1.0:
        return None
    return scores[0][1]


def _decide(
    state: ConversationState, provider: ModelProvider, text: str, available: Sequence[AgentCard], active: str | None
) -> tuple[str | None, dict[str, Any]]:
    """The agent for the message, and any fields extracted on the way (one model call)."""
    clear = clear_signal(text, available)
    if clear is not None and clear != active:
        return clear, {}  # the message names it outright: no routing call (its collect extracts)
    card = next((c for c in available if c.name == active), None)
    joint = getattr(provider, "route_extract", None)
    if card is not None and card.schema is not None and callable(joint):
        drafts = state.get("drafts") or {}
        asked = (state.get("asked") or {}).get(card.name) or []
        decision, fields = joint(
            text, available, active=card.name, schema=card.schema, draft=dict(drafts.get(card.name) or {}),
            asked=list(asked), question=last_question(state, card.name),
        )
        extra = {"prefill": {card.name: {"text": text, "fields": fields}}} if fields is not None else {}
        return decision.agent, extra
    return provider.route(text, available, active=active).agent, {}


def make_route(
    cards: Callable[[], Sequence[AgentCard]], provider: ModelProvider, gate: Gate | None = None
) -> Callable[..., Command]:
    """``route``: classify the latest message and hand it to an agent (or the fallback).

    It records nothing about the chosen agent: the agent's own ``collect`` sets
    ``active_agent`` and the trail, so a turn that fails after routing leaves the thread
    with the agent it had (the next message does not stick to a failed route). A message
    to an agent that may not take work is kept for it (``held``) and said so.
    """

    def route(state: ConversationState) -> Command:
        available = list(cards())
        names = {c.name for c in available}
        active = state.get("active_agent")
        if active not in names:
            active = _resumable_agent(state, names)
        text = latest_user_text(state)
        extra: dict[str, Any] = {}
        if _conversation_move(state, text, active):
            target: str | None = active
        else:
            target, extra = _decide(state, provider, text, available, active)
        target = target if target in names else None
        if target is None:
            return Command(goto=FALLBACK, update={"active_agent": active})
        refusal = gate(target) if gate is not None else None
        if refusal:
            held = [*((state.get("held") or {}).get(target) or []), text]
            note = f"{refusal} I kept your message for it: {target} will read it when it next takes a message."
            msg = AIMessage(speak(SUPERVISOR, note), name=SUPERVISOR)
            return Command(goto="__end__", update={"messages": [msg], "held": {target: held}})
        return Command(goto=target, update=extra) if extra else Command(goto=target)

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
