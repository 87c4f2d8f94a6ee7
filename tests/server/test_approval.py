"""Human approval over HTTP: the thread waits across a server restart; approve, reject, edit."""

from __future__ import annotations

import subprocess
import sys

from tests.server_kit import ROOT, new_thread, post_sse

FULL_LISTING = "Sell a product: title Red Ceramic Mug, price 12.50, category kitchen, description: A sturdy 300 ml mug"


def _wait_for_approval(c, tid):
    events = post_sse(c, f"/api/threads/{tid}/messages", {"message": FULL_LISTING})
    assert [e["type"] for e in events][-2:] == ["waiting_input", "conversation_end"]
    assert events[-1]["status"] == "waiting"
    waiting = events[-2]
    assert waiting["agent"] == "listing" and waiting["draft"]["title"] == "Red Ceramic Mug"
    return waiting


def test_approval_survives_a_server_restart(own_server):
    srv = own_server.start()
    with srv.client("alice") as c:
        tid = new_thread(c)
        _wait_for_approval(c, tid)
        # a new message is refused while the thread waits
        assert c.post(f"/api/threads/{tid}/messages", json={"message": "hello"}).status_code == 409
    srv.restart()
    with srv.client("alice") as c:
        thread = c.get(f"/api/threads/{tid}").json()
        assert thread["status"] == "waiting"
        assert thread["interrupt"]["draft"]["price"] == 12.5
        events = post_sse(c, f"/api/threads/{tid}/resume", {"action": "approve"})
        assert events[0]["type"] == "resumed" and events[0]["decision"] == {"action": "approve"}
        assert "tool_execution" in [e["type"] for e in events]
        assert events[-1]["status"] == "completed"
        reply = next(e for e in events if e["type"] == "agent_complete")["text"]
        assert reply.startswith("Published 'Red Ceramic Mug' in kitchen at $12.50")
        assert c.get(f"/api/threads/{tid}").json()["status"] == "idle"


def test_reject_does_nothing(server):
    with server.client("alice") as c:
        tid = new_thread(c)
        _wait_for_approval(c, tid)
        r = c.post(f"/api/threads/{tid}/resume", json={"action": "reject"})
        assert r.status_code == 200
        body = r.json()
        assert body["status"] == "completed"
        assert body["replies"] == [{"agent": "listing", "text": "Cancelled; nothing was done."}]
        assert "tool_execution" not in [e["type"] for e in body["events"]]
        view = c.get(f"/api/threads/{tid}").json()
        assert view["status"] == "idle" and "listing" not in view["drafts"]


def test_edit_is_validated_and_asked_again(server):
    with server.client("alice") as c:
        tid = new_thread(c)
        _wait_for_approval(c, tid)
        bad = c.post(f"/api/threads/{tid}/resume", json={"action": "edit", "fields": {"price": "-3"}}).json()
        assert bad["status"] == "completed" and "price" in bad["replies"][0]["text"]  # invalid: asked again
        fixed = c.post(f"/api/threads/{tid}/messages", json={"message": "price 15"}).json()
        assert fixed["status"] == "waiting" and fixed["waiting"]["draft"]["price"] == 15.0
        edited = c.post(f"/api/threads/{tid}/resume", json={"action": "edit", "fields": {"title": "Blue Mug"}}).json()
        assert edited["status"] == "waiting" and edited["waiting"]["draft"]["title"] == "Blue Mug"
        done = c.post(f"/api/threads/{tid}/resume", json={"action": "approve"}).json()
        assert done["replies"][0]["text"].startswith("Published 'Blue Mug' in kitchen at $15.00")


def _cli(db, *args, env=None):
    import os

    return subprocess.run(
        [sys.executable, "-m", "stateline", "--db", f"sqlite:///{db}", "--json", "--example", "storefront", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**os.environ, "STATELINE_PROVIDER": "offline", **(env or {})},
    )


def test_cli_resume_approve_reject_edit(tmp_path):
    db = tmp_path / "cli.db"
    first = _cli(db, "run", "--thread", "T", FULL_LISTING, env={"STATELINE_APPROVAL": "listing"})
    assert first.returncode == 0, first.stderr
    assert '"status": "waiting"' in first.stdout
    # the resuming process was not told about approval: the decision is still honoured
    edited = _cli(db, "resume", "T", "--edit", "price=20")
    assert edited.returncode == 0, edited.stderr
    assert '"status": "waiting"' in edited.stdout and '"price": "20"' in edited.stdout
    rejected = _cli(db, "resume", "T", "--reject")
    assert rejected.returncode == 0, rejected.stderr
    assert "Cancelled; nothing was done." in rejected.stdout
    again = _cli(db, "resume", "T", "--approve")
    assert again.returncode == 2 and "not waiting" in again.stderr
    both = _cli(db, "resume", "T", "--approve", "--reject")
    assert both.returncode == 2 and "choose one" in both.stderr
