"""The OpenAI provider: the same interface, backed by ``langchain-openai``.

Works against any OpenAI-compatible server (``base_url``). Servers differ in which
structured-output method they support: ``auto`` (the default) probes once, in the order
``json_schema`` -> ``function_calling`` -> ``json_mode``, and keeps the first that answers;
a method can also be set. A structured call that returns nothing usable is asked again
once with the parse or validation error, then fails with a typed
:class:`~stateline.errors.ModelProviderError`, never an ``AttributeError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, SecretStr
from stateline.errors import ConfigError, ModelProviderError

from ._grounding import (
    NO_AGENT,
    extraction_prompt,
    field_errors,
    ground,
    partial_model,
    route_extract_model,
    route_model,
    routing_prompt,
)
from ._provider import AgentCard, RouteDecision

StructuredMethod = Literal["auto", "json_schema", "function_calling", "json_mode"]
METHODS: tuple[str, ...] = ("json_schema", "function_calling", "json_mode")
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 1
DEFAULT_MAX_TOKENS = 256


def _is_transient(exc: Exception) -> bool:
    import openai

    return isinstance(exc, (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError)) or (
        isinstance(exc, openai.APIStatusError) and exc.status_code >= 500
    )


def _unparsable(exc: BaseException | None) -> bool:
    """The server answered, but not with JSON for the schema (or it was cut at max_tokens)."""
    import openai

    return isinstance(exc, (ValueError, openai.LengthFinishReasonError, openai.ContentFilterFinishReasonError))


class _NoAnswer(Exception):
    """A structured call produced nothing that parses into the requested model."""

    def __init__(self, message: str, *, followed: bool = False) -> None:
        super().__init__(message)
        self.followed = followed
        """True when the server did follow the method (the answer was cut at max_tokens)."""


class _Refused(Exception):
    """While probing: this structured-output method does not work on this server."""


class OpenAIProvider:
    """Grounded extraction and enum routing via structured output, replies via chat (streamed)."""

    name = "openai"

    def __init__(
        self,
        *,
        model: str = "gpt-4o-mini",
        base_url: str | None = None,
        api_key: str | None = None,
        method: StructuredMethod = "auto",
        timeout: float = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        max_tokens: int | None = DEFAULT_MAX_TOKENS,
    ) -> None:
        if method != "auto" and method not in METHODS:
            raise ConfigError(f"structured output method {method!r} is not one of auto, {', '.join(METHODS)}")
        if not timeout or timeout <= 0 or max_retries < 0 or (max_tokens is not None and max_tokens <= 0):
            raise ConfigError("model timeout and max_tokens must be > 0 and max_retries >= 0")
        from langchain_openai import ChatOpenAI

        self.model = model
        self.method = method
        self.calls = 0
        """Model requests made so far (a benchmark reads it)."""
        self._probed: str | None = None if method == "auto" else method
        self._llm = ChatOpenAI(
            model=model, base_url=base_url, api_key=SecretStr(api_key or "not-needed"), timeout=timeout,
            max_retries=max_retries, temperature=0, max_tokens=max_tokens,  # type: ignore[call-arg]
        )

    @property
    def chat_model(self) -> Any:
        """The underlying LangChain chat model (for agents that use tools)."""
        return self._llm

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        self.calls += 1
        try:
            return fn(*args)
        except ModelProviderError:
            raise
        except Exception as exc:
            raise ModelProviderError(
                f"OpenAI {what} failed ({type(exc).__name__}): {exc}", transient=_is_transient(exc)
            ) from exc

    # -- structured output ------------------------------------------------------------
    def _once(self, what: str, model: type[BaseModel], messages: list[BaseMessage], method: str) -> BaseModel:
        if method == "json_mode":
            schema = json.dumps(model.model_json_schema())
            messages = [*messages[:-1], SystemMessage(f"Reply with JSON matching this schema: {schema}"), messages[-1]]
        runnable = self._llm.with_structured_output(model, method=method, include_raw=True)  # type: ignore[arg-type]
        try:
            out = self._call(what, runnable.invoke, messages)
        except ModelProviderError as exc:
            if _unparsable(exc.__cause__):
                import openai

                cut = isinstance(exc.__cause__, openai.LengthFinishReasonError)
                raise _NoAnswer(str(exc.__cause__), followed=cut) from exc
            raise
        parsed = out.get("parsed") if isinstance(out, dict) else out
        if isinstance(parsed, dict):
            try:
                parsed = model.model_validate(parsed)
            except ValueError as exc:
                raise _NoAnswer(str(exc)) from exc
        if not isinstance(parsed, BaseModel):
            error = out.get("parsing_error") if isinstance(out, dict) else None
            raise _NoAnswer(str(error) if error else f"the {method} answer held no JSON object")
        return parsed

    def structured(
        self, what: str, model: type[BaseModel], messages: list[BaseMessage], *, check: Any = None
    ) -> BaseModel:
        """One structured answer: probe the method if needed, re-ask once on a bad answer.

        ``check(answer) -> str`` may name a validation problem; it is sent back once.
        """
        methods = [self._probed] if self._probed else list(METHODS)
        problems: list[str] = []
        for method in methods:
            try:
                return self._with_reask(what, model, messages, method, check)
            except _Refused as exc:
                problems.append(f"{method}: {exc}")
        raise ModelProviderError(
            f"OpenAI {what}: no structured-output method worked ({'; '.join(problems)}); "
            "set STATELINE_STRUCTURED_OUTPUT=json_schema|function_calling|json_mode for this server"
        )

    def _with_reask(
        self, what: str, model: type[BaseModel], messages: list[BaseMessage], method: str, check: Any
    ) -> BaseModel:
        probing = self._probed is None
        first: BaseModel | None = None
        try:
            first = self._once(what, model, messages, method)
            problem = check(first) if check else ""
        except _NoAnswer as exc:
            problem = str(exc)
        except ModelProviderError as exc:
            if probing and not exc.transient:
                raise _Refused(str(exc)) from exc  # this server does not take this method
            raise
        if first is not None and not problem:
            self._probed = method
            return first
        retry = [*messages, HumanMessage(f"Your answer was not usable: {problem}. Answer again with only the JSON.")]
        try:
            second = self._once(what, model, retry, method)
        except _NoAnswer as exc:
            if first is not None:  # parsed but invalid: validate asks the user for it
                self._probed = method
                return first
            if probing and not exc.followed:  # a cut answer: the server takes the method, the model rambles
                raise _Refused(str(exc)) from exc
            self._probed = method
            raise ModelProviderError(
                f"OpenAI {what}: the server's {method} answer held no valid JSON twice ({exc}); "
                "set STATELINE_STRUCTURED_OUTPUT to another method or use a model that follows JSON schemas"
            ) from exc
        self._probed = method
        return second

    # -- the provider interface ---------------------------------------------------------
    def extract(
        self, schema: type[BaseModel], message: str, *, draft: Mapping[str, Any], asked: Sequence[str],
        question: str = "",
    ) -> dict[str, Any]:
        partial = partial_model(schema)
        prompt = [SystemMessage(extraction_prompt(schema, question)), HumanMessage(message)]

        def check(answer: BaseModel) -> str:
            return field_errors(schema, draft, ground(schema, answer.model_dump(), message))

        answer = self.structured("extraction", partial, prompt, check=check)
        return ground(schema, answer.model_dump(), message)

    def route(self, message: str, agents: Sequence[AgentCard], *, active: str | None) -> RouteDecision:
        fields = next((a.fields for a in agents if a.name == active), ())
        prompt = [SystemMessage(routing_prompt(agents, active, fields)), HumanMessage(message)]
        choice = self.structured("routing", route_model(agents), prompt)
        return _decision(str(getattr(choice, "agent", NO_AGENT)), agents)

    def route_extract(
        self, message: str, agents: Sequence[AgentCard], *, active: str, schema: type[BaseModel],
        draft: Mapping[str, Any], asked: Sequence[str], question: str = "",
    ) -> tuple[RouteDecision, dict[str, Any] | None]:
        """Route and, when the active agent keeps the message, extract its fields: one call."""
        text = (
            routing_prompt(agents, active, asked or tuple(schema.model_fields))
            + f"\nIf you answer {active}, also put in \"fields\" the values the message states for {active}.\n"
            + extraction_prompt(schema, question)
        )
        answer = self.structured(
            "routing", route_extract_model(agents, schema), [SystemMessage(text), HumanMessage(message)]
        )
        decision = _decision(str(getattr(answer, "agent", NO_AGENT)), agents)
        if decision.agent != active:
            return decision, None
        fields = getattr(answer, "fields", None)
        values = fields.model_dump() if isinstance(fields, BaseModel) else dict(fields or {})
        return decision, ground(schema, values, message)

    def _reply_prompt(self, instruction: str, facts: str) -> list[Any]:
        return [SystemMessage(f"You are a helpful assistant. {instruction}"), HumanMessage(facts)]

    def reply(self, instruction: str, facts: str) -> str:
        msg = self._call("reply", self._llm.invoke, self._reply_prompt(instruction, facts))
        return str(msg.content)

    def stream_reply(self, instruction: str, facts: str) -> Iterator[str]:
        # Yield each token as it arrives (a consumer streams it on); failures stay typed.
        tokens = iter(self._call("streamed reply", self._llm.stream, self._reply_prompt(instruction, facts)))
        while (chunk := _next(tokens)) is not None:
            if chunk.content:
                yield str(chunk.content)


def _next(tokens: Iterator[Any]) -> Any:
    try:
        return next(tokens, None)
    except Exception as exc:
        raise ModelProviderError(f"OpenAI streamed reply failed ({type(exc).__name__}): {exc}",
                                 transient=_is_transient(exc)) from exc


def _decision(agent: str, agents: Sequence[AgentCard]) -> RouteDecision:
    names = {a.name for a in agents}
    chosen = agent if agent in names else None
    return RouteDecision(chosen, f"model chose {agent!r}")
