"""LangGraph's checkpointer conformance suite, all eight capabilities, on SQLite
(row layout and tiny segments) and PostgreSQL (sync and async savers)."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate

from stateline.checkpointing import StatelineAsyncPostgresSaver, _archive, open_database

CAPABILITIES = {
    "put", "put_writes", "get_tuple", "list",
    "delete_thread", "delete_for_runs", "copy_thread", "prune",
}  # fmt: skip


@pytest.mark.parametrize("backend", ["sqlite", "sqlite-segments", "postgres", "postgres-async"])
def test_conformance_all_capabilities(backend, request, tmp_path, monkeypatch):
    if backend == "sqlite-segments":  # archive all but the newest checkpoint, one per segment
        monkeypatch.setattr(_archive, "KEEP_LIVE", 1)
        monkeypatch.setattr(_archive, "SEGMENT_SIZE", 1)
    counter = itertools.count()
    # one PostgreSQL schema for the whole suite: every conformance test uses fresh thread ids
    pg_url = request.getfixturevalue("pg_url") if backend.startswith("postgres") else None

    @checkpointer_test(name=f"stateline-{backend}")
    async def factory():
        if backend == "postgres-async":
            async with StatelineAsyncPostgresSaver.from_conn_string(pg_url) as saver:
                await saver.setup()
                yield saver
            return
        db = open_database(pg_url or f"sqlite:///{tmp_path}/conf{next(counter)}.db")
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
