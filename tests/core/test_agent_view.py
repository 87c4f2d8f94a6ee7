"""An agent's run is handed the newest user message, not the whole conversation (issue 12)."""

from __future__ import annotations

from stateline.graphs import AGENT_TASK, run_config

from stateline import App

from .agents import make_agents

MESSAGES = ("I want to order: item teapot", "quantity 2", "size large")


def _agent_message_counts(app: App, thread: str, text: str) -> list[int]:
    """Lengths of ``messages`` in the state each of the orders agent's nodes was handed during one turn
    (its inner tasks, streamed as ``custom`` items: the agent's nodes run in the supervisor's task)."""
    from langchain_core.messages import HumanMessage

    counts = []
    config = run_config({"thread_id": thread, "run_id": f"view-{text}"})
    for _ns, item in app.graph.stream(
        {"messages": [HumanMessage(text)]}, config, stream_mode="custom", subgraphs=True, durability="sync"
    ):
        if isinstance(item, dict) and item.get("kind") == AGENT_TASK and item["agent"] == "orders" and "input" in item:
            counts.append(len(item["input"].get("messages") or []))
    return counts


def test_agent_sees_only_the_latest_user_message_and_its_replies(db_url):
    with App(make_agents(), db=db_url, tracking=False) as app:
        for i in range(12):  # 4 orders: 24 messages in the thread
            app.send("t", MESSAGES[i % 3])
        counts = _agent_message_counts(app, "t", MESSAGES[0])
        assert counts, "the orders agent streamed no state: the turn did not reach it"
        assert max(counts) <= 2, f"the agent was handed {max(counts)} messages of a 26-message thread"
        state = app.state("t")
        assert len(state.messages) == 26  # the reply still lands after the whole conversation
        assert state.messages[-1].text.startswith("To place orders, I still need")


def test_conversation_is_unchanged_with_the_view(db_url):
    with App(make_agents(), db=db_url) as app:
        replies = [app.send("t", MESSAGES[i % 3]).replies[-1].text for i in range(6)]
    assert replies[2] == replies[5] == "Ordered 2 large teapot."
    assert "quantity" in replies[0] and replies[1].endswith("size (one of small, medium, large).")
