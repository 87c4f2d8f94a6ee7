"""Deleting a thread (retention or `threads delete`) removes its runs, events, effects and jobs too."""

from __future__ import annotations

from stateline.checkpointing import delete_idle_threads, delete_thread
from stateline.examples.storefront import create_agents
from stateline.lifecycle._queue import RunQueue
from stateline import App

TABLES = ("tracking_runs", "effect_ledger", "run_queue", "stream_events", "threads")


def counts(db, thread_id):
    return {t: db.query_one(f"SELECT COUNT(*) AS n FROM {t} WHERE thread_id = ?", (thread_id,))["n"] for t in TABLES}


def test_deleting_a_thread_deletes_its_rows_everywhere_and_keeps_the_others(db):
    with App(create_agents(db), db=db) as app:
        for thread in ("gone", "kept"):
            list(app.stream(thread, "sell: title Kite, price 15, category toys, description: A red kite"))
            RunQueue(db).enqueue(thread, "total revenue for toys")
        assert all(n > 0 for n in counts(db, "gone").values())
        delete_thread(db, "gone")
        assert counts(db, "gone") == dict.fromkeys(TABLES, 0)
        assert all(n > 0 for n in counts(db, "kept").values())
        runs = db.query("SELECT run_id FROM tracking_runs")
        orphans = db.query_one(
            "SELECT COUNT(*) AS n FROM tracking_events e WHERE NOT EXISTS "
            "(SELECT 1 FROM tracking_runs r WHERE r.run_id = e.run_id)"
        )
        assert runs and orphans["n"] == 0
        assert delete_idle_threads(db, ttl_seconds=0) == ["kept"]
        assert counts(db, "kept") == dict.fromkeys(TABLES, 0)
