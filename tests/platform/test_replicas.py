"""Crashes and replicas: a run is rejoined after kill -9, and two servers on one database share
runs, streams and the busy policy; a replica killed mid-turn has its turn finished once by another."""

from __future__ import annotations

import time

import pytest
from langgraph_sdk.errors import ConflictError

from tests.platform.conftest import FAST_TAKEOVER, SLOW_AGENTS, say, sdk
from tests.server_kit import ServerProcess

ARGS = ("--agents-file", SLOW_AGENTS)


def _until_acting(c, tid, run_id):
    """Follow the run until its action (the nap) has started; the parts seen so far."""
    seen = []
    for part in c.runs.join_stream(tid, run_id, stream_mode="events"):
        seen.append(part)
        if part.event == "events" and part.data["event"] == "on_tool_start":
            return seen
    raise AssertionError(f"the run ended before its action started: {[p.event for p in seen]}")


def _naps(c, tid):
    return [m["content"] for m in c.threads.get_state(tid)["values"]["messages"] if m["type"] == "ai"]


@pytest.fixture(params=["sqlite", "postgres"])
def crash_db(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crash.db'}"
    return request.getfixturevalue("pg_url")


def test_rejoin_after_kill_9_and_the_turn_is_finished_once(crash_db, tmp_path):
    srv = ServerProcess(crash_db, args=ARGS, env=FAST_TAKEOVER, log=tmp_path / "srv.log")
    try:
        srv.start()
        c = sdk(srv)
        tid = c.threads.create()["thread_id"]
        run = c.runs.create(tid, "slow_agents", input=say("nap seconds 2"), stream_mode=["updates", "values"])
        before = _until_acting(c, tid, run["run_id"])
        srv.crash()  # kill -9 while the action runs
        srv.start()
        c = sdk(srv)
        assert c.runs.get(tid, run["run_id"])["status"] == "running"  # the run row outlived its process
        parts = list(c.runs.join_stream(tid, run["run_id"], stream_mode="events"))
        assert [p.id for p in parts[1: len(before)]] == [p.id for p in before[1:]]  # stored: the same ids again
        assert c.runs.get(tid, run["run_id"])["status"] == "success"
        assert c.runs.join(tid, run["run_id"])["messages"][-1]["content"] == "Napped 2s."
        assert _naps(c, tid) == ["Napped 2s."]  # finished once
    finally:
        srv.stop()


def test_two_replicas_share_streams_busy_policy_and_recovery(pg_url, tmp_path):
    a = ServerProcess(pg_url, args=ARGS, env=FAST_TAKEOVER, log=tmp_path / "a.log")
    b = ServerProcess(pg_url, args=ARGS, env=FAST_TAKEOVER, log=tmp_path / "b.log")
    try:
        a.start()
        b.start()
        ca, cb = sdk(a), sdk(b)
        tid = ca.threads.create(metadata={"via": "a"})["thread_id"]
        assert [t["thread_id"] for t in cb.threads.search(metadata={"via": "a"})] == [tid]
        run = ca.runs.create(tid, "slow_agents", input=say("nap seconds 1"), stream_mode=["values", "updates"])
        with pytest.raises(ConflictError):  # B sees A's run: the thread is busy
            cb.runs.create(tid, "slow_agents", input=say("nap seconds 0.1"))
        queued = cb.runs.create(tid, "slow_agents", input=say("nap seconds 0.2"), multitask_strategy="enqueue")
        parts = list(cb.runs.join_stream(tid, run["run_id"]))  # A's run, streamed from B
        assert parts[-1].event == "values" and parts[-1].data["messages"][-1]["content"] == "Napped 1s."
        assert [p.data for p in parts] == [p.data for p in ca.runs.join_stream(tid, run["run_id"])]
        assert ca.runs.join(tid, queued["run_id"])["messages"][-1]["content"] == "Napped 0.2s."
        # A dies mid-turn; B takes the run over and the core finishes the turn once
        doomed = ca.runs.create(tid, "slow_agents", input=say("nap seconds 2"))
        _until_acting(cb, tid, doomed["run_id"])
        a.crash()
        t0 = time.monotonic()
        finished = list(cb.runs.join_stream(tid, doomed["run_id"], stream_mode="updates"))
        assert time.monotonic() - t0 < 30
        assert any(p.event == "updates" and p.data.get("napper", {}).get("messages") for p in finished)
        assert cb.runs.get(tid, doomed["run_id"])["status"] == "success"
        assert _naps(cb, tid) == ["Napped 1s.", "Napped 0.2s.", "Napped 2s."]
    finally:
        a.stop()
        b.stop()
