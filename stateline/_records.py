"""Typed records the public API returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ThreadStatus = Literal["new", "idle", "waiting", "interrupted", "failed"]
"""new: nothing stored; idle: last turn finished; waiting: on a person (interrupt);
interrupted: unfinished tasks (a crash); failed: a node raised."""

TurnStatus = Literal["completed", "waiting", "failed"]


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation, flattened for display."""

    role: Literal["user", "assistant", "system", "tool"]
    """Who spoke."""
    text: str
    """What they said."""
    agent: str | None = None
    """The agent that wrote an assistant message."""


@dataclass(frozen=True)
class Turn:
    """The outcome of one user message."""

    thread_id: str
    """The conversation."""
    run_id: str
    """The tracked run of this turn."""
    status: TurnStatus
    """completed, waiting (for approval) or failed."""
    replies: tuple[ChatMessage, ...]
    """What the agents answered, in order."""
    agent: str | None
    """The agent that handled the message (None: the fallback answered)."""
    interrupt: Any = None
    """What a waiting thread asks a person (the draft to approve)."""
    resumed: bool = False
    """True if an interrupted earlier turn was finished before this message was handled."""
    previous: Literal["resumed", "restarted"] | None = None
    """What happened to the thread's previous turn: ``resumed`` (a crash cut it short; it was
    finished first) or ``restarted`` (it had failed; this message started over from START and
    the failed turn was abandoned). None when the previous turn had finished normally."""

    @property
    def reply(self) -> str:
        """All replies as one text."""
        return "\n".join(m.text for m in self.replies)


@dataclass(frozen=True)
class ThreadView:
    """A thread's current state, as `threads show` prints it."""

    thread_id: str
    """The conversation."""
    status: ThreadStatus
    """See :data:`ThreadStatus`."""
    active_agent: str | None
    """The agent still collecting, if any."""
    drafts: dict[str, dict[str, Any]]
    """Per agent, the fields collected so far."""
    messages: tuple[ChatMessage, ...]
    """The whole conversation."""
    next: tuple[str, ...] = ()
    """Nodes LangGraph would run next."""
    pending: tuple[str, ...] = ()
    """Names of unfinished tasks (non-empty after a crash even when ``next`` is empty)."""
    errors: tuple[str, ...] = ()
    """Errors of failed tasks."""
    interrupt: Any = None
    """What the thread is waiting for, if waiting."""
    checkpoint_id: str | None = None
    """The head checkpoint."""
    user_id: str | None = None
    """The owner, from the thread index."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Other values in the state."""
