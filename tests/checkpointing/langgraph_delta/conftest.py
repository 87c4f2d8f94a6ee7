"""Fixture wiring of LangGraph's vendored delta-channel tests: stateline's savers.

The files beside this one are LangGraph's own tests of ``DeltaChannel`` histories
(``get_delta_channel_history``: seeds, writes, parent walks, migrations from a plain
channel), copied from the PyPI sdists of langgraph-checkpoint-sqlite 3.1.2 and
langgraph-checkpoint-postgres 3.2.0 (MIT, LICENSE beside this file). Where a test built
a stock saver, it calls a fixture instead:

* ``sync_saver()``: a context manager yielding a set-up saver, once per backend:
  ``StatelineSqliteSaver`` on a SQLite file, ``StatelinePostgresSaver`` on a fresh schema
  (the savers alone, as the upstream tests build them: no ``open_database`` components);
* ``async_saver()``: an async context manager, once per backend: the same two (their
  async methods) and ``StatelineAsyncPostgresSaver`` (psycopg's async driver).

Nothing is fetched at test time; ``make peer-suites`` runs the whole upstream suites.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from stateline.checkpointing import StatelineAsyncPostgresSaver, StatelinePostgresSaver, StatelineSqliteSaver

_files = itertools.count()


def _open_sync(request: pytest.FixtureRequest, backend: str, folder: Path) -> Callable[[], Any]:
    @contextmanager
    def open_saver() -> Iterator[Any]:
        if backend == "postgres":
            with StatelinePostgresSaver.from_conn_string(request.getfixturevalue("pg_url")) as saver:
                saver.setup()
                yield saver
            return
        conn = sqlite3.connect(folder / f"delta-{next(_files)}.db", check_same_thread=False)
        try:
            yield StatelineSqliteSaver(conn)
        finally:
            conn.close()

    return open_saver


@pytest.fixture(params=["sqlite", "postgres"])
def sync_saver(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], AbstractContextManager[Any]]:
    return _open_sync(request, request.param, tmp_path)


@pytest.fixture(params=["sqlite", "postgres", "postgres-async"])
def async_saver(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], AbstractAsyncContextManager[Any]]:
    backend = request.param

    @asynccontextmanager
    async def open_saver() -> AsyncIterator[Any]:
        if backend == "postgres-async":
            async with StatelineAsyncPostgresSaver.from_conn_string(request.getfixturevalue("pg_url")) as saver:
                await saver.setup()
                yield saver
            return
        with _open_sync(request, backend, tmp_path)() as saver:
            yield saver

    return open_saver


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
