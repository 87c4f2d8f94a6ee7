"""The conversation state every supervisor and agent graph shares."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage

from ._messages import append_messages


def merge_dicts(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: keys in ``new`` replace those in ``old`` (so one agent's entry never clobbers another's)."""
    return {**(old or {}), **(new or {})}


class ConversationState(TypedDict, total=False):
    """One thread's checkpointed state."""

    messages: Annotated[list[AnyMessage], append_messages]
    """The conversation, user and agent turns (merged as ``add_messages`` does: see ``_messages``)."""
    drafts: Annotated[dict[str, dict[str, Any]], merge_dicts]
    """Per agent, the fields collected so far (kept across agent switches)."""
    asked: Annotated[dict[str, list[str]], merge_dicts]
    """Per agent, the fields its last question asked for."""
    active_agent: str | None
    """The agent still collecting, which keeps the next message unless another is clearly asked for."""
    trail: list[str]
    """Agents in the order they last took a message (most recent last)."""
    results: Annotated[dict[str, Any], merge_dicts]
    """Per agent, the reply of its last completed action."""
    confirming: Annotated[dict[str, str], merge_dicts]
    """Per agent: ``asked`` when it showed the values and waits for "yes", ``yes`` once confirmed."""
    prefill: Annotated[dict[str, Any], merge_dicts]
    """Per agent, fields the route step already extracted from the message (one model call)."""
    held: Annotated[dict[str, list[str]], merge_dicts]
    """Per agent, messages sent to it while it could not take work, used when it next runs."""
    versions: Annotated[dict[str, int], merge_dicts]
    """Per agent, the schema version its stored draft was written under."""
