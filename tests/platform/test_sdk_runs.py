"""Background runs, join, rejoining a stream, cancel, multitask strategies and the store, via langgraph-sdk."""

from __future__ import annotations

import time

import httpx
import pytest
from langgraph_sdk.errors import ConflictError, PermissionDeniedError

from tests.platform.conftest import say, sdk


def _wait_status(c, tid, run_id, wanted, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = c.runs.get(tid, run_id)
        if run["status"] in wanted:
            return run
        time.sleep(0.05)
    raise AssertionError(f"run {run_id} never reached {wanted}: {run}")


def _replies(c, tid):
    return [m["content"] for m in c.threads.get_state(tid)["values"]["messages"] if m["type"] == "ai"]


def test_background_run_get_join_and_rejoin(slow):
    c = sdk(slow)
    tid = c.threads.create()["thread_id"]
    run = c.runs.create(
        tid, "slow_agents", input=say("nap seconds 1"), stream_mode=["values", "updates", "messages-tuple"]
    )
    assert run["status"] in ("pending", "running") and run["multitask_strategy"] == "reject"
    _wait_status(c, tid, run["run_id"], ("running",))
    assert c.threads.get(tid)["status"] == "busy"
    live = list(c.runs.join_stream(tid, run["run_id"]))  # joined while it runs: from its first event
    assert live[0].event == "metadata" and live[-1].event == "values"
    assert live[-1].data["messages"][-1]["content"] == "Napped 1s."
    assert c.runs.get(tid, run["run_id"])["status"] == "success"
    # a finished run streams the same again; after an event id, only what follows it
    again = list(c.runs.join_stream(tid, run["run_id"]))
    assert [(p.event, p.data) for p in again] == [(p.event, p.data) for p in live]
    middle = live[len(live) // 2]
    rest = list(c.runs.join_stream(tid, run["run_id"], last_event_id=middle.id))
    assert [p.id for p in rest] == [p.id for p in live[len(live) // 2 + 1:]]
    only = list(c.runs.join_stream(tid, run["run_id"], stream_mode="updates"))
    assert {p.event for p in only} == {"metadata", "updates"}
    assert c.runs.join(tid, run["run_id"])["messages"][-1]["content"] == "Napped 1s."
    assert [r["run_id"] for r in c.runs.list(tid)] == [run["run_id"]]
    assert c.threads.get(tid)["status"] == "idle"


def test_reject_enqueue_and_cancel(slow):
    c = sdk(slow)
    tid = c.threads.create()["thread_id"]
    first = c.runs.create(tid, "slow_agents", input=say("nap seconds 1.5"))
    with pytest.raises(ConflictError):
        c.runs.create(tid, "slow_agents", input=say("nap seconds 0.1"))
    with pytest.raises(ConflictError):
        c.runs.create(tid, "slow_agents", input=say("nap seconds 0.1"), multitask_strategy="reject")
    queued = c.runs.create(tid, "slow_agents", input=say("nap seconds 0.2"), multitask_strategy="enqueue")
    dropped = c.runs.create(tid, "slow_agents", input=say("nap seconds 0.3"), multitask_strategy="enqueue")
    assert c.runs.get(tid, queued["run_id"])["status"] == "pending"
    c.runs.cancel(tid, dropped["run_id"])
    with pytest.raises(httpx.HTTPStatusError) as mid_turn:  # a running turn is never cut in half
        c.runs.cancel(tid, first["run_id"])
    assert mid_turn.value.response.status_code == 409
    assert c.runs.join(tid, queued["run_id"])["messages"][-1]["content"] == "Napped 0.2s."
    assert c.runs.get(tid, first["run_id"])["status"] == "success"
    assert c.runs.get(tid, dropped["run_id"])["status"] == "interrupted"
    assert _replies(c, tid) == ["Napped 1.5s.", "Napped 0.2s."]  # in order; the cancelled one never ran


def test_rollback_reverts_the_running_turn_and_interrupt_waits_for_it(slow):
    c = sdk(slow)
    tid = c.threads.create()["thread_id"]
    c.runs.wait(tid, "slow_agents", input=say("nap seconds 0.1"))
    old = c.runs.create(tid, "slow_agents", input=say("nap seconds 1"))
    _wait_status(c, tid, old["run_id"], ("running",))
    new = c.runs.create(tid, "slow_agents", input=say("nap seconds 0.2"), multitask_strategy="rollback")
    assert c.runs.join(tid, new["run_id"])["messages"][-1]["content"] == "Napped 0.2s."
    assert _replies(c, tid) == ["Napped 0.1s.", "Napped 0.2s."]  # the rolled-back turn left nothing
    assert old["run_id"] not in [r["run_id"] for r in c.runs.list(tid)]
    held = c.runs.create(tid, "slow_agents", input=say("nap seconds 0.5"))
    _wait_status(c, tid, held["run_id"], ("running",))
    after = c.runs.create(tid, "slow_agents", input=say("nap seconds 0.1"), multitask_strategy="interrupt")
    c.runs.join(tid, after["run_id"])
    assert _replies(c, tid)[-2:] == ["Napped 0.5s.", "Napped 0.1s."]


def test_store_over_user_memory(slow):
    alice, bob = sdk(slow, "alice"), sdk(slow, "bob")
    alice.store.put_item(["users", "alice", "prefs"], "theme", {"value": "dark"})
    alice.store.put_item(["users", "alice"], "city", {"value": "Lyon"})
    item = alice.store.get_item(["users", "alice", "prefs"], "theme")
    assert item["value"] == {"value": "dark"} and item["namespace"] == ["users", "alice", "prefs"]
    found = alice.store.search_items(["users", "alice"])["items"]
    assert {i["key"] for i in found} == {"theme", "city"}
    assert alice.store.search_items([], filter={"value": "Lyon"})["items"][0]["key"] == "city"
    assert ["users", "alice", "prefs"] in alice.store.list_namespaces(prefix=["users", "alice"])["namespaces"]
    with pytest.raises(PermissionDeniedError):
        bob.store.get_item(["users", "alice"], "city")
    assert bob.store.search_items([])["items"] == []  # bob's own namespace is empty
    alice.store.delete_item(["users", "alice"], "city")
    assert {i["key"] for i in alice.store.search_items(["users", "alice"])["items"]} == {"theme"}
