"""The Python event API: App.stream / App.astream, stored offsets, same shape on both providers."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from pydantic import BaseModel

from stateline.examples.storefront import create_agents
from stateline.graphs import Agent
from stateline.nodes import OpenAIProvider
from stateline import App, InvalidInputError, ThreadBusyError, UnknownThreadError
from stateline._events import EVENT_TYPES, parse_event
from tests.fake_openai import FakeOpenAI, last_user_text, schema_name

from tests.server_kit import kinds

TURNS = [
    "Tell me a joke",  # nobody handles it: the supervisor answers
    "I'd like to sell a product: title Red Ceramic Mug, price 12.50",  # listing asks for the rest
    "Hmm, what price should I charge? cost 6, margin 45%",  # switch to pricing, act
]


def storefront_app(db, provider=None, approval=False):
    app = App(db=db, provider=provider, workflow="storefront")
    for agent in create_agents(app.database):
        # confirm=False: the same acts on both providers (a model provider confirms by default)
        app.register(replace(agent, approval=approval and agent.name == "listing", confirm=False))
    return app


def dump(events):
    return [
        {k: v for k, v in e.model_dump().items() if k not in ("ts", "run_id", "call_id", "duration_ms")} for e in events
    ]


def test_sync_and_async_streams_give_the_same_events(tmp_path):
    with storefront_app(f"sqlite:///{tmp_path}/a.db") as a, storefront_app(f"sqlite:///{tmp_path}/b.db") as b:
        sync = [list(a.stream("t", text)) for text in TURNS]

        async def collect():
            return [[e async for e in b.astream("t", text)] for text in TURNS]

        asynced = asyncio.run(collect())
        assert [dump(t) for t in sync] == [dump(t) for t in asynced]
        assert a.events("t") == sum(sync, [])  # every event was stored, in order
        assert [e.offset for e in a.events("t", after=5)] == list(range(6, sum(map(len, sync)) + 1))
    assert kinds([e.model_dump() for e in sync[0]]) == [
        "agent_start",
        "content_chunk",
        "agent_complete",
        "conversation_end",
    ]
    assert sync[0][0].agent == "supervisor"


def test_events_round_trip_through_json():
    from stateline._events import ConversationEnd, ContentChunk

    for event in [
        ContentChunk(thread_id="t", agent="a", text="hi", offset=3),
        ConversationEnd(thread_id="t", status="waiting"),
    ]:
        again = parse_event(event.model_dump_json())
        assert type(again) is type(event) and again == event
    assert set(EVENT_TYPES) == {m.model_fields["type"].default for m in _members()}


def _members():
    from typing import get_args

    from stateline._events import Event

    return get_args(get_args(Event)[0])


def scripted_model(request):
    text = last_user_text(request)
    name = schema_name(request)
    if name in ("RouteChoice", "RouteAndFields"):
        agent = "listing" if "sell" in text else ("pricing" if "price" in text else "none")
        return {"agent": agent}
    if name == "ListingFields":
        return {"title": "Red Ceramic Mug", "price": 12.5, "category": None, "description": None}
    if name == "PriceQuestionFields":
        return {"cost": 6.0, "margin": 0.45}
    return "I can't help with that directly. Here is what I can do: listing, pricing and analytics."


def test_offline_and_openai_providers_give_the_same_event_shape(tmp_path):
    with FakeOpenAI(scripted_model) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url, api_key="k")
        with (
            storefront_app(f"sqlite:///{tmp_path}/o.db", provider) as online,
            storefront_app(f"sqlite:///{tmp_path}/f.db") as offline,
        ):
            for text in TURNS:
                on = [e.model_dump() for e in online.stream("t", text)]
                off = [e.model_dump() for e in offline.stream("t", text)]
                assert kinds(on) == kinds(off), text
                for events in (on, off):  # chunks always add up to the reply
                    chunks = "".join(e["text"] for e in events if e["type"] == "content_chunk")
                    assert chunks == "".join(e["text"] for e in events if e["type"] == "agent_complete")
        streamed = [r for r in server.requests if r.get("stream")]
        assert streamed, "the fallback reply must come from the model's token stream"


def test_bad_requests_raise_before_anything_runs(tmp_path):
    with storefront_app(f"sqlite:///{tmp_path}/x.db", approval=True) as app:
        with pytest.raises(InvalidInputError):
            app.stream("t", "   ")
        with pytest.raises(UnknownThreadError):
            app.stream("nobody", decision={"action": "approve"})
        list(app.stream("t", "Sell a product: title Mug, price 3, category kitchen, description: A nice mug"))
        assert app.status("t") == "waiting"
        with pytest.raises(InvalidInputError, match="waiting for approval"):
            app.stream("t", "hello")
        with pytest.raises(InvalidInputError):
            app.stream("t", decision={"action": "maybe"})
        assert app.events("t")[-1].status == "waiting"
        turn = app.stream("t", decision={"action": "approve"})
        next(turn)  # the turn holds the thread until it ends
        with pytest.raises(ThreadBusyError):
            app.stream("t", decision={"action": "approve"})
        rest = list(turn)
        assert rest[-1].status == "completed"


class Boom(BaseModel):
    x: int


def test_a_failing_action_ends_the_stream_with_error_and_resumes(tmp_path):
    calls = []

    def explode(q: Boom) -> str:
        calls.append(q.x)
        if len(calls) == 1:
            raise RuntimeError("disk on fire")
        return "fine now"

    with App([Agent(name="boom", description="Explodes once", intents=["explode"], schema=Boom, act=explode)],
             db=f"sqlite:///{tmp_path}/e.db") as app:
        failed = list(app.stream("t", "explode x 3"))
        assert [e.type for e in failed][-3:] == ["tool_result", "error", "conversation_end"]
        assert failed[-2].message == "disk on fire" and failed[-2].node == "act" and failed[-1].status == "failed"
        assert app.status("t") == "failed"
        resumed = list(app.stream("t"))  # finish the interrupted turn
        assert resumed[0].type == "resumed" and resumed[0].reason == "recovery"
        assert resumed[-1].status == "completed" and calls == [3, 3]


def test_a_message_on_a_failed_thread_starts_anew_and_says_so(tmp_path):
    def explode(q: Boom) -> str:
        if q.x == 1:
            raise RuntimeError("bad input one")
        return f"ok {q.x}"

    with App([Agent(name="boom", description="Explodes on one", intents=["explode"], schema=Boom, act=explode)],
             db=f"sqlite:///{tmp_path}/r.db") as app:
        assert list(app.stream("t", "explode x 1"))[-1].status == "failed"
        events = list(app.stream("t", "explode x 2"))
        assert events[0].type == "resumed" and events[0].reason == "restart"
        assert events[-1].status == "completed"
        assert [e.text for e in events if e.type == "agent_complete"] == ["ok 2"]
