"""Reading stored data without writing a byte: what the inspecting CLI commands show.

Works on a database opened with ``open_database(..., read_only=True)``: a component whose
tables were never created reads as empty, a thread's state comes from its head checkpoint
(no graph, so no agents are needed), and ids printed short are accepted by prefix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stateline.errors import InvalidInputError, UnknownThreadError

from ._ids import check_id

if TYPE_CHECKING:
    from stateline.checkpointing import Database

    from ._records import ThreadView

_INTERRUPT, _ERROR = "__interrupt__", "__error__"  # LangGraph's pending-write channels


def has_table(db: Database, name: str) -> bool:
    from stateline.checkpointing import has_table as exists

    return exists(db, name)


def list_threads(db: Database, user_id: str | None, limit: int = 100) -> list[Any]:
    from stateline.checkpointing import ThreadIndex

    return ThreadIndex(db).list(user_id=user_id, limit=limit) if has_table(db, "threads") else []


def thread_view(db: Database, thread_id: str) -> ThreadView:
    """The thread's state from its head checkpoint; the same statuses as ``App.state``."""
    from stateline.checkpointing import head_is_unfinished

    from ._convert import to_chat
    from ._records import ThreadStatus, ThreadView

    thread_id = check_id("thread id", thread_id)
    head = db.saver.get_tuple({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}})
    info = _index_row(db, thread_id)
    if head is None:
        if info is None:
            raise UnknownThreadError(thread_id)
        return ThreadView(thread_id, "new", None, {}, (), user_id=info.user_id)
    writes = head.pending_writes or []
    interrupts = [v for _, channel, v in writes if channel == _INTERRUPT]
    errors = [str(v) for _, channel, v in writes if channel == _ERROR]
    unfinished = head_is_unfinished(head)
    status: ThreadStatus = "waiting" if interrupts else "failed" if errors else "interrupted" if unfinished else "idle"
    values = dict(head.checkpoint["channel_values"])
    return ThreadView(
        thread_id=thread_id,
        status=status,
        active_agent=values.get("active_agent"),
        drafts={k: v for k, v in (values.get("drafts") or {}).items() if v},
        messages=tuple(to_chat(m) for m in values.get("messages") or []),
        errors=tuple(errors),
        interrupt=_interrupt_value(interrupts),
        checkpoint_id=head.config["configurable"].get("checkpoint_id"),
        user_id=info.user_id if info else None,
    )


def _index_row(db: Database, thread_id: str) -> Any:
    from stateline.checkpointing import ThreadIndex

    if not has_table(db, "threads"):
        return None
    index = ThreadIndex(db)
    return index.get(thread_id) if index.exists(thread_id) else None


def _interrupt_value(interrupts: list[Any]) -> Any:
    for value in interrupts:
        items = value if isinstance(value, (list, tuple)) else [value]
        for item in items:
            return getattr(item, "value", item)
    return None


def tracked(db: Database) -> bool:
    """Whether lifecycle's tables (runs, events, effects, agents) exist in ``db``."""
    return has_table(db, "tracking_runs")


def resolve_prefix(db: Database, table: str, column: str, given: str, kind: str) -> str | None:
    """The full id that ``given`` names (itself, or the one id it is a prefix of); None: no match."""
    if db.query_one(f"SELECT 1 AS ok FROM {table} WHERE {column} = ?", (given,)) is not None:
        return given
    escaped = given.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = db.query(f"SELECT {column} AS id FROM {table} WHERE {column} LIKE ? ESCAPE '\\' ORDER BY {column} LIMIT 6",
                    (escaped + "%",))
    if len(rows) > 1:
        shown = ", ".join(r["id"] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
        raise InvalidInputError(f"{kind} prefix {given!r} is ambiguous: it matches {shown}; give more characters")
    return rows[0]["id"] if rows else None


def describe_waiting(interrupt: Any, thread_id: str) -> str:
    """The approval prompt as a person reads it, with the commands that answer it."""
    if isinstance(interrupt, dict) and isinstance(interrupt.get("draft"), dict):
        agent = interrupt.get("agent") or "the agent"
        fields = ", ".join(f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in interrupt["draft"].items())
        head = f"{agent} waits for approval to act on: {fields or '(no fields)'}"
    else:
        head = f"waiting for approval: {interrupt}"
    return f"{head}\n  answer with: stateline resume {thread_id} --approve | --reject | --edit field=value"
