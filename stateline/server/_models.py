"""Request bodies: unknown fields are rejected (422)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


def _plain_text(value: str | None) -> str | None:
    """Text a database can store: no NUL, no lone surrogate (422 otherwise, never a 500)."""
    if value is not None:
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("must be valid Unicode text") from None
    return value


PlainText = Annotated[str, AfterValidator(_plain_text)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewThread(_Body):
    thread_id: str | None = Field(
        default=None, description="your id for it (the server adds @your-user-id); a random one if omitted"
    )
    title: PlainText | None = Field(default=None, max_length=200)
    policy: Literal["reject", "enqueue"] | None = Field(
        default=None, description="what a message to a busy thread gets"
    )


class ThreadChange(_Body):
    policy: Literal["reject", "enqueue"]


class NewMessage(_Body):
    message: str = Field(description="what the user says")
    stream: bool | None = Field(default=None, description="SSE reply (default: when Accept is text/event-stream)")


class Decision(_Body):
    action: Literal["approve", "reject", "edit", "continue"] = Field(
        description="approve, reject or edit a waiting draft; continue finishes a turn a crash interrupted"
    )
    fields: dict[str, Any] = Field(default_factory=dict, description="edited field values (action 'edit')")
    stream: bool | None = None


class AgentStatusChange(_Body):
    status: str = Field(description="the lifecycle status to move to, e.g. paused or active")
    reason: PlainText | None = Field(default=None, max_length=500)
