"""Turn LangGraph objects into stateline records."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langgraph.types import StateSnapshot

from ._records import ChatMessage, ThreadStatus, ThreadView


def to_chat(msg: BaseMessage) -> ChatMessage:
    text = msg.content if isinstance(msg.content, str) else str(msg.content)
    if isinstance(msg, HumanMessage):
        return ChatMessage("user", text)
    if isinstance(msg, AIMessage):
        return ChatMessage("assistant", text, msg.name)
    if isinstance(msg, SystemMessage):
        return ChatMessage("system", text)
    return ChatMessage("tool", text, getattr(msg, "name", None))


def replies_after_last_user(messages: list[BaseMessage]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for msg in reversed(messages):
        if isinstance(msg, HumanMessage):
            break
        out.append(to_chat(msg))
    return list(reversed(out))


def _all_tasks(snapshot: StateSnapshot) -> list[Any]:
    tasks = list(snapshot.tasks)
    for task in snapshot.tasks:
        if isinstance(task.state, StateSnapshot):
            tasks.extend(_all_tasks(task.state))
    return tasks


def thread_status(snapshot: StateSnapshot) -> ThreadStatus:
    """The detection rules of docs/architecture.md, in order.

    After a hard crash ``next`` can be empty while ``tasks`` is not, so tasks decide.
    """
    if snapshot.metadata is None:
        return "new"
    tasks = _all_tasks(snapshot)
    if snapshot.interrupts or any(t.interrupts for t in tasks):
        return "waiting"
    if any(t.error for t in tasks):
        return "failed"
    if snapshot.tasks:
        return "interrupted"
    return "idle"


def interrupt_value(snapshot: StateSnapshot) -> Any:
    for task in _all_tasks(snapshot):
        for intr in task.interrupts:
            return intr.value
    return snapshot.interrupts[0].value if snapshot.interrupts else None


def to_view(thread_id: str, snapshot: StateSnapshot, user_id: str | None) -> ThreadView:
    values = dict(snapshot.values or {})
    messages = tuple(to_chat(m) for m in values.pop("messages", []) or [])
    tasks = _all_tasks(snapshot)
    return ThreadView(
        thread_id=thread_id,
        status=thread_status(snapshot),
        active_agent=values.pop("active_agent", None),
        drafts={k: v for k, v in (values.pop("drafts", None) or {}).items() if v},
        messages=messages,
        next=tuple(snapshot.next),
        pending=tuple(t.name for t in snapshot.tasks),
        errors=tuple(str(t.error) for t in tasks if t.error),
        interrupt=interrupt_value(snapshot),
        checkpoint_id=(snapshot.config.get("configurable") or {}).get("checkpoint_id"),
        user_id=user_id,
        extra=values,
    )


def checkpoint_row(snapshot: StateSnapshot) -> dict[str, Any]:
    """One checkpoint of a thread's history, as `threads history` and the HTTP API show it."""
    return {
        "checkpoint_id": snapshot.config["configurable"]["checkpoint_id"],
        "step": (snapshot.metadata or {}).get("step"),
        "source": (snapshot.metadata or {}).get("source"),
        "next": list(snapshot.next),
        "messages": len((snapshot.values or {}).get("messages") or []),
        "created_at": snapshot.created_at,
    }
