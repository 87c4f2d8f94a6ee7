"""The OpenAI provider through langchain-openai against a real OpenAI-compatible server."""

from __future__ import annotations

import pytest

from stateline.examples.storefront import create_agents
from stateline.nodes import OpenAIProvider, provider_from_env
from stateline import App
from stateline.errors import ConfigError, ModelProviderError
from tests.fake_openai import FakeOpenAI, last_user_text, schema_name

ROUTES = {"sell": "listing", "charge": "pricing", "garden": "listing", "yes": "listing"}
FIELDS = {
    "sell": {"title": "Blue Vase", "price": 30.0, "category": None, "description": None},
    "garden": {"title": None, "price": None, "category": "garden", "description": "A glazed vase for flowers"},
    "charge": {"cost": 10.0, "margin": 0.5},
}


def storefront_model(request: dict) -> str | dict:
    """A scripted model: routes and extracts by keywords, answers plain text otherwise."""
    text = last_user_text(request)
    name = schema_name(request)
    agent = next((a for k, a in ROUTES.items() if k in text), "none")
    fields = next((v for k, v in FIELDS.items() if k in text), {})
    if name == "RouteChoice":
        return {"agent": agent}
    if name == "RouteAndFields":
        return {"agent": agent, "fields": fields or None}
    if name and name.endswith("Fields"):
        return fields
    return "I can list products, suggest prices and answer sales questions."


@pytest.mark.parametrize("method", ["json_schema", "function_calling", "json_mode", "auto"])
def test_agents_run_unchanged_on_the_openai_provider(tmp_path, method):
    with FakeOpenAI(storefront_model) as server:
        provider = OpenAIProvider(model="test-model", base_url=server.base_url, api_key="k", method=method)
        with App(db=f"sqlite:///{tmp_path}/o.db", provider=provider) as app:
            for agent in create_agents(app.database):
                app.register(agent)
            first = app.send("t", "I want to sell a Blue Vase for $30")
            assert first.agent == "listing"
            assert "category" in first.reply and "description" in first.reply
            assert app.state("t").drafts["listing"] == {"title": "Blue Vase", "price": 30.0}
            shown = app.send("t", "put it in garden, description: a glazed vase for flowers")
            assert "Please confirm" in shown.reply and "garden" in shown.reply  # a model filled it: confirm first
            assert "Published" not in shown.reply
            done = app.send("t", "yes")
            assert "Published 'Blue Vase' in garden at $30.00" in done.reply
            other = app.send("t", "what is the weather")
            assert other.agent is None
            assert "I can list products" in other.reply  # a plain reply written by the model
    kinds = {schema_name(r) for r in server.requests}
    assert {"RouteChoice", "ListingFields", None} <= kinds
    if method in ("json_schema", "auto"):
        assert any((r.get("response_format") or {}).get("type") == "json_schema" for r in server.requests)
    elif method == "function_calling":
        assert any(r.get("tools") for r in server.requests)
    else:
        assert any((r.get("response_format") or {}).get("type") == "json_object" for r in server.requests)


def test_streamed_reply_comes_in_chunks():
    with FakeOpenAI(lambda req: "one two three") as server:
        provider = OpenAIProvider(model="m", base_url=server.base_url, method="json_mode")
        chunks = list(provider.stream_reply("be brief", "facts"))
    assert "".join(chunks) == "one two three" and len(chunks) == 3


def test_server_errors_become_typed_transient_errors():
    provider = OpenAIProvider(model="m", base_url="http://127.0.0.1:9/v1", timeout=2, max_retries=0)
    with pytest.raises(ModelProviderError) as info:
        provider.reply("x", "y")
    assert info.value.transient is True


def test_provider_selection_from_environment():
    assert provider_from_env({}).name == "offline"
    chosen = provider_from_env({"STATELINE_OPENAI_BASE_URL": "http://127.0.0.1:1/v1", "STATELINE_MODEL": "m"})
    assert chosen.name == "openai" and chosen.model == "m"
    assert provider_from_env({"OPENAI_API_KEY": "k", "STATELINE_PROVIDER": "offline"}).name == "offline"
    with pytest.raises(ConfigError):
        provider_from_env({"OPENAI_API_KEY": "k", "STATELINE_STRUCTURED_OUTPUT": "xml"})
    with pytest.raises(ConfigError):
        provider_from_env({"STATELINE_PROVIDER": "llama"})
