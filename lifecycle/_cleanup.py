"""Delete a thread's lifecycle rows when its checkpoints are deleted (retention, `threads delete`).

Registered with ``checkpointing.on_threads_deleted`` when ``lifecycle`` is imported, so an
idle-thread TTL or an explicit delete leaves no orphaned runs, events, effects, leases or jobs.
"""

from __future__ import annotations

from collections.abc import Sequence

from stateline.checkpointing import Database, on_threads_deleted

# (table, how to select the rows of the given threads); run events hang off their runs
_THREAD_ROWS = (
    ("tracking_events", "run_id IN (SELECT run_id FROM tracking_runs WHERE thread_id IN ({marks}))"),
    ("tracking_runs", "thread_id IN ({marks})"),
    ("effect_ledger", "thread_id IN ({marks})"),
    ("thread_leases", "thread_id IN ({marks})"),
    ("run_queue", "thread_id IN ({marks})"),
)


def existing_tables(db: Database) -> set[str]:
    """Names of the tables in ``db`` (a component's tables exist only once it has been used)."""
    if db.url.backend == "postgres":
        rows = db.query("SELECT tablename AS name FROM pg_tables WHERE schemaname = current_schema()")
    else:
        rows = db.query("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {r["name"] for r in rows}


def delete_thread_rows(db: Database, thread_ids: Sequence[str], plan: Sequence[tuple[str, str]]) -> None:
    """Delete, in one transaction, the rows ``plan`` selects for ``thread_ids``."""
    if not thread_ids:
        return
    tables = existing_tables(db)
    marks = ", ".join("?" for _ in thread_ids)
    with db.transaction() as tx:
        for table, where in plan:
            if table in tables:
                tx.execute(f"DELETE FROM {table} WHERE {where.format(marks=marks)}", tuple(thread_ids))


@on_threads_deleted
def delete_lifecycle_rows(db: Database, thread_ids: Sequence[str]) -> None:
    delete_thread_rows(db, thread_ids, _THREAD_ROWS)


@on_threads_deleted
def delete_thread_memory(db: Database, thread_ids: Sequence[str]) -> None:
    """An anonymous conversation's memory (store namespace ``("threads", id)``) goes with it."""
    for thread_id in thread_ids:
        for item in db.store.search(("threads", thread_id), limit=10_000):
            db.store.delete(item.namespace, item.key)
