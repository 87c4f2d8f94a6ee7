"""Deterministic stand-ins for a model, one per peer SDK: no network, no weights.

Each reads the conversation it is given the way a model would (the user messages of
the order still open) and answers with ``bench._form.reply``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

from bench import _form

Reader = Callable[[list[tuple[str, str]]], list[str]]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def _answer(pairs: list[tuple[str, str]], reader: Reader) -> str:
    texts = reader(pairs)
    draft = _form.draft_from_history(texts[:-1])
    _, reply, placed = _form.reply(draft, texts[-1] if texts else "")
    if placed:
        _form.place_order(reply)
    return reply


def canned_openai_model(reader: Reader) -> Any:
    """An OpenAI Agents SDK ``Model`` answering from the input items it is handed."""
    from agents import Model, ModelResponse, Usage
    from openai.types.responses import ResponseOutputMessage, ResponseOutputText

    class CannedModel(Model):
        async def get_response(self, system_instructions: Any, input: Any, *args: Any, **kwargs: Any) -> Any:
            items = [{"role": "user", "content": input}] if isinstance(input, str) else input
            pairs = [(str(i.get("role")), _text(i.get("content"))) for i in items if isinstance(i, dict)]
            text = _answer(pairs, reader)
            message = ResponseOutputMessage(
                id="msg", type="message", role="assistant", status="completed",
                content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
            )  # fmt: skip
            return ModelResponse(output=[message], usage=Usage(), response_id=None)

        def stream_response(self, *args: Any, **kwargs: Any) -> Any:
            raise NotImplementedError("the benchmark does not stream")

    return CannedModel()


def _adk_llm() -> Any:
    from google.adk.models.base_llm import BaseLlm
    from google.adk.models.llm_response import LlmResponse
    from google.genai import types

    class FormLlm(BaseLlm):
        """A ``BaseLlm`` answering from ``llm_request.contents`` (the session's history)."""

        reader: Any = None

        async def generate_content_async(self, llm_request: Any, stream: bool = False) -> AsyncGenerator[Any, None]:
            pairs = []
            for content in llm_request.contents or []:
                role = "user" if content.role == "user" else "assistant"
                pairs.append((role, "".join(p.text or "" for p in content.parts or [])))
            text = _answer(pairs, self.reader)
            yield LlmResponse(content=types.Content(role="model", parts=[types.Part(text=text)]))

    return FormLlm


def __getattr__(name: str) -> Any:
    if name == "FormLlm":  # built on first use: google.adk is imported only by the ADK process
        return _adk_llm()
    raise AttributeError(name)
