"""Rule-based field extraction from a pydantic model's field names and types.

Deterministic, so demos and tests run offline. It understands ``label value``
phrases (``price 12.50``, ``title: Red mug``, ``category is kitchen``), a bare
answer to a question that asked for one field, choice values (``Literal``/``Enum``)
mentioned anywhere, and a lone number when exactly one numeric field is missing.
Nested models: ``address.city Paris`` or ``address: {"city": "Paris"}`` (JSON, also for
lists). Percentages (``35%``, ``35 percent``) become fractions for float fields.

A bare answer is never a question, a cancel, a confirmation or a new request
(:func:`stateline.nodes._intent.not_an_answer`): "what's the weather?" does not become
a ticket's description.
"""

from __future__ import annotations

import enum
import json
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from ._intent import is_cancel, not_an_answer

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_LEAD = re.compile(r"^\s*(?:(?:is|are|of|to|at|be|should be|as)\b|[:=])?\s*[:=]?\s*", re.IGNORECASE)
_TRAIL = re.compile(r"[\s,;.!?]*(?:\band\b)?[\s,;.!?]*$", re.IGNORECASE)
_PERCENT = re.compile(r"\s*(?:%|per\s*cent\b|pct\b)", re.IGNORECASE)
Path = tuple[str, ...]


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
    for i, (_start, end, path) in enumerate(spans):
        stop = spans[i + 1][0] if i + 1 < len(spans) else len(message)
        value = _parse(annotation_at(schema, path), message[end:stop], labelled=True)
        if value is not None and not _has(found, path):
            _put(found, path, value)
    if not spans:
        _fill_unlabelled(schema, message, draft, asked, found)
    _fill_choices(fields, message, draft, found)
    return found


def annotation_at(schema: type[BaseModel], path: Sequence[str]) -> Any:
    """The annotation of the (possibly nested) field ``path``, or None if there is none."""
    ann: Any = schema
    for part in path:
        model = _unwrap(ann)
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
    return ann


def _submodel(annotation: Any) -> type[BaseModel] | None:
    ann = _unwrap(annotation)
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _has(found: Mapping[str, Any], path: Path) -> bool:
    node: Any = found
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _put(found: dict[str, Any], path: Path, value: Any) -> None:
    node = found
    for part in path[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[path[-1]] = value


def _labels(fields: Mapping[str, FieldInfo]) -> list[tuple[str, Path]]:
    """Every label with the field path it introduces; dotted nested labels first."""
    dotted: list[tuple[str, Path]] = []
    plain: list[tuple[str, Path]] = []
    for name, info in fields.items():
        sub = _submodel(info.annotation)
        if sub is not None:
            for label in field_labels(name, info):
                for sub_name, sub_info in sub.model_fields.items():
                    dotted += [(f"{label}.{s}", (name, sub_name)) for s in field_labels(sub_name, sub_info)]
        plain += [(label, (name,)) for label in field_labels(name, info)]
    return sorted(dotted, key=lambda x: -len(x[0])) + plain


def _label_spans(fields: Mapping[str, FieldInfo], message: str) -> list[tuple[int, int, Path]]:
    spans: list[tuple[int, int, Path]] = []
    taken: list[tuple[int, int]] = []
    for label, path in _labels(fields):
        pattern = re.compile(rf"(?<![\w.-]){re.escape(label)}(?![\w-])\s*(?:is|=|:)?", re.IGNORECASE)
        for m in pattern.finditer(message):
            if any(a < m.end() and m.start() < b for a, b in taken):
                continue
            spans.append((m.start(), m.end(), path))
            taken.append((m.start(), m.end()))
    spans.sort()
    return spans


def _fill_unlabelled(
    schema: type[BaseModel],
    message: str,
    draft: Mapping[str, Any],
    asked: Sequence[str],
    found: dict[str, Any],
) -> None:
    """No label in the message: it answers the question, or is a lone number.

    A message that reads as a question, a cancel, a confirmation or a new request is
    no answer at all, so it fills nothing here.
    """
    fields = schema.model_fields
    pending = [tuple(n.split(".")) for n in asked if annotation_at(schema, n.split(".")) is not None]
    yes_no = len(pending) == 1 and _unwrap(annotation_at(schema, pending[0])) is bool
    if not_an_answer(message) and not yes_no:
        return
    if len(pending) == 1:
        value = _parse(annotation_at(schema, pending[0]), message, labelled=False)
        if value is not None:
            _put(found, pending[0], value)
        return
    numeric = [n for n in fields if _is_number(fields[n].annotation) and n not in draft]
    numbers = _NUMBER.findall(message)
    if len(numeric) == 1 and len(numbers) == 1:
        found[numeric[0]] = _parse(fields[numeric[0]].annotation, message, labelled=True)


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
    return re.search(rf"(?<!\w){pattern}(?!\w)", text, re.IGNORECASE) is not None


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


def choice_values(annotation: Any) -> list[Any]:
    """The allowed values of a ``Literal``/``Enum`` field (empty for any other type)."""
    return _choices(annotation)


def _number(ann: Any, text: str) -> int | float | None:
    m = _NUMBER.search(text.replace("$", ""))
    if not m:
        return None  # "what margin should I use?" names the field but states no value
    number = float(m.group().replace(",", "."))
    if _PERCENT.match(text.replace("$", ""), m.end()) and ann is float:
        number = number / 100
    return int(number) if ann is int and number.is_integer() else number


def _parse(annotation: Any, text: str, *, labelled: bool) -> Any:
    """Turn the text after a label into a raw value of the field's type, or None."""
    text = _TRAIL.sub("", _LEAD.sub("", text, count=1))
    if not text or annotation is None:
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
        return _number(ann, text)
    origin = typing.get_origin(ann)
    item = typing.get_args(ann)[0] if typing.get_args(ann) else None
    if _submodel(ann) is not None or (origin in (list, tuple, set) and _submodel(item)):
        return _json_value(text)
    if origin in (list, tuple, set):
        return _json_value(text) if text.lstrip().startswith("[") else [
            p.strip() for p in re.split(r",|\band\b", text) if p.strip()
        ]
    if text.endswith("?") or is_cancel(text):
        return None  # "description: what should I write?" states nothing
    return text.strip(" \"'")


def _json_value(text: str) -> Any:
    """A JSON object or list at the start of ``text`` (None if there is none)."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    try:
        value, _ = json.JSONDecoder().raw_decode(text[start:])
    except ValueError:
        return None
    return value


def normalise(schema: type[BaseModel], path: Sequence[str], value: Any, message: str) -> Any:
    """A model's raw value for ``path`` read the way the offline extractor reads the message.

    ``"$12.50"`` -> 12.5; ``35`` for a float field when the message says ``35%`` or
    ``35 percent`` -> 0.35. Anything else is returned unchanged.
    """
    ann = _unwrap(annotation_at(schema, path))
    if not _is_number(ann):
        return value
    if isinstance(value, str):
        parsed = _number(ann, value)
        return value if parsed is None else parsed
    if ann is float and isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1:
        for m in _NUMBER.finditer(message.replace("$", "")):
            if float(m.group().replace(",", ".")) == value and _PERCENT.match(message.replace("$", ""), m.end()):
                return value / 100
    return value
