"""Agent lifecycle, run timelines and effects in doubt over HTTP (needs the `lifecycle` package)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.server_kit import ServerProcess, new_thread, post_sse, sse

pytest.importorskip("lifecycle", reason="the lifecycle package is not in this build")
AGENTS = str(Path(__file__).with_name("slow_agents.toml"))
FULL_LISTING = "Sell a product: title Red Ceramic Mug, price 12.50, category kitchen, description: A sturdy 300 ml mug"


def test_admin_pauses_and_activates_an_agent(server):
    with server.client("root") as admin, server.client("alice") as alice:
        agents = {a["name"]: a for a in alice.get("/api/agents").json()["agents"]}
        assert agents["pricing"]["status"] == "active" and agents["pricing"]["lifecycle"] is True
        assert alice.post("/api/agents/pricing/status", json={"status": "paused"}).status_code == 403
        assert admin.post("/api/agents/pricing/status", json={"status": "sleeping"}).status_code == 400
        assert admin.post("/api/agents/pricing/status", json={"status": "initialized"}).status_code == 409
        r = admin.post("/api/agents/pricing/status", json={"status": "paused", "reason": "maintenance"})
        assert r.status_code == 200 and r.json()["status"] == "paused"
        try:
            tid = new_thread(alice)
            body = alice.post(
                f"/api/threads/{tid}/messages", json={"message": "what price should I charge? cost 6, margin 45%"}
            ).json()
            assert body["status"] == "completed"
            assert "paused" in body["replies"][0]["text"] and "tool_execution" not in [
                e["type"] for e in body["events"]
            ]
        finally:
            assert admin.post("/api/agents/pricing/status", json={"status": "active"}).status_code == 200
        audit = admin.get("/api/audit", params={"target": "pricing"}).json()["entries"]
        assert [(e["user_id"], e["outcome"]) for e in audit if e["outcome"] == 200] == [("root", 200), ("root", 200)]


def test_timeline_shows_steps_and_effects(server):
    with server.client("alice") as c:
        tid = new_thread(c)
        post_sse(c, f"/api/threads/{tid}/messages", {"message": FULL_LISTING})
        post_sse(c, f"/api/threads/{tid}/resume", {"action": "approve"})
        runs = c.get(f"/api/threads/{tid}/runs").json()["runs"]
        assert [(r["kind"], r["status"]) for r in runs] == [("turn", "waiting"), ("decision", "completed")]
        decision = runs[-1]
        nodes = [(s["agent"], s["node"], s["status"]) for s in decision["steps"]]
        assert ("listing", "act", "done") in nodes
        assert all(s["duration_ms"] is not None for s in decision["steps"])
        assert [(e["name"], e["status"], e["in_doubt"]) for e in decision["effects"]] == [("publish", "done", False)]
        detail = c.get(f"/api/runs/{decision['run_id']}").json()
        assert detail["effects"] == decision["effects"]


def test_an_effect_cut_by_a_crash_is_shown_in_doubt(tmp_path):
    with ServerProcess(tmp_path / "doubt.db", args=("--agents-file", AGENTS)) as srv:
        with srv.client("alice") as c:
            tid = new_thread(c)
            with c.stream("POST", f"/api/threads/{tid}/messages", json={"message": "send seconds 3"},
                          headers={"Accept": "text/event-stream"}) as response:
                for event in sse(response):
                    if event["type"] == "tool_execution":
                        time.sleep(0.5)  # the effect is recorded as started, and sleeping
                        srv.crash()
                        break
        srv.start()
        with srv.client("alice") as c:
            runs = c.get(f"/api/threads/{tid}/runs").json()["runs"]
            doubt = runs[-1]["effects_in_doubt"]
            assert [(e["name"], e["status"]) for e in doubt] == [("send", "started")]
            # the thread is blocked until an operator says what happened: nothing runs, typed 409
            effect_id = doubt[0]["effect_id"]
            for path, body in ((f"/api/threads/{tid}/resume", {"action": "continue"}),
                               (f"/api/threads/{tid}/messages", {"message": "send seconds 1"})):
                refused = c.post(path, json=body)
                assert refused.status_code == 409, refused.text
                error = refused.json()["error"]
                assert (
                    error["type"] == "ThreadInDoubtError"
                    and f"stateline effects resolve {effect_id}" in error["message"]
                )
            after = c.get(f"/api/threads/{tid}/runs").json()["runs"]
            assert len(after) == len(runs) and after[-1]["effects_in_doubt"] == doubt  # nothing ran
