"""Server probes from issue 11, each against a real server on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from tests.server_kit import TOKENS, ServerProcess, new_thread

CHUNK = b"x" * 65536


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def chunked_post(port: int, path: str, total: int, token: str, results: list[bytes]) -> None:
    """POST ``total`` bytes with Transfer-Encoding: chunked over a raw socket; keep the reply's first line."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    try:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                  "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
        sent = 0
        try:
            while sent < total:
                s.sendall(b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK))
                sent += len(CHUNK)
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before the whole body went out
        reply = b""
        try:
            while b"\r\n" not in reply:
                part = s.recv(4096)
                if not part:
                    break
                reply += part
        except OSError:
            pass
        results.append(reply.split(b"\r\n", 1)[0])
    finally:
        s.close()


def test_chunked_uploads_are_held_to_the_body_limit(server):
    tid = new_thread(server.client("alice"))
    before = rss_kb(server.proc.pid)
    results: list[bytes] = []
    posts = [threading.Thread(target=chunked_post, args=(server.port, f"/api/threads/{tid}/messages", 50 << 20,
                                                          TOKENS["alice"], results)) for _ in range(4)]
    start = time.monotonic()
    for p in posts:
        p.start()
    for p in posts:
        p.join(120)
    grew = rss_kb(server.proc.pid) - before
    print(f"4 concurrent 50 MB chunked posts: {results}; server RSS grew {grew} KB in {time.monotonic() - start:.1f}s")
    assert results == [b"HTTP/1.1 413 Request Entity Too Large"] * 4
    assert grew < 64 * 1024, f"server RSS grew by {grew} KB"  # each body is cut off at 256 KB
    # a small chunked body still gets through, replayed to the route
    ok: list[bytes] = []
    s = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    body = b'{"title": "chunked"}'
    s.sendall(f"POST /api/threads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKENS['alice']}\r\n"
              "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
              + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
    ok.append(s.recv(4096).split(b"\r\n", 1)[0])
    s.close()
    assert ok == [b"HTTP/1.1 201 Created"]


def test_no_existence_oracle_for_another_users_thread_ids(server):
    with server.client("alice") as alice, server.client("bob") as bob:
        taken = alice.post("/api/threads", json={"thread_id": "secret-plan"})
        assert taken.status_code == 201 and taken.json()["thread_id"] == "secret-plan@alice"
        # bob picking alice's id and a never-used id: the same answer (each is scoped to bob)
        same = bob.post("/api/threads", json={"thread_id": "secret-plan"})
        free = bob.post("/api/threads", json={"thread_id": "never-used-anywhere"})
        assert (same.status_code, free.status_code) == (201, 201)
        assert same.json()["thread_id"] == "secret-plan@bob" and same.json()["user_id"] == "bob"
        # naming alice's full id is refused exactly like naming an unknown one
        full = bob.post("/api/threads", json={"thread_id": "secret-plan@alice"})
        nope = bob.post("/api/threads", json={"thread_id": "no-such@alice"})
        assert full.status_code == nope.status_code == 400
        assert full.json()["error"]["type"] == nope.json()["error"]["type"]
        foreign = bob.get("/api/threads/secret-plan@alice")
        unknown = bob.get("/api/threads/no-such@alice")
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.json()["error"]["message"].replace("secret-plan", "X") == \
            unknown.json()["error"]["message"].replace("no-such", "X")
        # alice's own thread: still hers, untouched
        assert alice.get("/api/threads/secret-plan@alice").json()["user_id"] == "alice"
        assert alice.post("/api/threads", json={"thread_id": "secret-plan"}).status_code == 409  # her own: taken


BAD = [
    ("GET", "/static/index.html%00.js"), ("GET", "/static/%00"), ("GET", "/static/..%2Fapp.js"),
    ("GET", "/static/" + "a" * 5000 + ".js"), ("GET", "/api/threads/%00"), ("GET", "/api/threads/%00/runs"),
    ("GET", "/api/runs/%00"), ("GET", "/api/threads/x%00y/events"), ("POST", "/api/threads/%00/messages"),
]


@pytest.mark.parametrize("method,path", BAD)
def test_bad_input_is_never_a_500(server, method, path):
    with server.client("alice") as c:
        r = c.request(method, path, json={"message": "hi"} if method == "POST" else None)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert r.json()["error"]["status"] == r.status_code


def test_bad_bodies_are_never_a_500(server):
    with server.client("alice") as c:
        tid = new_thread(c)
        for content in (b"\xff\xfe\x00", b'{"message": "\\ud800"}', b'{"message": "a\\u0000b"}'):
            r = c.post(f"/api/threads/{tid}/messages", content=content, headers={"Content-Type": "application/json"})
            assert 400 <= r.status_code < 500, (content, r.status_code, r.text)
        for title in ('"\\ud800"', '"a\\u0000b"'):
            r = c.post(
                "/api/threads", content=b'{"title": %s}' % title.encode(), headers={"Content-Type": "application/json"}
            )
            assert r.status_code == 422, (title, r.text)


def test_401_and_403_are_audited_and_rows_say_who_what_which_thread_when_outcome(db_url, tmp_path):
    with ServerProcess(db_url, log=tmp_path / "server.log") as srv:
        t0 = time.time()
        with srv.client() as anon, srv.client(token="not-a-real-token") as wrong:
            assert anon.get("/api/threads/someones-thread").status_code == 401
            assert wrong.post("/api/threads/other-thread/messages", json={"message": "hi"}).status_code == 401
        with srv.client("bob") as bob:
            assert bob.get("/api/audit").status_code == 403
            assert bob.post("/api/agents/listing/status", json={"status": "paused"}).status_code == 403
        with srv.client("alice") as alice:
            tid = new_thread(alice)
            posted = alice.post(f"/api/threads/{tid}/messages", json={"message": "hello", "stream": False})
            assert posted.status_code == 200
        with srv.client("root") as admin:
            rows = admin.get("/api/audit", params={"limit": 5000}).json()["entries"]
            unauth = [r for r in rows if r["outcome"] == 401]
            assert {(r["user_id"], r["thread_id"], r["detail"]) for r in unauth} == {
                ("-", "someones-thread", "no token"), ("-", "other-thread", "unknown token")}
            assert {(r["user_id"], r["action"]) for r in rows if r["outcome"] == 403} == {
                ("bob", "audit.read"), ("bob", "agent.status")}
            posted = next(r for r in rows if r["action"] == "message.post")
            assert (posted["user_id"], posted["thread_id"], posted["outcome"]) == ("alice", tid, 200)
            assert t0 - 1 <= posted["at"] <= time.time()
            # append-only from the API: no route changes or deletes a row
            for method in ("PUT", "PATCH", "DELETE", "POST"):
                assert admin.request(method, "/api/audit").status_code == 405
            paths = admin.get("/openapi.json").json()["paths"]
            assert not any(p.startswith("/api/audit") and set(ops) - {"get"} for p, ops in paths.items())
            again = admin.get("/api/audit", params={"limit": 5000}).json()["entries"]
            assert again[-len(rows):] == rows  # the earlier rows, unchanged, behind newer ones
