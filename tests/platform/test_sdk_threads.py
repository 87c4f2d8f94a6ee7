"""langgraph-sdk against ``stateline serve``: info, assistants, threads, runs, state, history, approval."""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from tests.platform.conftest import say, sdk
from tests.server_kit import TOKENS

FULL_LISTING = "Sell a product: title Red Ceramic Mug, price 12.50, category kitchen, description: A sturdy 300 ml mug"


def test_info_assistants_and_auth(storefront):
    c = sdk(storefront)
    assert httpx.get(f"{storefront.url}/info").status_code == 200
    [assistant] = c.assistants.search()
    assert assistant["graph_id"] == "storefront"
    assert c.assistants.get("storefront")["assistant_id"] == assistant["assistant_id"]
    assert c.assistants.get(assistant["assistant_id"])["graph_id"] == "storefront"
    with pytest.raises(NotFoundError):
        c.assistants.get("nope")
    # no token, a wrong token: 401; Authorization: Bearer works as X-Api-Key does
    assert httpx.post(f"{storefront.url}/threads", json={}).status_code == 401
    assert httpx.post(f"{storefront.url}/threads", json={}, headers={"X-Api-Key": "wrong-token-123"}).status_code == 401
    bearer = httpx.post(f"{storefront.url}/threads", json={}, headers={"Authorization": f"Bearer {TOKENS['bob']}"})
    assert bearer.status_code == 200
    # bob's thread is not alice's: 404 as for an unknown one
    with pytest.raises(NotFoundError):
        c.threads.get(bearer.json()["thread_id"])


def test_stream_values_messages_and_updates(storefront):
    c = sdk(storefront)
    thread = c.threads.create(metadata={"app": "chat-ui", "n": 1})
    assert thread["status"] == "idle" and thread["metadata"] == {"app": "chat-ui", "n": 1}
    tid = thread["thread_id"]
    parts = list(c.runs.stream(tid, "storefront", input=say("what were our sales?"),
                               stream_mode=["values", "messages-tuple", "updates"]))
    events = [p.event for p in parts]
    assert events[0] == "metadata" and events[-1] == "values"
    chunks = [p.data for p in parts if p.event == "messages"]
    assert chunks and all(m["type"] == "AIMessageChunk" and meta["thread_id"] == tid for m, meta in chunks)
    text = "".join(m["content"] for m, _ in chunks)
    [update] = [p.data for p in parts if p.event == "updates"]
    assert update["analytics"]["messages"][0]["content"] == text
    final = parts[-1].data["messages"]
    assert [m["type"] for m in final] == ["human", "ai"] and final[-1]["content"] == text
    state = c.threads.get_state(tid)
    assert state["values"]["messages"][-1]["content"] == text and state["next"] == []
    assert state["checkpoint"]["thread_id"] == tid
    # the same values from the run's checkpoint, by id and by checkpoint object
    again = c.threads.get_state(tid, checkpoint_id=state["checkpoint"]["checkpoint_id"])
    assert again["values"] == state["values"]
    assert c.threads.get_state(tid, checkpoint=state["checkpoint"])["values"] == state["values"]
    history = c.threads.get_history(tid, limit=3)
    assert len(history) == 3 and history[0]["checkpoint"] == state["checkpoint"]
    older = c.threads.get_history(tid, limit=2, before=history[0]["checkpoint"])
    assert older[0]["checkpoint"] == history[1]["checkpoint"]
    assert c.threads.get(tid)["values"]["messages"][-1]["content"] == text


def test_wait_search_copy_delete(storefront):
    c = sdk(storefront)
    tag = {"suite": "search", "run": str(id(c))}
    made = [c.threads.create(metadata={**tag, "i": i})["thread_id"] for i in range(3)]
    values = c.runs.wait(made[0], "storefront", input=say("what were our sales?"))
    assert values["messages"][-1]["type"] == "ai"
    found = c.threads.search(metadata=tag, limit=2)
    assert [t["thread_id"] for t in found] == made[::-1][:2]
    assert [t["thread_id"] for t in c.threads.search(metadata=tag, limit=2, offset=2)] == [made[0]]
    assert [t["thread_id"] for t in c.threads.search(metadata={**tag, "i": 1})] == [made[1]]
    assert c.threads.count(metadata=tag) == 3
    assert c.threads.search(metadata=tag, status="busy") == []
    copy = c.threads.copy(made[0])
    assert copy["thread_id"] != made[0] and copy["metadata"]["i"] == 0
    assert c.threads.get_state(copy["thread_id"])["values"]["messages"] == values["messages"]
    more = c.runs.wait(copy["thread_id"], "storefront", input=say("best sellers?"))
    assert len(more["messages"]) == 4
    assert len(c.threads.get_state(made[0])["values"]["messages"]) == 2  # the source is unchanged
    c.threads.delete(made[0])
    with pytest.raises(NotFoundError):
        c.threads.get(made[0])
    with pytest.raises(ConflictError):
        c.threads.create(thread_id=made[1])
    assert c.threads.create(thread_id=made[1], if_exists="do_nothing")["thread_id"] == made[1]


def test_interrupt_and_command_resume(storefront):
    c = sdk(storefront)
    tid = c.threads.create()["thread_id"]
    parts = list(c.runs.stream(tid, "storefront", input=say(FULL_LISTING), stream_mode=["updates", "values"]))
    interrupt = next(p.data["__interrupt__"][0] for p in parts if p.event == "updates" and "__interrupt__" in p.data)
    assert interrupt["value"]["agent"] == "listing" and interrupt["value"]["draft"]["title"] == "Red Ceramic Mug"
    assert parts[-1].event == "values" and parts[-1].data["__interrupt__"][0]["id"] == interrupt["id"]
    thread = c.threads.get(tid)
    assert thread["status"] == "interrupted"
    assert [i["id"] for i in next(iter(thread["interrupts"].values()))] == [interrupt["id"]]
    assert c.threads.get_state(tid)["interrupts"][0]["id"] == interrupt["id"]
    with pytest.raises(httpx.HTTPStatusError) as refused:  # a new message while it waits
        c.runs.wait(tid, "storefront", input=say("hello"))
    assert refused.value.response.status_code == 409
    with pytest.raises(httpx.HTTPStatusError) as bad:
        c.runs.wait(tid, "storefront", command={"goto": "act"})
    assert bad.value.response.status_code == 422
    values = c.runs.wait(tid, "storefront", command={"resume": "approve"})
    assert values["messages"][-1]["content"].startswith("Published 'Red Ceramic Mug' in kitchen at $12.50")
    assert "__interrupt__" not in values and c.threads.get(tid)["status"] == "idle"
    with pytest.raises(httpx.HTTPStatusError) as late:  # nothing waits any more
        c.runs.wait(tid, "storefront", command={"resume": "approve"})
    assert late.value.response.status_code == 409


def test_agent_inbox_style_resume_rejects(storefront):
    c = sdk(storefront)
    tid = c.threads.create()["thread_id"]
    c.runs.wait(tid, "storefront", input=say(FULL_LISTING))
    values = c.runs.wait(tid, "storefront", command={"resume": [{"type": "ignore", "args": None}]})
    assert values["messages"][-1]["content"] == "Cancelled; nothing was done."


def test_stream_modes_custom_events_debug_subgraphs(storefront):
    c = sdk(storefront)
    tid = c.threads.create()["thread_id"]
    parts = list(c.runs.stream(tid, "storefront", input=say("what were our sales?"),
                               stream_mode=["custom", "events", "debug"]))
    kinds = {p.event for p in parts}
    assert {"metadata", "custom", "events", "debug"} <= kinds and "values" not in kinds
    custom = [p.data for p in parts if p.event == "custom"]
    assert all(d["kind"] == "stateline.chunk" for d in custom)
    names = [p.data["event"] for p in parts if p.event == "events"]
    assert names[0] == "on_chain_start" and "on_chat_model_stream" in names
    assert {d["type"] for d in (p.data for p in parts if p.event == "debug")} <= {"task", "task_result"}
    c.runs.wait(tid, "storefront", input=say(FULL_LISTING))
    c.runs.wait(tid, "storefront", command={"resume": {"action": "edit", "fields": {"price": 15}}})
    sub = list(c.runs.stream(tid, "storefront", command={"resume": "approve"}, stream_mode=["updates"],
                             stream_subgraphs=True))
    acts = [p for p in sub if p.event == "updates|listing"]
    assert acts and "act" in acts[0].data
    assert any(p.event == "updates" and "listing" in p.data for p in sub)
    with pytest.raises(UnprocessableEntityError):
        list(c.runs.stream(tid, "storefront", input=say("hi"), stream_mode="tasks"))
