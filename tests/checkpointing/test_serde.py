"""The fast read path builds exactly the messages LangGraph's serializer builds."""

from __future__ import annotations

import ormsgpack
import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)
from langgraph.checkpoint.serde.jsonplus import EXT_PYDANTIC_V2, JsonPlusSerializer
from pydantic import BaseModel

from stateline.checkpointing._serde import FastReadSerializer

MESSAGES = [
    HumanMessage("hi", id="h1"),
    HumanMessage([{"type": "text", "text": "block"}], name="ann", additional_kwargs={"k": [1, {"x": 2}]}),
    AIMessage(
        "",
        id="a1",
        tool_calls=[{"name": "search", "args": {"q": "toys"}, "id": "c1", "type": "tool_call"}],
        usage_metadata={"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        response_metadata={"model": "m"},
    ),
    AIMessage("plain answer"),
    AIMessageChunk("part", id="c2"),
    ToolMessage("42", tool_call_id="c1", artifact={"rows": [1, 2]}, status="error"),
    SystemMessage("be brief"),
    ChatMessage("x", role="critic"),
    FunctionMessage("y", name="f"),
    RemoveMessage(id="h1"),
]


class Custom(BaseModel):
    n: int


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_fast_read_equals_stock_read(message):
    stock = JsonPlusSerializer()
    dumped = stock.dumps_typed([message, {"nested": message}])
    fast_value = FastReadSerializer().loads_typed(dumped)
    stock_value = stock.loads_typed(dumped)
    assert fast_value == stock_value == [message, {"nested": message}]
    for fast_msg, stock_msg in ((fast_value[0], stock_value[0]), (fast_value[1]["nested"], stock_value[1]["nested"])):
        assert type(fast_msg) is type(stock_msg)
        assert fast_msg.model_fields_set == stock_msg.model_fields_set
        assert fast_msg.__pydantic_extra__ == stock_msg.__pydantic_extra__
        assert fast_msg.model_dump() == stock_msg.model_dump()
        assert stock.dumps_typed(fast_msg) == stock.dumps_typed(stock_msg)


def test_a_dump_with_other_fields_goes_through_langgraphs_hook():
    """A message written by another langchain-core version (a field more) is validated as stock does."""
    stock = JsonPlusSerializer()
    fields = {**HumanMessage("hi", id="h").model_dump(), "future_field": 1}
    payload = ormsgpack.packb(
        ormsgpack.Ext(
            EXT_PYDANTIC_V2,
            ormsgpack.packb(["langchain_core.messages.human", "HumanMessage", fields, "model_validate_json"]),
        )
    )
    assert FastReadSerializer().loads_typed(("msgpack", payload)) == stock.loads_typed(("msgpack", payload))


def test_other_types_and_formats_are_stock():
    stock = JsonPlusSerializer()
    for value in (Custom(n=3), {"a": (1, 2)}, b"raw", None, 1.5, {"when": __import__("datetime").date(2026, 1, 2)}):
        dumped = stock.dumps_typed(value)
        assert FastReadSerializer().loads_typed(dumped) == stock.loads_typed(dumped)
