"""graphs._runtime: stateline's runs save in the calling thread; plain LangGraph graphs are untouched."""

from __future__ import annotations

import operator
import threading
from typing import Annotated, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.pregel import _executor

from stateline.checkpointing._saver import StatelineSqliteSaver
from stateline.graphs import install_runtime, run_config
from stateline.graphs._runtime import supported
from stateline import App

from .agents import make_agents

pytestmark = pytest.mark.skipif(not supported(), reason="graphs._runtime targets langgraph 1.2.x")


class Counter(TypedDict, total=False):
    items: Annotated[list, operator.add]


def _fan_out(saver) -> object:
    """START -> a, b (one superstep with two tasks: LangGraph runs them on threads) -> END."""
    builder = StateGraph(Counter)
    for name in ("a", "b"):
        builder.add_node(name, lambda state, name=name: {"items": [(name, threading.current_thread().name)]})
        builder.add_edge(START, name)
        builder.add_edge(name, END)
    return builder.compile(checkpointer=saver)


class _ThreadLog(InMemorySaver):
    """An in-memory saver that notes which thread each save ran on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []

    def put(self, *args, **kwargs):
        self.threads.append(threading.current_thread().name)
        return super().put(*args, **kwargs)


@pytest.fixture
def thread_starts(monkeypatch) -> list[str]:
    started: list[str] = []
    original = threading.Thread.start

    def start(self) -> None:
        started.append(self.name)
        original(self)

    monkeypatch.setattr(threading.Thread, "start", start)
    return started


def test_a_turn_saves_in_the_calling_thread_and_starts_no_threads(tmp_path, monkeypatch, thread_starts) -> None:
    saves: list[str] = []
    original = StatelineSqliteSaver.put

    def put(self, *args, **kwargs):
        saves.append(threading.current_thread().name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StatelineSqliteSaver, "put", put)
    with App(make_agents([]), db=f"sqlite:///{tmp_path / 'a.db'}") as app:
        app.send("t", "warm up")
        thread_starts.clear()
        saves.clear()
        assert app.send("t", "I want to order a thing: item lamp, quantity 2").agent == "orders"
    assert thread_starts == []
    assert saves and set(saves) == {threading.current_thread().name}
    assert getattr(_executor.get_executor_for_config, "stateline", False)


def test_plain_langgraph_graphs_keep_their_thread_pool() -> None:
    install_runtime()
    saver = _ThreadLog()
    graph = _fan_out(saver)
    out = graph.invoke({"items": []}, {"configurable": {"thread_id": "plain"}}, durability="sync")
    me = threading.current_thread().name
    assert sorted(n for n, _ in out["items"]) == ["a", "b"]
    assert saver.threads and me not in saver.threads  # stock: every save on a pool thread


def test_a_marked_run_still_runs_parallel_tasks_on_threads() -> None:
    install_runtime()
    saver = _ThreadLog()
    graph = _fan_out(saver)
    out = graph.invoke({"items": []}, run_config({"thread_id": "ours"}), durability="sync")
    me = threading.current_thread().name
    assert sorted(n for n, _ in out["items"]) == ["a", "b"]
    assert any(thread != me for _, thread in out["items"])  # the second task went to the run's pool
    assert set(saver.threads) == {me}


def test_a_marked_run_without_sync_durability_keeps_saves_in_the_background() -> None:
    install_runtime()
    saver = _ThreadLog()
    graph = _fan_out(saver)
    graph.invoke({"items": []}, run_config({"thread_id": "async"}), durability="async")
    assert saver.threads and threading.current_thread().name not in saver.threads


def test_agents_without_approval_store_no_checkpoints_of_their_own(tmp_path) -> None:
    with App(make_agents([]), db=f"sqlite:///{tmp_path / 'a.db'}") as app:
        app.send("t", "I want to order a thing: item lamp, quantity 2")
        namespaces = {
            ns for (ns,) in app.database.saver.conn.execute("SELECT DISTINCT checkpoint_ns FROM sl_checkpoints")
        }
    assert namespaces == {""}


def test_approval_agents_keep_their_checkpoints(tmp_path) -> None:
    from tests.lifecycle.apps import agents

    with App(agents(), db=f"sqlite:///{tmp_path / 'a.db'}") as app:
        assert app.send("t", "pay amount 3").status == "waiting"
        namespaces = {
            ns for (ns,) in app.database.saver.conn.execute("SELECT DISTINCT checkpoint_ns FROM sl_checkpoints")
        }
        assert any(ns.startswith("pay:") for ns in namespaces)
        assert app.resume("t", decision={"action": "approve"}).reply == "paid 3.0"


def test_head_is_idle_only_where_status_says_idle(tmp_path) -> None:
    """send() skips get_state when the head alone shows the last turn finished."""
    from stateline.checkpointing import head_is_idle
    from tests.lifecycle.apps import FAILURES, agents

    with App(agents(), db=f"sqlite:///{tmp_path / 'a.db'}") as app:
        assert not head_is_idle(app.database, "t") and app.status("t") == "new"
        app.send("t", "run job: title one")
        assert head_is_idle(app.database, "t") and app.status("t") == "idle"
        app.send("w", "pay amount 3")
        assert not head_is_idle(app.database, "w") and app.status("w") == "waiting"
        FAILURES["bad"] = 1
        with pytest.raises(ValueError):
            app.send("f", "run job: title bad")
        assert not head_is_idle(app.database, "f") and app.status("f") == "failed"


def test_an_agent_hands_back_only_what_it_changed() -> None:
    from langchain_core.messages import AIMessage, HumanMessage

    from stateline.graphs._supervisor import changes

    hi, reply = HumanMessage("hi", id="1"), AIMessage("hello", id="2")
    before = {"messages": [hi], "drafts": {"a": {}}, "trail": ["a"]}
    after = {"messages": [hi, reply], "drafts": {"a": {"x": 1}}, "trail": ["a"], "active_agent": None}
    assert changes(before, after) == {"messages": [reply], "drafts": {"a": {"x": 1}}, "active_agent": None}
    assert changes(before, {**before}) == {}
    edited = HumanMessage("hi!", id="1")  # replaced by id: the whole list goes back, as before
    assert changes(before, {**before, "messages": [edited, reply]})["messages"] == [edited, reply]


def test_values_that_cannot_be_compared_are_handed_back() -> None:
    from stateline.graphs._supervisor import changes

    class Odd:
        def __eq__(self, other):
            raise ValueError("ambiguous")

    odd = Odd()
    assert changes({"results": {"a": Odd()}}, {"results": {"a": odd}}) == {"results": {"a": odd}}


def test_on_an_unknown_langgraph_agents_keep_their_checkpoints(tmp_path, monkeypatch) -> None:
    import stateline.graphs._supervisor as supervisor

    monkeypatch.setattr(supervisor, "supported", lambda: False)
    with App(make_agents([]), db=f"sqlite:///{tmp_path / 'a.db'}") as app:
        assert app.send("t", "I want to order a thing: item lamp, quantity 2").agent == "orders"
        namespaces = {
            ns for (ns,) in app.database.saver.conn.execute("SELECT DISTINCT checkpoint_ns FROM sl_checkpoints")
        }
    assert any(ns.startswith("orders:") for ns in namespaces)
