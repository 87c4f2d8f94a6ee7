"""LangGraph features beyond a straight line run unchanged on StatelineSqliteSaver."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, Send, interrupt
from tests.checkpointing.storage_helpers import cfg


class Flow(TypedDict, total=False):
    items: Annotated[list, operator.add]
    answer: str


def test_interrupt_and_resume_with_a_value(db):
    def ask(state: Flow) -> dict:
        return {"answer": interrupt("approve?")}

    builder = StateGraph(Flow)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    graph = builder.compile(checkpointer=db.saver)
    graph.invoke({"items": ["x"]}, cfg("t"), durability="sync")
    state = graph.get_state(cfg("t"))
    assert state.interrupts and state.interrupts[0].value == "approve?"
    result = graph.invoke(Command(resume="yes"), cfg("t"), durability="sync")
    assert result["answer"] == "yes" and result["items"] == ["x"]


def test_subgraph_and_parallel_sends(db):
    def child_step(state: Flow) -> dict:
        return {"items": ["child"]}

    child = StateGraph(Flow)
    child.add_node("child_step", child_step)
    child.add_edge(START, "child_step")
    child.add_edge("child_step", END)

    def fan_out(state: Flow) -> list[Send]:
        return [Send("work", {"items": [f"job{i}"]}) for i in range(3)]

    def work(state: Flow) -> dict:
        return {"items": [f"done:{state['items'][-1]}"]}

    def build(saver):
        builder = StateGraph(Flow)
        builder.add_node("sub", child.compile())
        builder.add_node("work", work)
        builder.add_edge(START, "sub")
        builder.add_conditional_edges("sub", fan_out, ["work"])
        builder.add_edge("work", END)
        return builder.compile(checkpointer=saver)

    ours, reference = build(db.saver), build(InMemorySaver())
    for _ in range(2):
        result = ours.invoke({"items": ["start"]}, cfg("t"), durability="sync")
        expected = reference.invoke({"items": ["start"]}, cfg("t"), durability="sync")
    assert result == expected and any(i.startswith("done:") for i in result["items"])
    db.saver.values.forget_all()
    assert ours.get_state(cfg("t")).values == reference.get_state(cfg("t")).values
    assert len(list(ours.get_state_history(cfg("t")))) == len(list(reference.get_state_history(cfg("t"))))
