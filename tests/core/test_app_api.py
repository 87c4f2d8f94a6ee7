"""The App facade validates input with typed errors and reports hooks in order."""

from __future__ import annotations

import pytest

from stateline.graphs import HookSet
from stateline import App
from stateline.errors import InvalidInputError, SetupError, StatelineError, UnknownThreadError

from .agents import make_agents


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def run_started(self, *, thread_id, **kw):
        self.events.append(("run_started", thread_id))

    def node_started(self, *, graph, node, **kw):
        self.events.append(("node_started", graph, node))

    def node_finished(self, *, graph, node, duration_s, **kw):
        assert duration_s >= 0
        self.events.append(("node_finished", graph, node))

    def node_failed(self, *, graph, node, error, **kw):
        self.events.append(("node_failed", graph, node, type(error).__name__))

    def agent_switched(self, *, from_agent, to_agent, **kw):
        self.events.append(("agent_switched", from_agent, to_agent))

    def run_finished(self, *, status, **kw):
        self.events.append(("run_finished", status))


class Broken:
    def node_started(self, **kw):
        raise RuntimeError("observer bug")


@pytest.fixture
def app(db_url):
    with App(make_agents(), db=db_url) as app:
        yield app


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda a: a.send("", "hi"), "thread id"),
        (lambda a: a.send("t", ""), "message is empty"),
        (lambda a: a.send("t", None), "message must be text"),
        (lambda a: a.send("t", "x" * 20_001), "limit is 20000"),
        (lambda a: a.send("t", "hi", user_id="bad user"), "user id"),
        (lambda a: a.state("nope"), "unknown thread 'nope'"),
        (lambda a: list(a.history("nope")), "unknown thread 'nope'"),
        (lambda a: a.resume("nope"), "unknown thread 'nope'"),
        (lambda a: a.resume("t1", decision={"action": "approve"}), "not waiting"),
    ],
)
def test_bad_calls_raise_typed_errors_and_store_nothing(app, call, match):
    app.send("t1", "order: item mug")
    before = app.state("t1")
    with pytest.raises(StatelineError, match=match):
        call(app)
    assert app.state("t1") == before
    assert [t.thread_id for t in app.list_threads()] == ["t1"]


def test_hooks_see_runs_nodes_and_switches_in_order(app):
    recorder = Recorder()
    app.add_hook(recorder)
    app.add_hook(Broken())  # a failing observer never breaks the conversation
    app._graph = None
    app.send("t", "order: item mug, quantity 1, size small")
    assert recorder.events == [
        ("run_started", "t"),
        ("node_started", "supervisor", "route"),
        ("agent_switched", None, "orders"),
        ("node_finished", "supervisor", "route"),
        ("node_started", "orders", "collect"),
        ("node_finished", "orders", "collect"),
        ("node_started", "orders", "validate"),
        ("node_finished", "orders", "validate"),
        ("node_started", "orders", "act"),
        ("node_finished", "orders", "act"),
        ("run_finished", "completed"),
    ]


def test_a_failing_act_is_reported_and_the_thread_is_marked_failed(tmp_path):
    from stateline.graphs import Agent

    from .agents import Order

    def explode(order):
        raise ValueError("payment service said no")

    recorder = Recorder()
    agent = Agent(name="orders", description="Place orders", intents=["order"], schema=Order, act=explode)
    with App([agent], db=f"sqlite:///{tmp_path}/f.db", hooks=[recorder]) as app:
        with pytest.raises(ValueError, match="payment service"):
            app.send("t", "order: item mug, quantity 1, size small")
        assert ("node_failed", "orders", "act", "ValueError") in recorder.events
        assert recorder.events[-1] == ("run_finished", "failed")
        view = app.state("t")
        assert view.status == "failed" and "payment service said no" in view.errors[0]


def test_setup_errors():
    with pytest.raises(SetupError, match="durability"):
        App(db="memory", durability="sometimes")
    with pytest.raises(SetupError, match="no hook method"):
        HookSet().add(object())
    with pytest.raises(InvalidInputError):
        App(db="memory").send("t", "   ")
    with pytest.raises(UnknownThreadError):
        App(db="memory").state("missing")
