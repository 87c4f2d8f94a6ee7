"""Request bodies: unknown fields are rejected (422)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewThread(_Body):
    thread_id: str | None = Field(default=None, description="your id for it; a random one if omitted")
    title: str | None = Field(default=None, max_length=200)
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
    reason: str | None = Field(default=None, max_length=500)
