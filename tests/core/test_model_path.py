"""The grounded model path against a real OpenAI-compatible HTTP server (tests/fake_openai.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from stateline.errors import ConfigError, ModelProviderError
from stateline.examples.storefront import PriceQuestion, create_agents
from stateline.graphs import Agent
from stateline.nodes import AgentCard, OpenAIProvider, provider_from_env

from stateline import App
from tests.fake_openai import (
    NO_TOOL_CALL,
    TOOL_CALLS,
    FakeOpenAI,
    last_user_text,
    schema_name,
)

CARDS = [AgentCard("listing", "Create listings", ("sell",)), AgentCard("pricing", "Suggest prices", ("price",))]


def _system(request: dict) -> str:
    return "\n".join(m["content"] for m in request["messages"] if m["role"] == "system")


def _schema(request: dict) -> dict:
    fmt = request.get("response_format") or {}
    if fmt.get("type") == "json_schema":
        return fmt["json_schema"]["schema"]
    return request["tools"][0]["function"]["parameters"]


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_router_answer_is_an_enum_of_the_agents_and_none(method):
    with FakeOpenAI(lambda r: {"agent": "pricing"}) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url, method=method)
        assert provider.route("how much should I charge", CARDS, active=None).agent == "pricing"
        provider.route("12", CARDS, active="listing")
    schema = _schema(server.requests[0])
    assert schema["properties"]["agent"]["enum"] == ["listing", "pricing", "none"]
    assert set(schema["properties"]) == {"agent"}  # no free-text reason to generate
    assert "No agent is active" not in _system(server.requests[0])
    assert "only when the message fits none" in _system(server.requests[0])
    assert "listing assistant asked the user for" in _system(server.requests[1])


def test_extraction_keeps_only_what_the_message_states_and_normalises_percent():
    def model(request: dict) -> dict:
        text = last_user_text(request)
        if "twelve fifty" in text:  # invents a price, a category and a title
            return {"title": "Great listing", "price": 125, "category": "kitchen", "description": None}
        return {"cost": 6, "margin": 35.0}

    with FakeOpenAI(model) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url, method="json_schema")
        from stateline.examples.storefront import Listing

        draft = {"title": "Secret Draft Title", "price": 99.0}
        assert provider.extract(Listing, "I'm thinking twelve fifty each.", draft=draft, asked=["price"]) == {}
        assert provider.extract(PriceQuestion, "cost 6, margin 35 percent", draft={}, asked=[]) == {
            "cost": 6, "margin": 0.35
        }
    prompt = _system(server.requests[0])
    assert "Secret Draft Title" not in prompt and "99" not in prompt  # no draft values to copy back
    assert "Examples:" in prompt and "the product's name" in prompt  # few-shot built from field descriptions


def test_one_re_ask_with_the_error_then_a_typed_error():
    answers = iter(["not json at all", {"cost": 6, "margin": 0.4}])
    with FakeOpenAI(lambda r: next(answers)) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url, method="json_schema")
        assert provider.extract(PriceQuestion, "cost 6 margin 40%", draft={}, asked=[]) == {"cost": 6, "margin": 0.4}
    assert len(server.requests) == 2
    assert "not usable" in server.requests[1]["messages"][-1]["content"]

    with FakeOpenAI(lambda r: NO_TOOL_CALL) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url, method="function_calling")
        with pytest.raises(ModelProviderError, match="function_calling"):
            provider.route("hello", CARDS, active=None)  # never AttributeError on a missing tool call
        with pytest.raises(ModelProviderError):
            provider.extract(PriceQuestion, "cost 6", draft={}, asked=[])
    assert len(server.requests) == 4  # each call asked once more before failing


def test_an_invalid_value_is_sent_back_once():
    answers = iter([{"cost": 6, "margin": 0.0}, {"cost": 6, "margin": 0.45}])
    with FakeOpenAI(lambda r: next(answers)) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url, method="json_schema")
        found = provider.extract(PriceQuestion, "cost 6, margin 0 or maybe 0.45", draft={}, asked=[])
    assert found == {"cost": 6, "margin": 0.45}
    assert "margin" in server.requests[1]["messages"][-1]["content"]


def test_auto_probes_the_method_once_and_json_mode_works():
    def picky(request: dict):
        if (request.get("response_format") or {}).get("type") == "json_schema":
            return (400, "response_format json_schema is not supported")
        return {"agent": "listing"}

    with FakeOpenAI(picky) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url)  # method auto
        for _ in range(3):
            assert provider.route("sell my bike", CARDS, active=None).agent == "listing"
    assert provider.method == "auto" and [bool(r.get("tools")) for r in server.requests] == [False, True, True, True]

    with FakeOpenAI(lambda r: (400, "nothing structured here")) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url)
        with pytest.raises(ModelProviderError, match="no structured-output method worked"):
            provider.route("x", CARDS, active=None)

    with FakeOpenAI(lambda r: {"agent": "pricing"}) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url, method="json_mode")
        assert provider.route("price?", CARDS, active=None).agent == "pricing"
    assert server.requests[0]["response_format"]["type"] == "json_object"


def test_settings_from_the_environment():
    with FakeOpenAI(lambda r: "hi") as server:
        env = {"STATELINE_OPENAI_BASE_URL": server.base_url, "STATELINE_MODEL_MAX_TOKENS": "77",
               "STATELINE_MODEL_TIMEOUT": "5", "STATELINE_MODEL_MAX_RETRIES": "0"}
        provider = provider_from_env(env)
        assert provider.reply("x", "y") == "hi"
    assert 77 in (server.requests[0].get("max_tokens"), server.requests[0].get("max_completion_tokens"))
    assert provider._llm.request_timeout == 5.0 and provider._llm.max_retries == 0
    for name, bad in [("STATELINE_MODEL_TIMEOUT", "soon"), ("STATELINE_MODEL_MAX_RETRIES", "-1"),
                      ("STATELINE_MODEL_MAX_TOKENS", "0")]:
        with pytest.raises(ConfigError, match=name):
            provider_from_env({"STATELINE_OPENAI_BASE_URL": "http://127.0.0.1:1/v1", name: bad})


def storefront(request: dict):
    text = last_user_text(request).lower()
    name = schema_name(request)
    if name in ("RouteChoice", "RouteAndFields"):
        agent = "pricing" if "charge" in text else "listing"
        fields = {"title": None, "price": 18.0 if "18" in text else None, "category": None, "description": None}
        return {"agent": agent, "fields": fields} if name == "RouteAndFields" else {"agent": agent}
    if name == "ListingFields":
        return {"title": "Oak Stool", "price": None, "category": None, "description": None}
    if name == "PriceQuestionFields":
        return (400, "the model is overloaded") if "boom" in text else {"cost": None, "margin": None}
    return "ok"


@contextmanager
def storefront_app(tmp_path) -> Iterator[tuple[FakeOpenAI, App]]:
    """The storefront agents on an App whose model is the fake OpenAI server answering ``storefront``."""
    with FakeOpenAI(storefront) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url, method="json_schema")
        with App(db=f"sqlite:///{tmp_path}/o.db", provider=provider) as app:
            for agent in create_agents(app.database):
                app.register(agent)
            yield server, app


def test_one_model_call_per_turn_while_an_agent_collects(tmp_path):
    with storefront_app(tmp_path) as (server, app):
        app.send("t", "sell an Oak Stool")
        before = len(server.requests)
        turn = app.send("t", "put it up at 18 dollars")
        assert len(server.requests) - before == 1  # route and extract in one call
        assert app.state("t").drafts["listing"] == {"title": "Oak Stool", "price": 18.0}
        assert "title" not in turn.reply.split("need:")[1]  # no invented 'Great listing' title
        n = len(server.requests)
        assert "Cancelled" in app.send("t", "cancel").reply  # deterministic: no model call at all
        assert len(server.requests) == n and not app.state("t").drafts.get("listing")


def test_a_failed_turn_does_not_leave_its_route_as_the_active_agent(tmp_path):
    with storefront_app(tmp_path) as (server, app):
        app.send("t", "sell an Oak Stool")
        assert app.state("t").active_agent == "listing"
        with pytest.raises(ModelProviderError):
            app.send("t", "what should I charge? boom")  # routed to pricing, whose extraction fails
        assert app.state("t").active_agent == "listing"
        app.send("t", "18")
        assert app.state("t").drafts["listing"]["price"] == 18.0  # the next message went to listing


class Lookup(BaseModel):
    sku: str = Field(description="the stock code")


def test_an_agent_uses_tools_through_the_effect_ledger(tmp_path):
    ran: list[str] = []

    @tool
    def stock(sku: str) -> str:
        """How many units of ``sku`` are in stock."""
        ran.append(sku)
        return f"{sku}: 4 left"

    def model(request: dict):
        if request.get("tools") and request["tools"][0]["function"]["name"] == "stock":
            if request["messages"][-1]["role"] == "tool":
                return f"There are {request['messages'][-1]['content']}."
            return {TOOL_CALLS: [{"name": "stock", "args": {"sku": "AB-1"}}]}
        name = schema_name(request)
        if name in ("RouteChoice", "RouteAndFields"):
            return {"agent": "stock"}
        return {"sku": "AB-1"}

    def act(q: Lookup, ctx) -> str:
        return ctx.use_tools(f"How many {q.sku} do we have?")

    agent = Agent(name="stock", description="Check stock", intents=["stock"], schema=Lookup, act=act,
                  tools=[stock], confirm=False)
    with FakeOpenAI(model) as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url, method="json_schema")
        with App([agent], db=f"sqlite:///{tmp_path}/t.db", provider=provider) as app:
            assert app.send("t", "stock of sku AB-1").reply == "There are AB-1: 4 left."
            effects = [e for e in app.ops.ledger.list() if e.name == "tool:stock"]
    assert ran == ["AB-1"] and len(effects) == 1 and effects[0].status == "done"
    offline = App([agent], db=f"sqlite:///{tmp_path}/off.db")
    with offline, pytest.raises(ModelProviderError, match="need a model"):  # tools need a model: a typed error
        offline.send("t", "stock sku AB-1")


def test_a_message_that_names_an_agent_outright_needs_no_routing_call(tmp_path):
    with storefront_app(tmp_path) as (server, app):
        turn = app.send("t", "list a product: title Oak Stool, price 18")
        assert turn.agent == "listing"
    assert [schema_name(r) for r in server.requests] == ["ListingFields"]  # one call: extraction only
