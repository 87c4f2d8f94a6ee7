"""pytest plugin: LangGraph's own test suites with stateline's savers where the stock ones are.

Loaded by ``python -m bench.peer_suites`` (``-p stateline_peer``) before any test module
is imported: it replaces ``SqliteSaver``/``AsyncSqliteSaver``/``PostgresSaver``/
``AsyncPostgresSaver`` in their LangGraph modules with stateline's savers, points the
suites' PostgreSQL URLs at ``STATELINE_TEST_PG_URL``'s server, deselects parameters that
run no stateline saver (``memory``, ``redis``, shallow savers, stores) and skips the
reviewed tests of ``SKIPS`` (each checks a stock internal) with their reason.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

from stateline.checkpointing import StatelineAsyncPostgresSaver, StatelinePostgresSaver, StatelineSqliteSaver

SKIPS: dict[str, str] = {
    # test id (file::name, parameters stripped) -> why it cannot apply to stateline's saver
    "tests/test_sqlite.py::TestSqliteSaver::test_informative_async_errors":
        "expects stock SqliteSaver's NotImplementedError for async calls; stateline's saver implements them",
    "tests/test_delta_parent_walk.py::test_walk_step_looks_up_the_parent_by_primary_key":
        "EXPLAIN QUERY PLAN of stock SqliteSaver's stage-1 SQL over its `checkpoints` table",
    # test_writes_task_path_migration.py: stock's own migration of its `writes` table (adding
    # `task_path`); stateline's tables are `sl_*` and always had task_path. The behaviour they
    # carry (task_path stored; delta history readable from a read-only file) is
    # tests/checkpointing/test_peer_bugs.py::test_read_only_database_reads_delta_history_and_task_paths
    "tests/test_writes_task_path_migration.py::test_setup_migrates_legacy_writes_table_repeatably":
        "SELECTs task_path from stock SqliteSaver's `writes` table after its legacy-table migration",
    "tests/test_writes_task_path_migration.py::test_put_writes_persists_task_path":
        "SELECTs from stock SqliteSaver's `writes` table (stateline stores task_path in sl_writes)",
    "tests/test_writes_task_path_migration.py::test_async_setup_migrates_legacy_writes_table_repeatably":
        "SELECTs task_path from stock's `writes` table after its legacy-table migration",
    "tests/test_writes_task_path_migration.py::test_async_setup_does_not_wait_on_another_writer":
        "builds AsyncSqliteSaver from an aiosqlite connection (stock constructor); stateline's SQLite "
        "saver takes a sqlite3 connection; the sync twin test_setup_does_not_wait_on_another_writer runs",
    "tests/test_writes_task_path_migration.py::test_read_only_legacy_database_still_reads_delta_history":
        "ALTERs stock's `writes` table (DROP COLUMN task_path) to fake a legacy stock file",
    "tests/test_writes_task_path_migration.py::test_async_read_only_legacy_database_still_reads_delta_history":
        "ALTERs stock's `writes` table (DROP COLUMN task_path) to fake a legacy stock file",
    # both suites' test_conformance_delta.py: see tests/checkpointing/test_conformance.py
    "tests/test_conformance_delta.py::test_delta_channel_conformance":
        "needs the conformance package's `delta_channel_history` capability, which the installed "
        "langgraph-checkpoint-conformance 0.0.2 (newest on the index) lacks; stateline's own "
        "tests/checkpointing/test_conformance.py checks that capability on every saver",
    "tests/test_prune.py::test_keep_latest_keeps_each_namespace_head_with_its_writes_and_blobs":
        "asserts the exact rows of `checkpoint_blobs` after prune (only the heads' versions); "
        "stateline stores a list as a delta on older versions, whose rows the head's value needs. "
        "The same test's checkpoint, write and get_tuple checks pass before that assertion",
    "tests/test_delta_pagination.py::test_sync_walk_continues_across_pages":
        "monkeypatches stock BasePostgresSaver._ingest_stage1_page (stock walk internals)",
    "tests/test_delta_pagination.py::test_async_walk_continues_across_pages":
        "monkeypatches stock BasePostgresSaver._ingest_stage1_page (stock walk internals)",
    "tests/test_delta_pagination.py::test_sync_walk_reads_nothing_newer_than_the_target":
        "monkeypatches stock BasePostgresSaver._ingest_stage1_page (stock walk internals)",
    "tests/test_delta_pagination.py::test_async_walk_reads_nothing_newer_than_the_target":
        "monkeypatches stock BasePostgresSaver._ingest_stage1_page (stock walk internals)",
}
"""The reviewed list: every other selected test must pass with stateline's savers."""

NOT_OURS = ("memory", "redis", "shallow")
"""Parameter values naming a saver or service that is not stateline's (deselected, counted)."""
NOT_OURS_FILES = ("test_store.py", "test_async_store.py", "test_ttl.py")
"""Files that test stock stores only (no checkpoint saver)."""


class PeerSqliteSaver(StatelineSqliteSaver):
    """``SqliteSaver``'s constructor and ``from_conn_string`` on stateline's saver."""

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str) -> Iterator[PeerSqliteSaver]:
        conn = sqlite3.connect(conn_string, check_same_thread=False)
        try:
            yield cls(conn)
        finally:
            conn.close()


class PeerAsyncSqliteSaver(StatelineSqliteSaver):
    """``AsyncSqliteSaver.from_conn_string``: stateline's saver (its async methods use a thread)."""

    @classmethod
    @asynccontextmanager
    async def from_conn_string(cls, conn_string: str) -> AsyncIterator[PeerAsyncSqliteSaver]:
        conn = sqlite3.connect(conn_string, check_same_thread=False)
        try:
            saver = cls(conn)
            yield saver
        finally:
            conn.close()

    def setup(self) -> Any:  # type: ignore[override]
        """Sets up at once (the saver calls it itself) and is also awaitable, as stock's is."""
        StatelineSqliteSaver.setup(self)
        return _Done()


class _Done:
    def __await__(self) -> Any:
        return iter(())


def _server_url() -> str:
    """``STATELINE_TEST_PG_URL`` without its database: the suites append one they create."""
    url = os.environ.get("STATELINE_TEST_PG_URL")
    if not url:
        raise pytest.UsageError("STATELINE_TEST_PG_URL must name the PostgreSQL server the suites use")
    return urlunsplit(urlsplit(url)._replace(path="/", query=""))


def _patch_savers() -> None:
    import langgraph.checkpoint.postgres as pg
    import langgraph.checkpoint.postgres.aio as pg_aio
    import langgraph.checkpoint.sqlite as sq
    import langgraph.checkpoint.sqlite.aio as sq_aio

    sq.SqliteSaver = PeerSqliteSaver  # type: ignore[misc]
    sq_aio.AsyncSqliteSaver = PeerAsyncSqliteSaver  # type: ignore[misc]
    pg.PostgresSaver = StatelinePostgresSaver  # type: ignore[misc]
    pg_aio.AsyncPostgresSaver = StatelineAsyncPostgresSaver  # type: ignore[misc]


def _patch_urls() -> None:
    server = _server_url()
    peer_db = os.environ.get("STATELINE_PEER_DB", "stateline_peer")
    for name, module in list(sys.modules.items()):
        if not (name == "tests" or name.startswith("tests.")) or module is None:
            continue
        if hasattr(module, "DEFAULT_POSTGRES_URI"):
            module.DEFAULT_POSTGRES_URI = server  # type: ignore[attr-defined]
        if hasattr(module, "DEFAULT_URI"):
            module.DEFAULT_URI = f"{server}{peer_db}?sslmode=disable"  # type: ignore[attr-defined]


_patch_savers()


def pytest_sessionstart(session: pytest.Session) -> None:
    _patch_urls()


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    """Store-only files are not collected (they test stock stores, with markers of their own)."""
    return True if collection_path.name in NOT_OURS_FILES else None


def _key(item: pytest.Item) -> str:
    return item.nodeid.split("[", 1)[0]


def _not_ours(item: pytest.Item) -> bool:
    if item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1] in NOT_OURS_FILES:
        return True
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return False
    return any(isinstance(v, str) and any(n in v for n in NOT_OURS) for v in callspec.params.values())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _patch_urls()  # test modules copied the URLs at import
    kept, dropped = [], []
    only_savers = os.environ.get("STATELINE_PEER_ONLY_SAVERS") == "1"
    for item in items:
        uses_saver = any("checkpointer" in f or "saver" in f for f in getattr(item, "fixturenames", ()))
        if _not_ours(item) or (only_savers and not uses_saver):
            dropped.append(item)
            continue
        reason = SKIPS.get(_key(item))
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"reviewed skip: {reason}"))
        kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = kept


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [f"stateline peer run: savers {StatelineSqliteSaver.__name__}, {StatelinePostgresSaver.__name__}, "
            f"{StatelineAsyncPostgresSaver.__name__}; {len(SKIPS)} reviewed skips"]
