"""The OpenAI provider: the same interface, backed by ``langchain-openai``.

Works against any OpenAI-compatible server (``base_url``). Servers differ in which
structured-output method they support, so the method is a setting
(``json_schema`` by default, ``function_calling`` or ``json_mode``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal, Optional

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field, SecretStr, create_model

from stateline.errors import ConfigError, ModelProviderError

from ._provider import AgentCard, RouteDecision

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]
METHODS: tuple[str, ...] = ("json_schema", "function_calling", "json_mode")
NO_AGENT = "none"


class RouteChoice(BaseModel):
    """The router's structured answer."""

    agent: str = Field(description=f"name of the agent that should handle the message, or '{NO_AGENT}'")
    reason: str = Field(default="", description="one short sentence")


def _is_transient(exc: Exception) -> bool:
    import openai

    return isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)) or (
        isinstance(exc, openai.APIStatusError) and exc.status_code >= 500
    )


class OpenAIProvider:
    """Extraction and routing via ``with_structured_output``, replies via chat (streamed)."""

    name = "openai"

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        api_key: str | None = None,
        method: StructuredMethod = "json_schema",
        timeout: float = 60.0,
        max_retries: int = 1,
    ) -> None:
        if method not in METHODS:
            raise ConfigError(f"structured output method {method!r} is not one of {', '.join(METHODS)}")
        from langchain_openai import ChatOpenAI

        self.model = model
        self.method = method
        self._llm = ChatOpenAI(
            model=model,
            base_url=base_url,
            api_key=SecretStr(api_key or "not-needed"),
            timeout=timeout,
            max_retries=max_retries,
            temperature=0,
        )

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except ModelProviderError:
            raise
        except Exception as exc:  # noqa: BLE001 - every provider failure becomes one typed error
            raise ModelProviderError(
                f"OpenAI {what} failed ({type(exc).__name__}): {exc}", transient=_is_transient(exc)
            ) from exc

    def extract(
        self, schema: type[BaseModel], message: str, *, draft: Mapping[str, Any], asked: Sequence[str]
    ) -> dict[str, Any]:
        partial = _partial_model(schema)
        runnable = self._llm.with_structured_output(partial, method=self.method)
        prompt = [
            SystemMessage(
                "Extract the fields the user states in their latest message. "
                "Use null for every field the message does not state. "
                f"Fields already collected: {json.dumps(dict(draft), default=str)}. "
                f"Fields the user was just asked for: {', '.join(asked) or 'none'}."
            ),
            HumanMessage(message),
        ]
        result = self._call("extraction", runnable.invoke, prompt)
        values = result.model_dump() if isinstance(result, BaseModel) else dict(result or {})
        return {k: v for k, v in values.items() if v is not None and k in schema.model_fields}

    def route(self, message: str, agents: Sequence[AgentCard], *, active: str | None) -> RouteDecision:
        runnable = self._llm.with_structured_output(RouteChoice, method=self.method)
        catalogue = "\n".join(
            f"- {a.name}: {a.description} (intents: {', '.join(a.intents)}; collects: {', '.join(a.fields)})"
            for a in agents
        )
        sticky = (
            f"The agent '{active}' is still collecting fields; keep it unless the message clearly asks "
            "for another agent."
            if active
            else "No agent is active."
        )
        prompt = [
            SystemMessage(
                f"Route the user's message to one agent.\nAgents:\n{catalogue}\n{sticky}\n"
                f"Answer '{NO_AGENT}' if no agent handles it."
            ),
            HumanMessage(message),
        ]
        choice = self._call("routing", runnable.invoke, prompt)
        if isinstance(choice, dict):
            choice = RouteChoice.model_validate(choice)
        names = {a.name for a in agents}
        agent = choice.agent if choice.agent in names else None
        return RouteDecision(agent, choice.reason or f"model chose {choice.agent!r}")

    def _reply_prompt(self, instruction: str, facts: str) -> list[Any]:
        return [SystemMessage(f"You are a helpful assistant. {instruction}"), HumanMessage(facts)]

    def reply(self, instruction: str, facts: str) -> str:
        msg = self._call("reply", self._llm.invoke, self._reply_prompt(instruction, facts))
        return str(msg.content)

    def stream_reply(self, instruction: str, facts: str) -> Iterator[str]:
        # Yield each token as it arrives (a consumer streams it on); failures stay typed.
        tokens = iter(self._call("streamed reply", self._llm.stream, self._reply_prompt(instruction, facts)))
        while (chunk := self._call("streamed reply", next, tokens, None)) is not None:
            if chunk.content:
                yield str(chunk.content)


def _partial_model(schema: type[BaseModel]) -> type[BaseModel]:
    """``schema`` with every field optional, so the model can say 'not stated' with null."""
    fields: dict[str, Any] = {
        name: (Optional[info.annotation], Field(default=None, description=info.description))  # noqa: UP045
        for name, info in schema.model_fields.items()
    }
    return create_model(f"{schema.__name__}Fields", **fields)
