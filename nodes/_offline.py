"""The default provider: deterministic, offline, no model weights."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pydantic import BaseModel

from ._extract import extract_fields
from ._provider import AgentCard, RouteDecision
from ._router import keyword_route
from ._speak import word_chunks


class OfflineProvider:
    """Rule-based extraction, keyword routing and templated replies."""

    name = "offline"

    def extract(
        self, schema: type[BaseModel], message: str, *, draft: Mapping[str, Any], asked: Sequence[str]
    ) -> dict[str, Any]:
        return extract_fields(schema, message, draft=draft, asked=asked)

    def route(self, message: str, agents: Sequence[AgentCard], *, active: str | None) -> RouteDecision:
        return keyword_route(message, agents, active=active)

    def reply(self, instruction: str, facts: str) -> str:
        return facts

    def stream_reply(self, instruction: str, facts: str) -> Iterator[str]:
        # Word-sized chunks, so consumers see the same streaming shape as with a real model.
        yield from word_chunks(facts)
