"""The small SQL contract stateline's own tables are written against, and its SQLite side.

Every component (threads, lifecycle, runs, events, effects) talks to its tables through
:class:`Backend`: ``?`` placeholders, rows that index by column name *and* position, and a
``transaction()`` whose ``execute`` returns a cursor-like object (``fetchone``, ``fetchall``,
``rowcount``). :mod:`._pg` implements the same contract on PostgreSQL, so a component's SQL
runs unchanged on both as long as it sticks to the portable subset: ``INSERT ... ON CONFLICT
... DO UPDATE``, ``RETURNING``, TEXT ids, INTEGER/REAL/TEXT/BLOB columns, no AUTOINCREMENT.
"""

from __future__ import annotations

import functools
import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from . import _sqlite
from ._walsync import WalSync, wal_sync_for


class Row(tuple):
    """One result row: ``row["col"]``, ``row[0]``, ``row.keys()``, ``dict(row)``.

    The same shape as :class:`sqlite3.Row` (iterating yields values), on both backends.
    """

    __slots__ = ()
    _names: tuple[str, ...] = ()
    """Column names; set on the per-query-shape subclass :func:`make_row` builds."""

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            try:
                return tuple.__getitem__(self, self._names.index(key))
            except ValueError:
                raise IndexError(f"no column named {key!r}; columns: {', '.join(self._names)}") from None
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self._names else default

    def __repr__(self) -> str:
        return "Row(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._names, self, strict=False)) + ")"


_row_classes: dict[tuple[str, ...], type[Row]] = {}


def make_row(names: tuple[str, ...]) -> type[Row]:
    """The Row class for one column list (cached: a query shape is built once)."""
    cls = _row_classes.get(names)
    if cls is None:
        cls = type("Row", (Row,), {"__slots__": (), "_names": names})
        _row_classes[names] = cls
    return cls


def _sqlite_row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> Row:
    names = tuple(d[0] for d in cursor.description)
    return tuple.__new__(make_row(names), values)


class Cursor(Protocol):
    """What ``Transaction.execute`` returns on every backend."""

    rowcount: int

    def fetchone(self) -> Row | None: ...
    def fetchall(self) -> list[Row]: ...


class Transaction(Protocol):
    """The object ``Backend.transaction()`` yields."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...


class Backend(Protocol):
    """One database's app-table access; thread-safe."""

    where: str
    """The database as the user named it (password hidden), for messages."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...
    def transaction(self, *, durable: bool = True) -> AbstractContextManager[Transaction]: ...
    def ddl(self, statement: str) -> str: ...
    def lock_migrations(self, tx: Transaction) -> None: ...
    def close(self) -> None: ...


SCHEMA_TABLE = "CREATE TABLE IF NOT EXISTS stateline_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
META_TABLE = "CREATE TABLE IF NOT EXISTS stateline_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
"""Database-wide facts (the encryption key check value)."""


class Result:
    """The rows of one statement, fetched eagerly, and how many rows it touched.

    The same on both backends: ``rowcount`` counts rows written by INSERT/UPDATE/DELETE
    (also with RETURNING) and rows returned by SELECT.
    """

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    def fetchone(self) -> Row | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    def fetchall(self) -> list[Row]:
        rest = self._rows[self._next :]
        self._next = len(self._rows)
        return rest

    @classmethod
    def of(cls, cur: Any) -> Result:
        """Drain a DB-API cursor (sqlite3 or psycopg) into a Result."""
        rows = cur.fetchall() if cur.description is not None else []
        count = cur.rowcount
        return cls(rows, count if count >= 0 else len(rows))


class SqliteBackend:
    """App tables on one autocommit sqlite3 connection, guarded by a re-entrant lock."""

    def __init__(self, conn: sqlite3.Connection, where: str, *, read_only: bool = False) -> None:
        self.where = where
        self._conn = conn
        self._lock = threading.RLock()
        self._depth = 0
        self._synchronous = "FULL"  # as _sqlite.connect opens it
        self._wal_sync = _group_commit(conn)
        if self._wal_sync is not None:  # set once: durable commits are synced by the group commit
            self._set_synchronous("NORMAL")
        conn.row_factory = _sqlite_row
        if not read_only:  # a read-only handle creates nothing (checkpointing._readonly)
            self._run(SCHEMA_TABLE)
            self._run(META_TABLE)

    def _run(self, sql: str, params: Sequence[Any] = ()) -> Result:
        with self._lock:
            try:
                return Result.of(self._conn.execute(without_row_locks(sql), params))
            except sqlite3.Error as exc:
                raise _sqlite.translate_error(exc, self.where) from exc

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            alone = self._depth == 0  # a statement in its own transaction: always durable
            if alone and self._wal_sync is None:
                self._set_synchronous("FULL")
            changes = self._conn.total_changes
            count = self._run(sql, params).rowcount
            # a row write that changed no row (UPDATE ... WHERE nothing matches) has nothing to
            # sync; any other statement (DDL counts no rows) is synced as always
            wrote = self._conn.total_changes != changes or not _ROW_WRITE.match(sql)
            ticket = self._wal_sync.ticket() if alone and wrote and self._wal_sync is not None else None
        if ticket is not None:
            self._durable(ticket)
        return count

    def _durable(self, ticket: int) -> None:
        """Return once the WAL was fsynced after commit ``ticket`` (outside the lock)."""
        assert self._wal_sync is not None
        self._wal_sync.wait_durable(ticket)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._run(sql, params).fetchall()

    def _set_synchronous(self, level: str) -> None:
        if self._synchronous != level:
            self._conn.execute(f"PRAGMA synchronous={level}")
            self._synchronous = level

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Transaction]:
        """BEGIN IMMEDIATE (the write lock taken up front); nested calls use a savepoint.

        ``durable=False`` commits with ``synchronous=NORMAL``: in WAL mode such a commit
        survives a process crash, and the next durable commit to the file (any connection's:
        the WAL is one file) syncs it too. A nested call runs at its outer one's level.

        On a WAL file the connection stays at ``synchronous=NORMAL`` (no PRAGMA per
        transaction): a durable commit returns once the WAL was fsynced after it, by
        the process-wide group commit the saver uses too (``_walsync``: one fsync covers
        every commit of the file before it, as durable as FULL for each of them).
        """
        ticket: list[int] = []
        with self._transaction(durable, ticket) as tx:
            yield tx
        if ticket:
            self._durable(ticket[0])

    @contextmanager
    def _transaction(self, durable: bool, ticket: list[int]) -> Iterator[Transaction]:
        with self._lock:
            depth = self._depth
            begin, commit, rollback = (
                ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
                if depth == 0
                else (f"SAVEPOINT sp{depth}", f"RELEASE sp{depth}", f"ROLLBACK TO sp{depth}")
            )
            if depth == 0 and self._wal_sync is None:
                self._set_synchronous("FULL" if durable else "NORMAL")
            self._run(begin)
            self._depth += 1
            try:
                yield _SqliteTx(self)
            except BaseException:
                self._depth -= 1
                try:
                    self._conn.execute(rollback)
                    if depth:
                        self._conn.execute(f"RELEASE sp{depth}")
                except sqlite3.Error:
                    pass  # the original error says more than a failed rollback
                raise
            else:
                self._depth -= 1
                try:
                    self._run(commit)
                except BaseException:
                    if depth == 0 and self._conn.in_transaction:
                        self._conn.execute("ROLLBACK")
                    raise
                if depth == 0 and durable and self._wal_sync is not None:
                    ticket.append(self._wal_sync.ticket())  # after COMMIT: see _walsync

    def ddl(self, statement: str) -> str:
        return statement

    def lock_migrations(self, tx: Transaction) -> None:
        """Nothing to do: BEGIN IMMEDIATE already keeps a second migrator out."""

    def close(self) -> None:
        self._conn.close()


def _group_commit(conn: sqlite3.Connection) -> WalSync | None:
    """The file's group-commit syncer when ``conn`` is on a WAL file, else None (FULL commits)."""
    try:
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        where = next((r[2] for r in conn.execute("PRAGMA database_list") if r[1] == "main"), "")
    except sqlite3.Error:
        return None
    return wal_sync_for(where) if mode == "wal" and where else None


class _SqliteTx:
    def __init__(self, backend: SqliteBackend) -> None:
        self._backend = backend

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._backend._run(sql, params)


_ROW_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)
"""Statements whose every change is counted by ``total_changes`` (trigger changes included)."""
_ROW_LOCK = re.compile(r"\s+FOR\s+UPDATE(\s+(SKIP\s+LOCKED|NOWAIT))?\s*;?\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=512)
def without_row_locks(sql: str) -> str:
    """Drop a trailing ``FOR UPDATE`` on SQLite, where BEGIN IMMEDIATE already locks every row.

    So a component writes ``SELECT ... FOR UPDATE`` once and it is correct on both backends.
    """
    return _ROW_LOCK.sub("", sql)


def statements(script: str) -> list[str]:
    """Split a migration script into statements (no ``;`` inside literals, by convention)."""
    return [s.strip() for s in script.split(";") if s.strip()]
