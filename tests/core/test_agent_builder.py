"""Defining agents and the collect -> validate -> act graph."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from pydantic import BaseModel

from stateline.graphs import Agent, build_agent_graph
from stateline.errors import AgentDefinitionError, SetupError

from .agents import Order, make_agents


def ok(**changes):
    base = dict(name="orders", description="Place orders", intents=["buy"], schema=Order, act=lambda m: "ok")
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "field", "hint"),
    [
        ({"name": ""}, "name", "non-empty"),
        ({"name": "Has Spaces"}, "name", "lowercase"),
        ({"name": "route"}, "name", "route"),
        ({"description": " "}, "description", "sentence"),
        ({"intents": []}, "intents", "at least one"),
        ({"intents": "buy"}, "intents", "not a string"),
        ({"schema": dict}, "schema", "BaseModel"),
        ({"schema": Order(item="mug", quantity=1, size="small")}, "schema", "BaseModel"),
        ({"act": None}, "act", "act(model)"),
    ],
)
def test_invalid_definitions_fail_at_build_time_saying_how_to_fix(changes, field, hint):
    with pytest.raises(AgentDefinitionError) as info:
        Agent(**ok(**changes))
    assert info.value.field == field
    assert hint in str(info.value)
    assert isinstance(info.value, SetupError)


def test_valid_definition_builds_collect_validate_act():
    graph = build_agent_graph(Agent(**ok()))
    assert {"collect", "validate", "act"} <= set(graph.get_graph().nodes)


def turn(graph, text, thread="t"):
    return graph.invoke({"messages": [HumanMessage(text)]}, {"configurable": {"thread_id": thread}})


def test_collects_over_several_turns_and_acts_once_with_the_validated_model():
    calls: list = []
    graph = build_agent_graph(make_agents(calls)[0], checkpointer=InMemorySaver())
    first = turn(graph, "I'd like to order: item teapot")
    assert first["drafts"]["orders"] == {"item": "teapot"}
    assert "quantity (how many)" in first["messages"][-1].content
    assert "size" in first["messages"][-1].content
    second = turn(graph, "quantity 2")
    assert second["drafts"]["orders"] == {"item": "teapot", "quantity": 2}
    assert calls == []
    third = turn(graph, "large please")  # a bare answer to the question that asked for size
    assert calls == [Order(item="teapot", quantity=2, size="large")]
    assert third["messages"][-1].content == "Ordered 2 large teapot."
    assert third["drafts"]["orders"] == {}
    turn(graph, "thanks")
    assert len(calls) == 1


def test_validation_message_names_the_field_and_the_pydantic_reason():
    graph = build_agent_graph(make_agents()[0], checkpointer=InMemorySaver())
    out = turn(graph, "item teapot, quantity -3, size small")
    text = out["messages"][-1].content
    assert "quantity must be greater than 0 (you gave -3)" in text
    assert out["asked"]["orders"] == ["quantity"]
    fixed = turn(graph, "4")
    assert fixed["messages"][-1].content == "Ordered 4 small teapot."


def test_act_receives_context_when_it_asks_for_it():
    calls: list = []
    graph = build_agent_graph(make_agents(calls)[1], checkpointer=InMemorySaver())
    out = turn(graph, "order_id A-17, reason: it arrived broken", thread="th-9")
    assert out["messages"][-1].content == "Refund for A-17 filed (thread th-9)."


def test_empty_schema_acts_at_once():
    class Nothing(BaseModel):
        pass

    graph = build_agent_graph(
        Agent(name="hello", description="Say hello", intents=["greet"], schema=Nothing, act=lambda m: "hi"),
        checkpointer=InMemorySaver(),
    )
    assert turn(graph, "hello")["messages"][-1].content == "hi"
