"""Rule-based field extraction from a pydantic model's field names and types.

Deterministic, so demos and tests run offline. It understands ``label value``
phrases (``price 12.50``, ``title: Red mug``, ``category is kitchen``), a bare
answer to a question that asked for one field, choice values (``Literal``/``Enum``)
mentioned anywhere, and a lone number when exactly one numeric field is missing.
"""

from __future__ import annotations

import enum
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_LEAD = re.compile(r"^\s*(?:(?:is|are|of|to|at|be|should be|as)\b|[:=])?\s*[:=]?\s*", re.I)
_TRAIL = re.compile(r"[\s,;.!?]*(?:\band\b)?[\s,;.!?]*$", re.I)


def field_labels(name: str, info: FieldInfo) -> list[str]:
    """The words that introduce a field in a message: its name, spaced name, alias, synonyms."""
    labels = {name.lower(), name.replace("_", " ").lower()}
    if info.alias:
        labels.add(info.alias.lower())
    extra: dict[str, Any] = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    for word in extra.get("synonyms", []) or []:
        labels.add(str(word).lower())
    return sorted(labels, key=len, reverse=True)


def extract_fields(
    schema: type[BaseModel], message: str, *, draft: Mapping[str, Any], asked: Sequence[str]
) -> dict[str, Any]:
    """Fields of ``schema`` stated in ``message``; see the module docstring for the rules."""
    fields = schema.model_fields
    found: dict[str, Any] = {}
    spans = _label_spans(fields, message)
    for i, (_start, end, name) in enumerate(spans):
        stop = spans[i + 1][0] if i + 1 < len(spans) else len(message)
        value = _parse(fields[name].annotation, message[end:stop], labelled=True)
        if value is not None and name not in found:
            found[name] = value
    if not spans:
        _fill_unlabelled(fields, message, draft, asked, found)
    _fill_choices(fields, message, draft, found)
    return found


def _label_spans(fields: Mapping[str, FieldInfo], message: str) -> list[tuple[int, int, str]]:
    spans: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for name, info in fields.items():
        for label in field_labels(name, info):
            pattern = re.compile(rf"(?<![\w-]){re.escape(label)}(?![\w-])\s*(?:is|=|:)?", re.I)
            for m in pattern.finditer(message):
                if any(a < m.end() and m.start() < b for a, b in taken):
                    continue
                spans.append((m.start(), m.end(), name))
                taken.append((m.start(), m.end()))
    spans.sort()
    return spans


def _fill_unlabelled(
    fields: Mapping[str, FieldInfo],
    message: str,
    draft: Mapping[str, Any],
    asked: Sequence[str],
    found: dict[str, Any],
) -> None:
    """No label in the message: it answers the question, or is a lone number."""
    pending = [n for n in asked if n in fields]
    if len(pending) == 1:
        value = _parse(fields[pending[0]].annotation, message, labelled=False)
        if value is not None:
            found[pending[0]] = value
        return
    numeric = [n for n in fields if _is_number(fields[n].annotation) and n not in draft]
    numbers = _NUMBER.findall(message)
    if len(numeric) == 1 and len(numbers) == 1:
        found[numeric[0]] = _parse(fields[numeric[0]].annotation, numbers[0], labelled=True)


def _fill_choices(
    fields: Mapping[str, FieldInfo], message: str, draft: Mapping[str, Any], found: dict[str, Any]
) -> None:
    for name, info in fields.items():
        choices = _choices(info.annotation)
        if not choices or name in found or draft.get(name) is not None:
            continue
        hits = [c for c in choices if _mentions(str(c), message)]
        if len(hits) == 1:
            found[name] = hits[0]


def _mentions(choice: str, text: str) -> bool:
    """Whether ``text`` names ``choice`` ("best seller" names "best-seller")."""
    pattern = r"[-_\s]?".join(re.escape(part) for part in re.split(r"[-_\s]+", choice))
    return re.search(rf"(?<!\w){pattern}(?!\w)", text, re.I) is not None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _unwrap(args[0]) if len(args) == 1 else annotation
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    return annotation


def _choices(annotation: Any) -> list[Any]:
    ann = _unwrap(annotation)
    if typing.get_origin(ann) is Literal:
        return list(typing.get_args(ann))
    if isinstance(ann, type) and issubclass(ann, enum.Enum):
        return [m.value for m in ann]
    return []


def _is_number(annotation: Any) -> bool:
    ann = _unwrap(annotation)
    return isinstance(ann, type) and issubclass(ann, (int, float)) and ann is not bool


def _parse(annotation: Any, text: str, *, labelled: bool) -> Any:
    """Turn the text after a label into a raw value of the field's type, or None."""
    text = _TRAIL.sub("", _LEAD.sub("", text, count=1))
    if not text:
        return None
    ann = _unwrap(annotation)
    choices = _choices(ann)
    if choices:
        for choice in choices:
            if _mentions(str(choice), text):
                return choice
        return text.split()[0] if labelled else None
    if ann is bool:
        word = text.split()[0].lower()
        return {"yes": True, "true": True, "no": False, "false": False}.get(word)
    if _is_number(ann):
        m = _NUMBER.search(text.replace("$", ""))
        if not m:
            return None  # "what margin should I use?" names the field but states no value
        number = float(m.group().replace(",", "."))
        if "%" in text[m.end() : m.end() + 2] and ann is float:
            number = number / 100
        return int(number) if ann is int and number.is_integer() else number
    origin = typing.get_origin(ann)
    if origin in (list, tuple, set):
        return [p.strip() for p in re.split(r",|\band\b", text) if p.strip()]
    return text.strip(" \"'")
