"""A real LangGraph graph checkpoints and resumes, and the store round-trips, on every backend."""

from __future__ import annotations

import operator
from typing import Annotated, TypedDict

import pytest
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from stateline.checkpointing import open_database


class State(TypedDict):
    log: Annotated[list[str], operator.add]
    name: str


def build(saver, calls: dict[str, int], *, fail_second: bool = False):
    def first(state: State) -> dict:
        calls["first"] = calls.get("first", 0) + 1
        return {"log": ["first"], "name": "Ada"}

    def second(state: State) -> dict:
        calls["second"] = calls.get("second", 0) + 1
        if fail_second:
            raise RuntimeError("process died here")
        return {"log": [f"second saw {state['name']}"]}

    g = StateGraph(State)
    g.add_node("first", first)
    g.add_node("second", second)
    g.add_edge(START, "first")
    g.add_edge("first", "second")
    g.add_edge("second", END)
    return g.compile(checkpointer=saver)


def test_graph_checkpoints_and_resumes_after_reopen(db_url: str) -> None:
    cfg = {"configurable": {"thread_id": "conv-1"}}
    calls: dict[str, int] = {}
    with open_database(db_url) as db:
        graph = build(db.saver, calls, fail_second=True)
        with pytest.raises(RuntimeError, match="process died"):
            graph.invoke({"log": ["hello"]}, cfg, durability="sync")
    with open_database(db_url) as db:  # a new process, in effect
        graph = build(db.saver, calls)
        snap = graph.get_state(cfg)
        assert snap.next == ("second",) and any(t.error for t in snap.tasks)
        out = graph.invoke(None, cfg, durability="sync")
        assert out["log"] == ["hello", "first", "second saw Ada"]
        assert calls == {"first": 1, "second": 2}  # the finished node was not re-run
        assert graph.get_state(cfg).tasks == ()
        assert len(list(db.saver.list(cfg))) >= 3


def test_interrupt_and_resume(db_url: str) -> None:
    def ask(state: State) -> dict:
        answer = interrupt("your name?")
        return {"name": answer, "log": [f"hi {answer}"]}

    g = StateGraph(State)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    cfg = {"configurable": {"thread_id": "conv-2"}}
    with open_database(db_url) as db:
        graph = g.compile(checkpointer=db.saver)
        graph.invoke({"log": []}, cfg)
        assert graph.get_state(cfg).interrupts[0].value == "your name?"
    with open_database(db_url) as db:
        graph = g.compile(checkpointer=db.saver)
        out = graph.invoke(Command(resume="Grace"), cfg)
        assert out == {"log": ["hi Grace"], "name": "Grace"}
        db.saver.delete_thread("conv-2")
        assert graph.get_state(cfg).values == {}


def test_store_round_trip(db_url: str) -> None:
    with open_database(db_url) as db:
        db.store.put(("users", "u1"), "prefs", {"lang": "fr", "size": 42})
        db.store.put(("users", "u1"), "other", {"lang": "en", "size": 7})
        db.store.put(("users", "u2"), "prefs", {"lang": "de"})
    with open_database(db_url) as db:
        item = db.store.get(("users", "u1"), "prefs")
        assert item is not None and item.value == {"lang": "fr", "size": 42}
        found = db.store.search(("users",), filter={"lang": "fr"})
        assert [(i.namespace, i.key) for i in found] == [(("users", "u1"), "prefs")]
        assert sorted(db.store.list_namespaces(prefix=("users",))) == [("users", "u1"), ("users", "u2")]
        db.store.delete(("users", "u1"), "prefs")
        assert db.store.get(("users", "u1"), "prefs") is None
