"""LangGraph's checkpointer conformance suite, all eight capabilities, on a real SQLite file."""

from __future__ import annotations

import asyncio
import itertools

from langgraph.checkpoint.conformance import checkpointer_test, validate

from checkpointing import open_database

CAPABILITIES = {
    "put", "put_writes", "get_tuple", "list",
    "delete_thread", "delete_for_runs", "copy_thread", "prune",
}  # fmt: skip


def test_conformance_all_capabilities(tmp_path):
    counter = itertools.count()

    @checkpointer_test(name="StatelineSqliteSaver")
    async def factory():
        db = open_database(f"sqlite:///{tmp_path}/conf{next(counter)}.db")
        try:
            yield db.saver
        finally:
            db.close()

    report = asyncio.run(validate(factory))
    results = report.results
    assert set(results) == CAPABILITIES
    failures = {cap: r.failures for cap, r in results.items() if not (r.detected and r.passed)}
    assert not failures, failures
    assert all(r.tests_passed > 0 for r in results.values())

