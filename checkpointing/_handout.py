"""Copies of cached list items for readers: each reader's own, made as cheaply as Python allows.

The list cache (``_lists``) never hands out the items it holds: a reader may edit what it
got in place (LangGraph's "edit the tool call, then ``update_state``"), and no other reader
may see that. So each reader gets copies of the *mutable* items; strings, numbers and other
immutable items are shared.

A LangChain message is a pydantic model: a copy is a new instance with a copy of its
``__dict__`` in which only the fields holding mutable values (``additional_kwargs``,
``tool_calls``, a list ``content``, ...) are copied, deeply. Which fields those are is
worked out once per cached item (``plan``) and kept beside it, so a hand-out is a C-level
dict copy plus a few small containers per message (~1 us), not a walk of every field
(``copy.deepcopy`` of a message is ~25x that; decoding it from bytes ~10x).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

IMMUTABLE = frozenset({str, int, float, bool, complex, bytes, type(None)})
"""Types whose values a reader cannot change in place: shared, never copied."""
_new = object.__new__
_set = object.__setattr__

Plan = tuple[str, ...] | None
"""How to copy one cached item: None (immutable: share it), ``()`` (not a model:
``fresh``), or the names of a model's fields that hold mutable values."""
_NOT_A_MODEL: tuple[str, ...] = ()


def plan(item: Any) -> Plan:
    """How ``handout`` copies ``item`` (worked out once per cached item)."""
    if type(item) in IMMUTABLE:
        return None
    if isinstance(item, BaseModel):
        mutable = tuple(k for k, v in item.__dict__.items() if type(v) not in IMMUTABLE)
        return mutable or ("",)  # ("",): a model with no mutable field (still a new instance)
    return _NOT_A_MODEL


def _copy_model(model: Any, mutable: Sequence[str]) -> Any:
    """A pydantic model's copy (``__copy__``'s state) whose ``mutable`` fields are fresh too."""
    fields = model.__dict__.copy()
    for name in mutable:
        value = fields.get(name)
        kind = type(value)
        if kind is dict:
            fields[name] = _copy_dict(value) if value else {}
        elif kind is list:
            fields[name] = _copy_list(value) if value else []
        elif name:
            fields[name] = fresh(value)
    out = _new(type(model))
    _set(out, "__dict__", fields)
    _set(out, "__pydantic_fields_set__", set(model.__pydantic_fields_set__))
    extra = model.__pydantic_extra__
    _set(out, "__pydantic_extra__", None if extra is None else _copy_dict(extra))
    private = model.__pydantic_private__
    _set(out, "__pydantic_private__", None if private is None else {
        k: fresh(v) for k, v in private.items() if v is not PydanticUndefined})  # fmt: skip
    return out


def _copy_dict(value: dict) -> dict:
    if not value:
        return {}
    return {k: v if type(v) in IMMUTABLE else fresh(v) for k, v in value.items()}


def _copy_list(value: list) -> list:
    if not value:
        return []
    return [v if type(v) in IMMUTABLE else fresh(v) for v in value]


def _copy_tuple(value: tuple) -> tuple:
    return value if all(type(v) in IMMUTABLE for v in value) else tuple(map(fresh, value))


_COPIERS: dict[type, Callable[[Any], Any]] = {dict: _copy_dict, list: _copy_list, tuple: _copy_tuple}


def fresh(value: Any) -> Any:
    """A copy of ``value`` that shares nothing mutable with it (immutable parts are shared):
    models and JSON-like trees field by field, anything else through ``copy.deepcopy``."""
    kind = type(value)
    if kind in IMMUTABLE:
        return value
    copier = _COPIERS.get(kind)
    if copier is None:
        if issubclass(kind, BaseModel):
            return _copy_model(value, plan(value) or ())
        copier = _COPIERS[kind] = copy.deepcopy
    return copier(value)


def handout(items: Sequence[Any], plans: Sequence[Plan]) -> list[Any]:
    """What one reader gets of cached ``items`` (``plans`` beside them, as long)."""
    return [
        item if p is None else fresh(item) if p is _NOT_A_MODEL else _copy_model(item, p)
        for item, p in zip(items, plans, strict=True)
    ]
