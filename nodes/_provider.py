"""The one interface every model provider implements, and the records it speaks in."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel


@dataclass(frozen=True)
class AgentCard:
    """What a router needs to know about one agent."""

    name: str
    """Registry name, also the supervisor node name."""
    description: str
    """One sentence a person (or a model) reads to pick the agent."""
    intents: tuple[str, ...]
    """Intent labels the agent handles, e.g. ``create_listing``."""
    keywords: tuple[str, ...] = ()
    """Extra words that signal the agent to the offline router."""
    fields: tuple[str, ...] = ()
    """Names of the fields the agent collects."""
    schema: type[BaseModel] | None = field(default=None, compare=False)
    """The model it collects (lets a provider route and extract in one call)."""


@dataclass(frozen=True)
class RouteDecision:
    """Which agent should take a message, and why."""

    agent: str | None
    """The chosen agent, or None when no agent handles the message."""
    reason: str = ""
    """A short explanation, stored in step events."""
    scores: Mapping[str, float] = field(default_factory=dict)
    """Per-agent scores when the router has them (offline router)."""


@runtime_checkable
class ModelProvider(Protocol):
    """Extraction, routing and replies: the offline and the OpenAI provider both implement it."""

    name: str

    def extract(
        self, schema: type[BaseModel], message: str, *, draft: Mapping[str, Any], asked: Sequence[str]
    ) -> dict[str, Any]:
        """Return the fields of ``schema`` that ``message`` states (raw values, unvalidated)."""
        ...

    def route(
        self, message: str, agents: Sequence[AgentCard], *, active: str | None
    ) -> RouteDecision:
        """Pick the agent for ``message``; ``active`` is the agent still collecting, if any."""
        ...

    def reply(self, instruction: str, facts: str) -> str:
        """A reply to the user that conveys ``facts`` as ``instruction`` asks."""
        ...

    def stream_reply(self, instruction: str, facts: str) -> Iterator[str]:
        """The same reply as :meth:`reply`, in chunks as the model produces them."""
        ...
