"""Access control and bad input against a real server: 401/404/4xx, JSON bodies, nothing changes."""

from __future__ import annotations

import pytest

from tests.server_kit import new_thread, post_sse

LISTING_START = "I'd like to sell a product: title Red Ceramic Mug, price 12.50"


@pytest.fixture(scope="module")
def alice_thread(server):
    with server.client("alice") as c:
        tid = new_thread(c, "mug", title="alice's mug")  # an id alice picks is scoped to her
        post_sse(c, f"/api/threads/{tid}/messages", {"message": LISTING_START})
    return tid


def snapshot(server, tid):
    """Everything a request could have changed, as alice and the admin see it."""
    with server.client("root") as admin:
        thread = admin.get(f"/api/threads/{tid}").json()
        runs = admin.get(f"/api/threads/{tid}/runs").json()["runs"]
        threads = sorted(t["thread_id"] for t in admin.get("/api/threads").json()["threads"])
        events = admin.get(f"/api/threads/{tid}/events").json()["events"]
    keep = ("status", "messages", "drafts", "last_offset", "policy", "user_id", "active_agent", "checkpoint_id")
    return {k: thread[k] for k in keep}, [r["run_id"] for r in runs], threads, len(events)


def test_no_token_or_unknown_token_is_401(server, alice_thread):
    for client in (server.client(), server.client(token="not-a-real-token")):
        with client as c:
            for method, path in [("GET", "/api/threads"), ("GET", f"/api/threads/{alice_thread}"),
                                 ("POST", "/api/threads"), ("GET", "/api/agents")]:
                r = c.request(method, path, json={} if method == "POST" else None)
                assert r.status_code == 401, (method, path)
                assert r.json()["error"]["status"] == 401
    with server.client() as c:
        assert c.get("/health").status_code == 200  # health needs no token
        r = c.post(
            f"/api/threads/{alice_thread}/messages",
            content=b'{"message": ',
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"  # 401 before the body is looked at


def test_another_users_thread_is_invisible(server, alice_thread):
    before = snapshot(server, alice_thread)
    with server.client("bob") as bob:
        assert alice_thread not in [t["thread_id"] for t in bob.get("/api/threads").json()["threads"]]
        attempts = [
            bob.get(f"/api/threads/{alice_thread}"),
            bob.get(f"/api/threads/{alice_thread}/history"),
            bob.get(f"/api/threads/{alice_thread}/events"),
            bob.get(f"/api/threads/{alice_thread}/runs"),
            bob.post(f"/api/threads/{alice_thread}/messages", json={"message": "price 1"}),
            bob.post(f"/api/threads/{alice_thread}/resume", json={"action": "approve"}),
            bob.patch(f"/api/threads/{alice_thread}", json={"policy": "enqueue"}),
        ]
        run_id = before[1][0]
        attempts += [bob.get(f"/api/runs/{run_id}"), bob.get(f"/api/runs/{run_id}/events")]
        unknown = bob.get("/api/threads/no-such-thread")
        for r in attempts:
            assert r.status_code == 404, r.request.url
            assert set(r.json()["error"]) == {"status", "type", "message"}
        assert attempts[0].json()["error"]["type"] == unknown.json()["error"]["type"]  # same answer as unknown
        assert bob.get("/api/audit").status_code == 403
    assert snapshot(server, alice_thread) == before
    with server.client("root") as admin:  # the admin sees alice's thread, and bob's attempts in the audit log
        assert admin.get(f"/api/threads/{alice_thread}").status_code == 200
        denied = admin.get("/api/audit", params={"target": alice_thread, "user": "bob"}).json()["entries"]
        assert {e["action"] for e in denied} >= {"thread.read", "message.post", "thread.resume"}
        assert all(e["outcome"] == 404 for e in denied)
        reads = admin.get("/api/audit", params={"target": alice_thread, "user": "alice"}).json()["entries"]
        assert {"thread.create", "message.post"} <= {e["action"] for e in reads}


BAD_INPUT = [
    # (name, method, path template, json body or raw bytes, extra headers, status)
    ("malformed json", "POST", "/api/threads/{t}/messages", b'{"message": ', {"Content-Type": "application/json"}, 400),
    (
        "json not an object",
        "POST",
        "/api/threads/{t}/messages",
        b'["price 3"]',
        {"Content-Type": "application/json"},
        422,
    ),
    ("missing message", "POST", "/api/threads/{t}/messages", {}, {}, 422),
    ("message not text", "POST", "/api/threads/{t}/messages", {"message": 42}, {}, 422),
    ("unknown field", "POST", "/api/threads/{t}/messages", {"message": "hi", "sneaky": 1}, {}, 422),
    ("empty message", "POST", "/api/threads/{t}/messages", {"message": "   "}, {}, 400),
    ("oversized message", "POST", "/api/threads/{t}/messages", {"message": "x" * 20_001}, {}, 413),
    ("oversized body", "POST", "/api/threads/{t}/messages", {"message": "x" * 300_000}, {}, 413),
    ("unknown thread", "POST", "/api/threads/nope-{t}/messages", {"message": "hi"}, {}, 404),
    ("bad thread id", "GET", "/api/threads/..%2F..%2Fetc", None, {}, 404),
    ("unknown run", "GET", "/api/runs/no-such-run", None, {}, 404),
    ("unknown run events", "GET", "/api/runs/no-such-run/events", None, {}, 404),
    ("unknown agent", "POST", "/api/agents/nobody/status", {"status": "paused"}, {}, 404),
    ("offset not a number", "GET", "/api/threads/{t}/events?after=abc", None, {}, 400),
    ("negative offset", "GET", "/api/threads/{t}/events?after=-1", None, {}, 400),
    ("offset past the end", "GET", "/api/threads/{t}/events?after=999999", None, {}, 400),
    ("bad Last-Event-ID", "GET", "/api/threads/{t}/events", None, {"Last-Event-ID": "x1"}, 400),
    ("resume bad action", "POST", "/api/threads/{t}/resume", {"action": "maybe"}, {}, 422),
    ("resume not waiting", "POST", "/api/threads/{t}/resume", {"action": "approve"}, {}, 409),
    ("bad policy", "PATCH", "/api/threads/{t}", {"policy": "sometimes"}, {}, 422),
    ("limit zero", "GET", "/api/threads/{t}/history?limit=0", None, {}, 422),
    ("duplicate thread id", "POST", "/api/threads", {"thread_id": "mug"}, {}, 409),
    ("thread id with @", "POST", "/api/threads", {"thread_id": "{t}"}, {}, 400),
    ("invalid new thread id", "POST", "/api/threads", {"thread_id": "no spaces allowed"}, {}, 400),
    ("unknown route", "GET", "/api/nothing-here", None, {}, 404),
]


@pytest.mark.parametrize("name,method,path,body,headers,status", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_is_a_4xx_json_error_and_changes_nothing(
    server, alice_thread, name, method, path, body, headers, status
):
    before = snapshot(server, alice_thread)
    path = path.replace("{t}", alice_thread)
    with server.client("alice") as c:
        if isinstance(body, bytes):
            r = c.request(method, path, content=body, headers=headers)
        elif isinstance(body, dict):
            body = {k: v.replace("{t}", alice_thread) if isinstance(v, str) else v for k, v in body.items()}
            r = c.request(method, path, json=body, headers=headers)
        else:
            r = c.request(method, path, headers=headers)
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["status"] == status and error["message"]
    assert snapshot(server, alice_thread) == before


def test_openapi_docs_are_served(server):
    with server.client() as c:
        assert c.get("/docs").status_code == 200
        spec = c.get("/openapi.json").json()
    assert {"/api/threads", "/api/threads/{thread_id}/messages", "/api/threads/{thread_id}/resume",
            "/api/threads/{thread_id}/events", "/api/runs/{run_id}", "/api/agents", "/health"} <= set(spec["paths"])
