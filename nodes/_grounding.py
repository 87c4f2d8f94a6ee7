"""Keep a model's extraction to what the conversation states, and the prompts that ask for it.

A small model copies whatever the prompt shows it, so the extraction prompt never carries
the draft's values; it carries the schema's fields, few-shot examples built from the field
descriptions, the question the user is answering and the user's message. What comes back
is normalised like the offline extractor reads it (``$12.50``, ``35%``) and *grounded*: a
value is kept only if the message states it (the number is in the message, the choice is
named, the words of a text are the user's), so an invented title or price never reaches
``act``.
"""

from __future__ import annotations

import json
import re
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Optional

from pydantic import BaseModel, Field, ValidationError, create_model

from ._extract import (
    _NUMBER,
    _choices,
    _is_number,
    _mentions,
    _submodel,
    _unwrap,
    normalise,
)
from ._intent import not_an_answer
from ._provider import AgentCard

NO_AGENT = "none"
MAX_TEXT = 300
"""Longest text a model may put in one field (a grammar-constrained server stops it there)."""
_WORD = re.compile(r"[a-z0-9]+")


def partial_model(schema: type[BaseModel]) -> type[BaseModel]:
    """``schema`` with every field optional, so the model can say 'not stated' with null."""
    fields: dict[str, Any] = {
        name: (
            Optional[info.annotation],  # noqa: UP045
            Field(default=None, description=info.description,
                  json_schema_extra={"maxLength": MAX_TEXT} if _unwrap(info.annotation) is str else None),
        )
        for name, info in schema.model_fields.items()
    }
    return create_model(f"{schema.__name__}Fields", **fields)


def route_model(agents: Sequence[AgentCard]) -> type[BaseModel]:
    """``{"agent": <one of the registered names or "none">}``: an enum, nothing free-text."""
    names = tuple(a.name for a in agents) + (NO_AGENT,)
    return create_model(
        "RouteChoice", agent=(Literal[names], Field(description="the assistant that handles the message"))  # type: ignore[valid-type,arg-type]
    )


def route_extract_model(agents: Sequence[AgentCard], schema: type[BaseModel]) -> type[BaseModel]:
    """The router's answer plus the active agent's fields, for one model call per turn."""
    names = tuple(a.name for a in agents) + (NO_AGENT,)
    return create_model(
        "RouteAndFields",
        agent=(Literal[names], Field(description="the assistant that handles the message")),  # type: ignore[valid-type,arg-type]
        fields=(Optional[partial_model(schema)], Field(default=None, description="values the message states")),  # type: ignore[arg-type]  # noqa: UP045
    )


def _example_value(name: str, info: Any) -> Any:
    examples = getattr(info, "examples", None) or []
    if examples:
        return examples[0]
    ann = _unwrap(info.annotation)
    choices = _choices(ann)
    if choices:
        return choices[0]
    if ann is bool:
        return True
    if _is_number(ann):
        lt = next((getattr(m, "lt", None) for m in info.metadata if getattr(m, "lt", None) is not None), None)
        return 0.4 if lt is not None and lt <= 1 else (3 if ann is int else 12.5)
    if _submodel(ann) is not None or typing.get_origin(ann) in (list, tuple, set):
        return None
    return {"title": "Blue Mug", "name": "Ada Lovelace"}.get(name, f"my {name.replace('_', ' ')}")


def few_shot(schema: type[BaseModel]) -> str:
    """Three worked examples built from the schema: a full answer, a percent, and nothing stated."""
    fields = schema.model_fields
    nulls = {n: None for n in fields}
    sample = {n: v for n, info in fields.items() if (v := _example_value(n, info)) is not None}
    shown = list(sample)[:2]
    said = ", ".join(f"{n.replace('_', ' ')} {sample[n]}" for n in shown)
    lines = [f'User: "{said}" -> {json.dumps({**nulls, **{n: sample[n] for n in shown}})}']
    pct = [n for n, v in sample.items() if v == 0.4]
    if pct:
        lines.append(f'User: "{pct[0].replace("_", " ")} 40 percent" -> {json.dumps({**nulls, pct[0]: 0.4})}')
    lines.append(f'User: "what is the weather like?" -> {json.dumps(nulls)}')
    return "\n".join(lines)


def describe_fields(schema: type[BaseModel]) -> str:
    """One line per field: name, type hint and description."""
    lines = []
    for name, info in schema.model_fields.items():
        choices = _choices(info.annotation)
        kind = "one of " + ", ".join(map(str, choices)) if choices else _type_word(info.annotation)
        lines.append(f"- {name} ({kind}): {info.description or name.replace('_', ' ')}")
    return "\n".join(lines)


def _type_word(annotation: Any) -> str:
    ann = _unwrap(annotation)
    if ann is bool:
        return "true/false"
    if _is_number(ann):
        return "number"
    if _submodel(ann) is not None:
        return "object"
    return "list" if typing.get_origin(ann) in (list, tuple, set) else "text"


def extraction_prompt(schema: type[BaseModel], question: str) -> str:
    """The system prompt for extraction: fields, rules, examples; never the draft's values."""
    asked = f'The user is answering: "{question}"\n' if question else ""
    return (
        "Read the user's message and fill in only the values it states in words or numbers.\n"
        f"Fields:\n{describe_fields(schema)}\n"
        "Rules: use null for every field the message does not state; never guess, never invent, "
        "never copy the examples; a percentage becomes a fraction (35% -> 0.35); money is a plain number.\n"
        f"{asked}Examples:\n{few_shot(schema)}\nAnswer with one JSON object."
    )


def routing_prompt(agents: Sequence[AgentCard], active: str | None, fields: Sequence[str] = ()) -> str:
    """The system prompt for routing. An active agent is named as *collecting*, nothing else."""
    catalogue = "\n".join(
        f"- {a.name}: {a.description} (for example: {', '.join(i.replace('_', ' ') for i in a.intents)})"
        for a in agents
    )
    sticky = ""
    if active:
        sticky = (
            f"\nThe {active} assistant asked the user for: {', '.join(fields) or 'details'}. "
            f"A message that answers that (a value, a number, a name, a short phrase, yes or no) "
            f"belongs to {active}, unless it clearly asks for another assistant's job."
        )
    return (
        f"Choose the assistant that should handle the user's message.\nAssistants:\n{catalogue}{sticky}\n"
        f'Answer "{NO_AGENT}" only when the message fits none of the assistants (small talk, '
        "weather, other topics). Answer with one JSON object."
    )


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def _grounded(schema: type[BaseModel], name: str, value: Any, message: str) -> bool:
    ann = _unwrap(schema.model_fields[name].annotation)
    choices = _choices(ann)
    if choices:
        return any(_mentions(str(c), message) for c in choices if str(c) == str(value))
    if ann is bool:
        return isinstance(value, bool)
    if _is_number(ann):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        stated = [float(m.replace(",", ".")) for m in _NUMBER.findall(message.replace("$", ""))]
        return any(abs(s - value) < 1e-9 or abs(s / 100 - value) < 1e-9 for s in stated)
    if isinstance(value, str):
        said, words = _words(message), [w for w in _WORD.findall(value.lower()) if len(w) > 2 or w.isdigit()]
        if not words or not_an_answer(value):
            return False
        missing = sum(w not in said for w in words)
        return missing <= len(words) // 4  # a long description may paraphrase a word or two
    if isinstance(value, list):
        return all(isinstance(v, str) and _words(v) <= _words(message) for v in value)
    return isinstance(value, dict)


def ground(schema: type[BaseModel], values: Mapping[str, Any], message: str) -> dict[str, Any]:
    """The model's values normalised, keeping only those the message states."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None or name not in schema.model_fields:
            continue
        value = normalise(schema, (name,), value, message)
        if _grounded(schema, name, value, message):
            out[name] = value
    return out


def field_errors(schema: type[BaseModel], draft: Mapping[str, Any], found: Mapping[str, Any]) -> str:
    """Why the values just found are invalid ('' if they are fine), for one re-ask."""
    try:
        schema.model_validate({**draft, **found})
    except ValidationError as exc:
        bad = [
            f"{e['loc'][0]}={e.get('input')!r}: {e['msg']}" for e in exc.errors() if e["loc"] and e["loc"][0] in found
        ]
        return "; ".join(bad)
    return ""
