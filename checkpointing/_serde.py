"""LangGraph's serializer with a fast path for reading LangChain messages back.

A long thread's state is mostly its message list: a restarted process rebuilds
thousands of ``HumanMessage``/``AIMessage`` objects before its first turn. LangGraph's
``JsonPlusSerializer`` imports the module and runs pydantic validation for each one
(``cls(**fields)``), though the fields are exactly what ``model_dump()`` of an already
validated message produced. Re-validating such a dump changes nothing, so here a
message whose stored fields are exactly its class's fields is built directly
(``__dict__`` set, no validators) -- the same object ``cls(**fields)`` returns, at a
third of the cost. Anything else (another class, a field added or removed by a
different langchain-core version, other extension types) goes through LangGraph's own
hook unchanged, with its allowlist.

Writing is untouched: the bytes on disk are LangGraph's, readable by a stock serializer.
"""

from __future__ import annotations

from typing import Any

import ormsgpack
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    HumanMessageChunk,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.serde.jsonplus import EXT_PYDANTIC_V2, JsonPlusSerializer

_MESSAGE_CLASSES = (
    AIMessage, AIMessageChunk, ChatMessage, FunctionMessage, HumanMessage, HumanMessageChunk,
    RemoveMessage, SystemMessage, ToolMessage,
)  # fmt: skip
_FAST: dict[tuple[str, str], tuple[type, frozenset[str], bool]] = {
    (cls.__module__, cls.__name__): (cls, frozenset(cls.model_fields), cls.model_config.get("extra") == "allow")
    for cls in _MESSAGE_CLASSES
    if not cls.__private_attributes__
}
"""(module, class name) -> (class, its field names, whether extra fields are allowed)."""

_OPTION = ormsgpack.OPT_NON_STR_KEYS
_new = object.__new__
_set = object.__setattr__


def build_message(cls: type, fields: dict[str, Any], extra_allowed: bool) -> Any:
    """What ``cls(**fields)`` returns for a complete dump of a valid message, minus validation."""
    obj: Any = _new(cls)
    _set(obj, "__dict__", fields)
    _set(obj, "__pydantic_fields_set__", set(fields))
    _set(obj, "__pydantic_extra__", {} if extra_allowed else None)
    _set(obj, "__pydantic_private__", None)
    return obj


class FastReadSerializer(JsonPlusSerializer):
    """``JsonPlusSerializer`` whose msgpack reads build LangChain messages without re-validation."""

    @property
    def _stock_hook(self) -> Any:
        """LangGraph's hook (with its allowlist) for every other extension type.

        Read on each call, never captured: ``with_msgpack_allowlist`` clones the
        serializer and gives the clone a hook of its own allowlist."""
        return self.__dict__.get("_unpack_ext_hook")

    def loads_typed(self, data: tuple[str, bytes]) -> Any:
        if data[0] != "msgpack" or self._stock_hook is None:
            return super().loads_typed(data)
        return ormsgpack.unpackb(data[1], ext_hook=self._ext_hook, option=_OPTION)

    def _ext_hook(self, code: int, data: bytes) -> Any:
        if code == EXT_PYDANTIC_V2:
            tup = ormsgpack.unpackb(data, ext_hook=self._ext_hook, option=_OPTION)
            fast = _FAST.get((tup[0], tup[1])) if len(tup) >= 3 and isinstance(tup[2], dict) else None
            if fast is not None and fast[1] == tup[2].keys():
                return build_message(fast[0], tup[2], fast[2])
        hook = self._stock_hook
        assert hook is not None
        return hook(code, data)
