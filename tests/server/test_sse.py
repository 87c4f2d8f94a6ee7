"""SSE against a real `stateline serve`: event order, reconnect with Last-Event-ID, server restart."""

from __future__ import annotations

from tests.server_kit import new_thread, post_sse, sse

LISTING_START = "I'd like to sell a product: title Red Ceramic Mug, price 12.50"
PRICE_QUESTION = "Hmm, what price should I charge? cost 6, margin 45%"


def test_turn_with_an_agent_switch_streams_events_in_order(server):
    with server.client("alice") as c:
        tid = new_thread(c)
        first = post_sse(c, f"/api/threads/{tid}/messages", {"message": LISTING_START})
        second = post_sse(c, f"/api/threads/{tid}/messages", {"message": PRICE_QUESTION})
    assert [e["type"] for e in first][:2] == ["agent_switch", "agent_start"]
    assert first[0]["from_agent"] is None and first[0]["to_agent"] == "listing"
    shape = [e["type"] for e in second]
    collapsed = [t for i, t in enumerate(shape) if not (i and t == shape[i - 1] == "content_chunk")]
    assert collapsed == [
        "agent_switch", "agent_start", "tool_execution", "content_chunk", "tool_result", "agent_complete",
        "conversation_end",
    ]
    switch = second[0]
    assert (switch["from_agent"], switch["to_agent"]) == ("listing", "pricing")
    chunks = "".join(e["text"] for e in second if e["type"] == "content_chunk")
    complete = next(e for e in second if e["type"] == "agent_complete")
    assert chunks == complete["text"] == "At cost $6.00 and a 45% margin, charge $10.91."
    assert second[-1]["status"] == "completed"
    offsets = [e["offset"] for e in first + second]
    assert offsets == list(range(1, len(offsets) + 1))
    assert [int(e["_id"]) for e in first + second] == offsets  # the SSE id is the offset


def test_reconnect_with_last_event_id_gets_exactly_the_missed_events(server):
    with server.client("alice") as c:
        tid = new_thread(c)
        seen = []
        with c.stream("POST", f"/api/threads/{tid}/messages", json={"message": LISTING_START},
                      headers={"Accept": "text/event-stream"}) as response:
            for event in sse(response):
                seen.append(event)
                if len(seen) == 4:
                    break  # the client drops the connection mid-turn
        with c.stream("GET", f"/api/threads/{tid}/events",
                      headers={"Accept": "text/event-stream", "Last-Event-ID": seen[-1]["_id"]}) as response:
            assert response.status_code == 200
            rest = list(sse(response))
        everything = c.get(f"/api/threads/{tid}/events").json()["events"]
    assert [e["offset"] for e in rest] == list(range(5, len(everything) + 1))
    assert [e["offset"] for e in seen] == [1, 2, 3, 4]
    strip = lambda e: {k: v for k, v in e.items() if k != "_id"}  # noqa: E731
    assert [strip(e) for e in seen + rest] == everything
    assert rest[-1]["type"] == "conversation_end"


def test_reconnect_after_a_server_restart(own_server):
    srv = own_server.start()
    with srv.client("alice") as c:
        tid = new_thread(c)
        events = post_sse(c, f"/api/threads/{tid}/messages", {"message": LISTING_START})
        events += post_sse(c, f"/api/threads/{tid}/messages", {"message": PRICE_QUESTION})
    srv.restart()
    with srv.client("alice") as c:
        with c.stream("GET", f"/api/threads/{tid}/events",
                      headers={"Accept": "text/event-stream", "Last-Event-ID": "7"}) as response:
            assert response.status_code == 200
            missed = list(sse(response))
        # and the conversation goes on where it was, offsets continuing
        more = post_sse(c, f"/api/threads/{tid}/messages", {"message": "What is the total revenue for kitchen?"})
    assert missed == events[7:]
    assert more[0]["offset"] == len(events) + 1
    assert more[-1]["type"] == "conversation_end" and more[-1]["status"] == "completed"


def test_plain_json_reply(server):
    with server.client("alice") as c:
        tid = new_thread(c)
        r = c.post(f"/api/threads/{tid}/messages", json={"message": PRICE_QUESTION})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "completed"
    assert body["replies"] == [{"agent": "pricing", "text": "At cost $6.00 and a 45% margin, charge $10.91."}]
    assert body["events"][-1]["type"] == "conversation_end"
