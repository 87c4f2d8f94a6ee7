"""A hard crash mid-turn: the stored events survive, the client catches up, the turn is finished."""

from __future__ import annotations

from pathlib import Path

from tests.server_kit import ServerProcess, new_thread, post_sse, sse

AGENTS = str(Path(__file__).with_name("slow_agents.toml"))


def test_events_survive_a_crash_and_the_turn_is_finished_after_restart(tmp_path):
    with ServerProcess(tmp_path / "crash.db", args=("--agents-file", AGENTS)) as srv:
        with srv.client("alice") as c:
            tid = new_thread(c)
            seen = []
            with c.stream("POST", f"/api/threads/{tid}/messages", json={"message": "nap seconds 2"},
                          headers={"Accept": "text/event-stream"}) as response:
                for event in sse(response):
                    seen.append(event)
                    if event["type"] == "tool_execution":
                        srv.crash()  # kill -9 while the action runs
                        break
        srv.start()
        with srv.client("alice") as c:
            assert c.get(f"/api/threads/{tid}").json()["status"] == "interrupted"
            stored = c.get(f"/api/threads/{tid}/events").json()["events"]
            assert [e["offset"] for e in stored] == [e["offset"] for e in seen]  # nothing lost, nothing invented
            with c.stream("GET", f"/api/threads/{tid}/events",
                          headers={"Accept": "text/event-stream", "Last-Event-ID": str(seen[-1]["offset"])}) as r:
                assert list(sse(r)) == []  # caught up; the turn is not running
            # a message on the interrupted thread would finish it first; here we just finish it
            finished = post_sse(c, f"/api/threads/{tid}/resume", {"action": "continue"})
            assert finished[0]["type"] == "resumed" and finished[0]["reason"] == "recovery"
            assert finished[0]["offset"] == seen[-1]["offset"] + 1
            assert finished[-1]["type"] == "conversation_end" and finished[-1]["status"] == "completed"
            assert any(e["type"] == "agent_complete" and e["text"] == "Napped 2s." for e in finished)
            runs = c.get(f"/api/threads/{tid}/runs").json()["runs"]
            assert [(r["kind"], r["status"]) for r in runs] == [("turn", "interrupted"), ("recover", "completed")]
            assert c.post(f"/api/threads/{tid}/resume", json={"action": "continue"}).status_code == 409
