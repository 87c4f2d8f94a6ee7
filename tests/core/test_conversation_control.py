"""Cancel, confirm, free-text guards, async and plug-in agents, nested fields, migration (offline, real SQLite)."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from pydantic import BaseModel, Field
from stateline.errors import AgentDefinitionError
from stateline.graphs import Agent
from stateline.nodes import extract_fields, migrate_draft

from stateline import App
from tests.core.agents import Order, make_agents


class Ticket(BaseModel):
    description: str = Field(min_length=3, description="what went wrong")


class Address(BaseModel):
    city: str
    zip: str


class Shipment(BaseModel):
    item: str
    to: Address


def _app(tmp_path, agents, name="c.db"):
    return App(agents, db=f"sqlite:///{tmp_path}/{name}")


@pytest.mark.parametrize("words", ["cancel", "never mind", "Start over", "forget it", "ok cancel that"])
def test_cancel_clears_the_draft_and_acts_on_nothing(tmp_path, words):
    calls: list = []
    with _app(tmp_path, make_agents(calls)) as app:
        assert "still need" in app.send("t", "I want a refund: order_id A-7").reply
        turn = app.send("t", words)
        assert "Cancelled" in turn.reply
        state = app.state("t")
        assert not state.drafts.get("refunds") and state.active_agent is None
        assert calls == []  # "cancel" never became the refund's reason


@pytest.mark.parametrize(
    "message", ["what's the weather in Paris?", "can you tell me my balance", "I want to order a pizza", "yes", "no"]
)
def test_free_text_is_never_filled_with_a_question_a_request_or_a_reply(message):
    assert extract_fields(Ticket, message, draft={}, asked=["description"]) == {}
    assert extract_fields(Ticket, "the screen flickers", draft={}, asked=["description"]) == {
        "description": "the screen flickers"
    }
    assert extract_fields(Ticket, "Can opener jams", draft={}, asked=["description"]) == {
        "description": "Can opener jams"
    }  # "Can" opens a noun here, not a question


def test_confirm_shows_the_values_and_acts_only_on_yes(tmp_path):
    calls: list = []

    def place(order: Order) -> str:
        calls.append(order)
        return f"Ordered {order.quantity} {order.item}."

    agent = Agent(name="orders", description="Place orders", intents=["buy"], schema=Order, act=place,
                  keywords=["order"], confirm=True)
    with _app(tmp_path, [agent]) as app:
        shown = app.send("t", "order: item teapot, quantity 2, size large").reply
        assert "Please confirm" in shown and "teapot" in shown and "2" in shown and calls == []
        again = app.send("t", "quantity 3").reply  # a change is shown again, not acted on
        assert "quantity: 3" in again and calls == []
        assert app.send("t", "yes").reply == "Ordered 3 teapot."
        assert len(calls) == 1
        app.send("t", "order: item mug, quantity 1, size small")
        assert "Cancelled" in app.send("t", "never mind").reply
        assert len(calls) == 1 and not app.state("t").drafts.get("orders")


def test_missing_choice_lists_the_allowed_values(tmp_path):
    with _app(tmp_path, make_agents()) as app:
        reply = app.send("t", "order: item teapot, quantity 2").reply
    assert "size (one of small, medium, large)" in reply


def test_async_act_is_awaited_and_arity_is_checked_at_definition(tmp_path):
    async def place(order: Order, ctx) -> str:
        return f"async {order.item} for {ctx.thread_id}"

    agent = Agent(name="orders", description="Place orders", intents=["buy"], schema=Order, act=place,
                  keywords=["order"])
    with _app(tmp_path, [agent]) as app:
        assert app.send("t", "order: item cup, quantity 1, size small").reply == "async cup for t"

    for bad in (lambda: "x", lambda a, b, c: "x", lambda a, *, key: "x"):
        with pytest.raises(AgentDefinitionError, match="act"):
            Agent(name="orders", description="Place orders", intents=["buy"], schema=Order, act=bad)


def test_any_compiled_graph_is_an_agent(tmp_path):
    def echo(state: MessagesState) -> dict:
        return {"messages": [AIMessage(f"echo: {state['messages'][-1].content}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("echo", echo)
    builder.add_edge(START, "echo")
    builder.add_edge("echo", END)
    plugin = Agent(name="echo", description="Repeat what you say", intents=["echo"], graph=builder.compile(),
                   keywords=["echo", "repeat"])
    with _app(tmp_path, [plugin, *make_agents()]) as app:
        turn = app.send("t", "please repeat this: hello")
        assert turn.agent == "echo" and turn.reply == "echo: please repeat this: hello"
        assert app.send("t", "order: item pen, quantity 1, size small").reply == "Ordered 1 small pen."
    with pytest.raises(AgentDefinitionError, match="graph"):
        Agent(name="bad", description="Bad", intents=["x"], graph=object())


def test_nested_models_fill_offline_by_dotted_label_or_json(tmp_path):
    assert extract_fields(Shipment, "item lamp, to.city Paris, to.zip 75001", draft={}, asked=[]) == {
        "item": "lamp", "to": {"city": "Paris", "zip": "75001"}
    }
    assert extract_fields(Shipment, 'to: {"city": "Rome", "zip": "00100"}', draft={}, asked=[]) == {
        "to": {"city": "Rome", "zip": "00100"}
    }
    agent = Agent(name="ship", description="Ship items", intents=["ship"], schema=Shipment,
                  act=lambda s: f"Shipping {s.item} to {s.to.city} {s.to.zip}.", keywords=["ship"])
    with _app(tmp_path, [agent]) as app:
        first = app.send("t", "ship item lamp, to.city Paris").reply
        assert "to.zip" in first
        assert app.send("t", "to.zip 75001").reply == "Shipping lamp to Paris 75001."


class OrderV1(BaseModel):
    item: str
    qty: str
    colour: str


class OrderV2(BaseModel):
    item: str
    quantity: int = Field(gt=0)


def test_a_draft_from_an_older_schema_is_migrated_not_crashed(tmp_path):
    v1 = Agent(name="orders", description="Place orders", intents=["buy"], schema=OrderV1,
               act=lambda o: "v1", keywords=["order"])
    with _app(tmp_path, [v1]) as app:
        app.send("t", "order: item kettle, qty three")
        app.send("u", "order: item kettle, qty three")
        assert app.state("t").drafts["orders"] == {"item": "kettle", "qty": "three"}

    def migrate(old: dict, version: int) -> dict:
        words = {"one": 1, "two": 2, "three": 3}
        return {"item": old.get("item"), "quantity": words.get(str(old.get("qty")), old.get("qty"))}

    v2 = Agent(name="orders", description="Place orders", intents=["buy"], schema=OrderV2, version=2,
               migrate=migrate, act=lambda o: f"{o.quantity} x {o.item}", keywords=["order"])
    with _app(tmp_path, [v2]) as app:
        assert app.send("t", "ok, order it").reply == "3 x kettle"  # migrated by the declared function
    plain = Agent(name="orders", description="Place orders", intents=["buy"], schema=OrderV2, version=2,
                  act=lambda o: f"{o.quantity} x {o.item}", keywords=["order"])
    with _app(tmp_path, [plain]) as app:
        reply = app.send("u", "order please").reply  # defaults: the unknown 'qty' is dropped, asked again
        assert "quantity" in reply and app.state("u").drafts["orders"] == {"item": "kettle"}
    assert migrate_draft(OrderV2, {"item": "x", "quantity": "lots"}, 1, None) == {"item": "x"}
    assert migrate_draft(OrderV2, {"item": "x"}, 1, lambda d, v: 1 / 0) == {"item": "x"}  # a broken migration


def test_a_paused_agent_keeps_the_message_and_uses_it_when_back(tmp_path):
    calls: list = []
    with _app(tmp_path, make_agents(calls)) as app:
        app.ops.lifecycle.pause("orders")
        refused = app.send("t", "order: item teapot, quantity 2").reply
        assert "paused" in refused and "kept your message" in refused
        app.ops.lifecycle.activate("orders")
        done = app.send("t", "order size large").reply
        assert done == "Ordered 2 large teapot."  # the held message's fields were used



def test_agents_migrate_fits_stored_drafts_to_the_new_version(tmp_path):
    from .cli_helpers import cli, cli_json

    db = f"sqlite:///{tmp_path}/m.db"
    for version in (1, 2):
        (tmp_path / f"v{version}.toml").write_text(f'agents = ["tests.core.migrate_agents:orders_v{version}"]\n')
    v1, v2 = str(tmp_path / "v1.toml"), str(tmp_path / "v2.toml")
    assert cli("run", "--agents-file", v1, "--thread", "t", "order: item kettle, qty three", db=db).returncode == 0
    dry = cli_json("agents", "migrate", "--dry-run", "--agents-file", v2, db=db)
    assert [(r["thread_id"], r["status"], r["from_version"], r["to_version"]) for r in dry] == [
        ("t", "would migrate", 1, 2)
    ]
    (row,) = cli_json("agents", "migrate", "--agents-file", v2, db=db)
    assert row["status"] == "migrated" and row["dropped"] == ["qty"]
    assert cli_json("agents", "migrate", "--agents-file", v2, db=db) == []  # nothing left to do
    shown = cli_json("threads", "show", "t", db=db)
    assert shown["drafts"]["orders"] == {"item": "kettle", "quantity": 3}
