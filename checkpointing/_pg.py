"""PostgreSQL: LangGraph's PostgresSaver and PostgresStore, and stateline's tables, on one pool.

The app-table side implements the contract in :mod:`._sql` on psycopg 3: ``?`` placeholders
become ``%s``, rows index by column name and position, ``transaction()`` is a real
transaction on one pooled connection (so ``SELECT ... FOR UPDATE`` holds its lock until the
block ends), and migration DDL widens SQLite's loose types to what they mean there
(``REAL`` is 4-byte in PostgreSQL and would round epoch timestamps to minutes).
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from langgraph.store.postgres import PostgresStore
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from stateline.errors import ConfigError, DatabaseLockedError, StorageError

from ._pg_saver import MIGRATIONS as SAVER_MIGRATIONS  # noqa: F401 - re-exported
from ._pg_saver import StatelinePostgresSaver, UnboxingSerde  # noqa: F401 - re-exported
from ._sql import META_TABLE, SCHEMA_TABLE, Result, Row, Transaction, make_row
from ._serde import FastReadSerializer

CONNECT_TIMEOUT_S = 5
"""How long opening a connection may take before the server counts as unreachable."""
POOL_MAX_SIZE = 8
_SETUP_LOCK = 0x5374_6C01
"""Advisory lock ids: first-open setup, and app-table migrations (one process at a time)."""
_MIGRATION_LOCK = 0x5374_6C02
POOL_WAIT_S = 30
SETUP_WAIT_S = 60
"""How long a caller waits for a free pooled connection before a StorageError."""


def redact(dsn: str) -> str:
    """The URL with its password replaced by ``***``, for messages and logs."""
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return re.sub(r":[^:@/]*@", ":***@", dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@functools.lru_cache(maxsize=512)
def translate_placeholders(sql: str) -> str:
    """``?`` -> ``%s`` and ``%`` -> ``%%``, leaving quoted text and comments alone."""
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"'):
            end = i + 1
            while end < n:
                if sql[end] == ch:
                    if end + 1 < n and sql[end + 1] == ch:  # doubled quote inside
                        end += 2
                        continue
                    break
                end += 1
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
        elif ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            out.append(sql[i:end].replace("%", "%%"))
            i = end
        elif ch == "?":
            out.append("%s")
            i += 1
        elif ch == "%":
            out.append("%%")
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


_DDL_TYPES = [
    (re.compile(r"\bREAL\b", re.IGNORECASE), "DOUBLE PRECISION"),
    (re.compile(r"\bINTEGER\b", re.IGNORECASE), "BIGINT"),
    (re.compile(r"\bBLOB\b", re.IGNORECASE), "BYTEA"),
]


def translate_ddl(statement: str) -> str:
    """SQLite column types -> PostgreSQL ones of the same range, in CREATE/ALTER statements."""
    if not re.match(r"\s*(CREATE|ALTER)\s", statement, re.IGNORECASE):
        return statement
    for pattern, replacement in _DDL_TYPES:
        statement = pattern.sub(replacement, statement)
    return statement


def _row_factory(cursor: psycopg.Cursor[Any]) -> Any:
    if cursor.description is None:
        return lambda values: values
    cls = make_row(tuple(d.name for d in cursor.description))
    return lambda values: tuple.__new__(cls, values)


def translate_error(exc: BaseException, where: str) -> StorageError:
    """Map a psycopg error to the typed error a user should see, with what to do about it."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected, pg_errors.SerializationFailure)):
        return DatabaseLockedError(f"database {where}: {_first_line(exc)}; retry the operation", location=where)
    if isinstance(exc, PoolTimeout):
        return StorageError(
            f"database {where}: no connection free after {POOL_WAIT_S}s "
            "(server down or every connection busy); check the server and retry",
            location=where,
        )
    return StorageError(f"database {where}: {_first_line(exc)}", location=where)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _connect_error(exc: psycopg.Error, where: str, params: dict[str, Any]) -> StorageError | ConfigError:
    """A one-line message saying what to fix, for a failed first connection."""
    text = str(exc)
    low = text.lower()
    host = params.get("host") or "the local socket"
    port = params.get("port") or "5432"
    if "password authentication failed" in low or "no password supplied" in low or "authentication" in low:
        return StorageError(
            f"PostgreSQL at {where} refused the credentials for user {params.get('user')!r}; "
            "fix the user or password in the URL",
            location=where,
        )
    if "does not exist" in low and "database" in low:
        return StorageError(
            f"PostgreSQL database {params.get('dbname')!r} does not exist on {host}:{port}; "
            "create it (createdb) or fix the name in the URL",
            location=where,
        )
    if "invalid" in low and ("option" in low or "value" in low):
        return ConfigError(f"malformed PostgreSQL URL {where}: {_first_line(exc)}")
    if "timeout" in low or "refused" in low or "could not" in low or "translate host" in low:
        return StorageError(
            f"cannot reach PostgreSQL at {host}:{port} ({_first_line(exc)}); "
            "start the server or fix the host/port in the URL",
            location=where,
        )
    return StorageError(f"cannot connect to PostgreSQL at {where}: {_first_line(exc)}", location=where)


def check_dsn(dsn: str) -> dict[str, Any]:
    """Parse ``dsn`` as libpq would; a ConfigError naming the problem if it cannot."""
    where = redact(dsn)
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise ConfigError(
            f"malformed PostgreSQL URL {where}: {_first_line(exc)}; "
            "write postgresql://user:password@host:5432/dbname"
        ) from None
    port = params.get("port")
    if port is not None and not str(port).isdigit():
        raise ConfigError(f"malformed PostgreSQL URL {where}: port {port!r} is not a number")
    return params


class _PgTx:
    def __init__(self, backend: PostgresBackend, conn: psycopg.Connection[Any]) -> None:
        self._backend = backend
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        # each statement in a savepoint: as on SQLite, a failed statement that the caller
        # catches leaves the transaction usable instead of aborting it
        try:
            with self._conn.transaction():
                return self._backend._run(self._conn, sql, params)
        except psycopg.Error as exc:
            raise translate_error(exc, self._backend.where) from exc


class PostgresBackend:
    """App tables on a psycopg pool; a thread inside ``transaction()`` uses its own connection."""

    def __init__(self, pool: ConnectionPool, where: str) -> None:
        self.where = where
        self._pool = pool
        self._local = threading.local()
        self.execute(SCHEMA_TABLE)
        self.execute(META_TABLE)

    def _run(self, conn: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> Result:
        try:
            with conn.cursor(row_factory=_row_factory) as cur:
                cur.execute(translate_placeholders(sql), tuple(params))
                return Result.of(cur)
        except psycopg.Error as exc:
            raise translate_error(exc, self.where) from exc

    @contextmanager
    def _pooled(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection(timeout=POOL_WAIT_S) as conn:
                yield conn
        except (psycopg.Error, PoolTimeout) as exc:
            raise translate_error(exc, self.where) from exc

    def _statement(self, sql: str, params: Sequence[Any]) -> Result:
        current = getattr(self._local, "conn", None)
        if current is not None:  # inside this thread's transaction: join it
            return _PgTx(self, current).execute(sql, params)
        with self._pooled() as conn:
            return self._run(conn, sql, params)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._statement(sql, params).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._statement(sql, params).fetchall()

    @contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[Transaction]:
        """A real transaction on one connection; nested calls use a savepoint.

        ``durable`` is accepted for the SQLite backend's sake: here every commit waits for
        the server's WAL flush.
        """
        outer = getattr(self._local, "conn", None)
        with nullcontext(outer) if outer is not None else self._pooled() as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    yield _PgTx(self, conn)
            except psycopg.Error as exc:
                raise translate_error(exc, self.where) from exc
            finally:
                self._local.conn = outer

    def ddl(self, statement: str) -> str:
        return translate_ddl(statement)

    def lock_migrations(self, tx: Transaction) -> None:
        """Two processes migrating at once would race on CREATE TABLE; serialize them."""
        tx.execute("SELECT pg_advisory_xact_lock(?)", (_MIGRATION_LOCK,))

    def close(self) -> None:
        self._pool.close()


def open_postgres(dsn: str) -> tuple[StatelinePostgresSaver, PostgresStore, PostgresBackend, ConnectionPool]:
    """Connect, check, and set up saver, store and app tables; typed errors on any failure."""
    where = redact(dsn)
    params = check_dsn(dsn)
    try:
        probe = psycopg.connect(dsn, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True)
    except psycopg.Error as exc:
        raise _connect_error(exc, where, params) from None
    try:
        _wait_for_setup_lock(probe, where)
        return _setup(dsn, where)
    except psycopg.Error as exc:
        raise translate_error(exc, where) from exc
    finally:
        probe.close()  # ends the session, releasing the lock


def _wait_for_setup_lock(conn: psycopg.Connection[Any], where: str) -> None:
    """Several workers starting at once on a new database must not race on CREATE TABLE.

    Polls with pg_try_advisory_lock instead of blocking in pg_advisory_lock: a session
    blocked inside a statement holds a snapshot, and PostgresSaver.setup's CREATE INDEX
    CONCURRENTLY waits for every such snapshot, so blocking waiters would deadlock it.
    """
    deadline = time.monotonic() + SETUP_WAIT_S
    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (_SETUP_LOCK,)).fetchone()[0]:  # type: ignore[index]  # one row
        if time.monotonic() > deadline:
            raise StorageError(
                f"database {where}: another process kept setting it up for {SETUP_WAIT_S}s; retry",
                location=where,
            )
        time.sleep(0.05)


def _setup(dsn: str, where: str) -> tuple[StatelinePostgresSaver, PostgresStore, PostgresBackend, ConnectionPool]:
    pool = ConnectionPool(
        dsn,
        min_size=1,
        max_size=POOL_MAX_SIZE,
        kwargs={
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            "connect_timeout": CONNECT_TIMEOUT_S,
        },
        timeout=POOL_WAIT_S,
        open=False,
        name="stateline",
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S * 2)
        backend = PostgresBackend(pool, where)
        saver = StatelinePostgresSaver(pool, serde=FastReadSerializer())  # type: ignore[arg-type]
        saver.setup()
        store = PostgresStore(pool)  # type: ignore[arg-type]
        store.setup()
    except BaseException as exc:
        pool.close()
        if isinstance(exc, (psycopg.Error, PoolTimeout)):
            raise translate_error(exc, where) from exc
        raise
    return saver, store, backend, pool
