"""Routing, stickiness, switching and coming back, the no-agent reply, the registry."""

from __future__ import annotations

import pytest

from stateline.graphs import AgentRegistry
from stateline import App
from stateline.errors import AgentDefinitionError, ConfigError, UnknownAgentError

from .agents import make_agents


@pytest.fixture
def app(db_url):
    calls: list = []
    with App(make_agents(calls), db=db_url) as app:
        app.calls = calls
        yield app


def test_routes_each_message_by_intent(app):
    assert app.send("a", "I want to order a thing: item lamp").agent == "orders"
    assert app.send("b", "I need a refund").agent == "refunds"


def test_active_agent_keeps_answers_while_collecting(app):
    app.send("t", "order: item lamp")
    # "refund" policy words are absent; a bare number answers the pending question
    reply = app.send("t", "quantity 3")
    assert reply.agent == "orders"
    assert app.state("t").drafts["orders"] == {"item": "lamp", "quantity": 3}


def test_switching_keeps_every_draft_and_coming_back_resumes(app):
    app.send("t", "order: item lamp, quantity 2")
    switched = app.send("t", "actually I want a refund: order_id Z-1")
    assert switched.agent == "refunds"
    view = app.state("t")
    assert view.drafts == {"orders": {"item": "lamp", "quantity": 2}, "refunds": {"order_id": "Z-1"}}
    back = app.send("t", "back to my order: size medium")
    assert back.agent == "orders"
    assert back.reply == "Ordered 2 medium lamp."
    assert app.state("t").drafts == {"refunds": {"order_id": "Z-1"}}


def test_message_no_agent_handles_gets_the_list_of_capabilities(app):
    turn = app.send("t", "what's the weather like?")
    assert turn.agent is None
    assert "- orders: Place orders" in turn.reply and "- refunds: File refunds" in turn.reply


def test_registry_register_unregister_lookup():
    orders, refunds = make_agents()
    registry = AgentRegistry([orders])
    registry.register(refunds)
    assert registry.names() == ["orders", "refunds"]
    assert registry.by_intent("refund") == [refunds]
    with pytest.raises(AgentDefinitionError, match="already registered"):
        registry.register(orders)
    assert registry.unregister("orders") is orders
    with pytest.raises(UnknownAgentError, match="registered agents: refunds"):
        registry.get("orders")


def test_agents_from_a_config_file(tmp_path):
    config = tmp_path / "agents.toml"
    config.write_text('[stateline]\nagents = ["tests.core.agents:make_agents_orders"]\n')
    with pytest.raises(ConfigError, match="no attribute"):
        AgentRegistry().load_toml(config)
    config.write_text(
        'agents = ["stateline.examples.assistant:create_agents_jokes", "tests.core.test_supervisor:ORDERS"]\n'
    )
    with pytest.raises(ConfigError):
        AgentRegistry().load_toml(config)
    config.write_text('agents = ["tests.core.test_supervisor:ORDERS", "tests.core.test_supervisor:refunds_factory"]\n')
    registry = AgentRegistry()
    registry.load_toml(config)
    assert registry.names() == ["orders", "refunds"]
    with App(db="memory", agents_file=config) as app:
        assert app.send("t", "I want a refund").agent == "refunds"


@pytest.mark.parametrize(
    "content", ["agents = 3", "not toml [", 'agents = ["nocolon"]', 'agents = ["no_such_module:x"]']
)
def test_bad_config_files_are_setup_errors(tmp_path, content):
    config = tmp_path / "agents.toml"
    config.write_text(content)
    with pytest.raises(ConfigError):
        AgentRegistry().load_toml(config)


ORDERS = make_agents()[0]


def refunds_factory():
    return make_agents()[1]
