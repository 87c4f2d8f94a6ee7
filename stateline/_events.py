"""The typed event stream of a conversation, and where it is stored.

One pydantic discriminated union (:data:`Event`, keyed by ``type``) describes everything
a client sees during a turn: an agent starting or taking over, reply chunks, the action
(``tool_execution`` / ``tool_result``), a finished agent, errors, the end of the turn, a
thread waiting on a person and a resumed thread.

Every event is stored per thread with an increasing ``offset`` (1, 2, 3, ...) in the same
database as the checkpoints, *before* it is handed to anyone, so a client that comes back
with the last offset it saw (SSE ``Last-Event-ID``) gets exactly what it missed — also
after a server restart. Runs and their steps are stored beside the events, which is what
the run timeline reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from stateline.checkpointing import Database, Migration, now
from stateline.errors import InvalidInputError


class _EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    thread_id: str
    """The conversation."""
    run_id: str | None = None
    """The run (one graph invocation) that produced the event."""
    offset: int | None = None
    """Position in the thread's stream (1, 2, ...); set when the event is stored."""
    ts: float = Field(default_factory=now)
    """When it happened (epoch seconds)."""


class AgentStart(_EventBase):
    """An agent (or the supervisor's fallback, ``agent="supervisor"``) starts handling the turn."""

    type: Literal["agent_start"] = "agent_start"
    agent: str


class AgentSwitch(_EventBase):
    """The supervisor handed the conversation to a different agent than the last one."""

    type: Literal["agent_switch"] = "agent_switch"
    from_agent: str | None
    to_agent: str


class ContentChunk(_EventBase):
    """A piece of a reply; the chunks of one agent, joined, are its message text."""

    type: Literal["content_chunk"] = "content_chunk"
    agent: str
    text: str


class ToolExecution(_EventBase):
    """An agent's action (``act``) starts with its validated fields."""

    type: Literal["tool_execution"] = "tool_execution"
    agent: str
    tool: str
    call_id: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResult(_EventBase):
    """An agent's action finished (``error`` set when it raised)."""

    type: Literal["tool_result"] = "tool_result"
    agent: str
    tool: str
    call_id: str
    output: Any = None
    error: str | None = None
    duration_ms: float | None = None


class AgentComplete(_EventBase):
    """An agent finished its part of the turn; ``text`` is its reply."""

    type: Literal["agent_complete"] = "agent_complete"
    agent: str
    text: str = ""


class ErrorEvent(_EventBase):
    """A node failed or the run could not go on; the thread is resumable."""

    type: Literal["error"] = "error"
    message: str
    error_type: str
    node: str | None = None
    agent: str | None = None


class ConversationEnd(_EventBase):
    """The turn is over: ``completed``, ``waiting`` (for a person) or ``failed``."""

    type: Literal["conversation_end"] = "conversation_end"
    status: Literal["completed", "waiting", "failed"]
    agent: str | None = None


class WaitingInput(_EventBase):
    """The thread waits for a person to approve, reject or edit ``draft``."""

    type: Literal["waiting_input"] = "waiting_input"
    agent: str | None = None
    draft: dict[str, Any] = Field(default_factory=dict)
    question: str = ""
    interrupt_id: str | None = None


class Resumed(_EventBase):
    """A waiting thread got a decision; an unfinished turn is being finished (``recovery``);
    or a failed turn is abandoned and the new message starts from START (``restart``)."""

    type: Literal["resumed"] = "resumed"
    reason: Literal["decision", "recovery", "restart"]
    decision: Any = None
    detail: str = ""


Event = Annotated[
    Union[
        AgentStart, AgentSwitch, ContentChunk, ToolExecution, ToolResult, AgentComplete,
        ErrorEvent, ConversationEnd, WaitingInput, Resumed,
    ],
    Field(discriminator="type"),
]
"""Any stream event; ``event.type`` says which."""

EVENT_TYPES: tuple[str, ...] = (
    "agent_start", "agent_switch", "content_chunk", "tool_execution", "tool_result",
    "agent_complete", "error", "conversation_end", "waiting_input", "resumed",
)
EventAdapter: TypeAdapter[Any] = TypeAdapter(Event)


def parse_event(data: str | bytes | dict[str, Any]) -> Any:
    """An :data:`Event` from its JSON (text or parsed)."""
    if isinstance(data, (str, bytes)):
        return EventAdapter.validate_json(data)
    return EventAdapter.validate_python(data)


MIGRATIONS: list[Migration] = [
    (
        1,
        """
        CREATE TABLE IF NOT EXISTS stream_events (
            thread_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            run_id TEXT,
            type TEXT NOT NULL,
            body TEXT NOT NULL,
            created_at REAL NOT NULL,
            PRIMARY KEY (thread_id, seq)
        );
        CREATE INDEX IF NOT EXISTS stream_events_run ON stream_events(run_id, seq);
        """,
    ),
    # one store per fact: runs and steps live in lifecycle's tracking_runs / tracking_events
    (2, "DROP TABLE IF EXISTS stream_steps; DROP TABLE IF EXISTS stream_runs"),
]


class EventLog:
    """Per-thread event streams with offsets (what a client saw; runs and steps are lifecycle's)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        db.migrate("stream_events", MIGRATIONS)
        db.seal_columns("stream_events", "body")

    # -- events -----------------------------------------------------------------
    def append(self, thread_id: str, events: Sequence[Any]) -> list[Any]:
        """Store ``events`` at the end of ``thread_id``'s stream; return them with offsets set."""
        if not events:
            return []
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM stream_events WHERE thread_id = ?", (thread_id,)
            ).fetchone()
            seq = int(row[0])  # type: ignore[index]  # an aggregate returns one row
            stored = []
            for event in events:
                seq += 1
                event = event.model_copy(update={"offset": seq})
                conn.execute(
                    "INSERT INTO stream_events(thread_id, seq, run_id, type, body, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (thread_id, seq, event.run_id, event.type, self.db.encrypt(event.model_dump_json()), event.ts),
                )
                stored.append(event)
        return stored

    def last_offset(self, thread_id: str) -> int:
        row = self.db.query_one(
            "SELECT COALESCE(MAX(seq), 0) AS n FROM stream_events WHERE thread_id = ?", (thread_id,)
        )
        return int(row["n"]) if row else 0

    def check_offset(self, thread_id: str, after: object) -> int:
        """``after`` as a valid offset of ``thread_id`` (0..last), else InvalidInputError."""
        try:
            value = int(str(after).strip())
        except (TypeError, ValueError):
            raise InvalidInputError(f"event offset {after!r} is not a whole number") from None
        last = self.last_offset(thread_id)
        if value < 0 or value > last:
            raise InvalidInputError(f"event offset {value} is outside 0..{last} for thread {thread_id!r}")
        return value

    def after(self, thread_id: str, offset: int = 0, *, limit: int = 10_000) -> list[Any]:
        """The events of ``thread_id`` after ``offset``, oldest first."""
        rows = self.db.query(
            "SELECT body FROM stream_events WHERE thread_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            (thread_id, offset, limit),
        )
        return [parse_event(self.db.decrypt(r["body"])) for r in rows]

    def for_run(self, run_id: str) -> list[Any]:
        rows = self.db.query("SELECT body FROM stream_events WHERE run_id = ? ORDER BY seq", (run_id,))
        return [parse_event(self.db.decrypt(r["body"])) for r in rows]


