"""SQLite app-table commits: durable unless a transaction asks otherwise, with no PRAGMA per commit.

On a WAL file the app connection stays at ``synchronous=NORMAL``; a durable commit
returns only after the file's group commit (``_walsync``) fsynced the WAL after it.
"""

from __future__ import annotations

from stateline.checkpointing import open_database
from stateline.checkpointing._walsync import wal_sync_for


def _level(tx) -> int:
    """PRAGMA synchronous: 2 = FULL (fsync inside the commit), 1 = NORMAL."""
    return tx.execute("PRAGMA synchronous").fetchone()[0]


def test_durable_commits_wait_for_an_fsync_and_others_do_not(tmp_path) -> None:
    path = tmp_path / "a.db"
    db = open_database(f"sqlite:///{path}")
    sync = wal_sync_for(str(path))
    try:
        db.execute("CREATE TABLE t (x INTEGER)")
        committed = sync._committed
        with db.transaction(durable=False) as tx:
            tx.execute("INSERT INTO t VALUES (1)")
            with db.transaction() as inner:  # nested: the outer transaction's commit decides
                inner.execute("INSERT INTO t VALUES (2)")
        assert sync._committed == committed  # no fsync asked for
        db.execute("INSERT INTO t VALUES (3)")  # a statement on its own: durable
        assert sync._committed == committed + 1 and sync._synced >= sync._committed
        with db.transaction() as tx:
            tx.execute("INSERT INTO t VALUES (4)")
        assert sync._committed == committed + 2 and sync._synced >= sync._committed
        assert [r[0] for r in db.query("SELECT x FROM t ORDER BY x")] == [1, 2, 3, 4]
    finally:
        db.close()


def test_no_pragma_is_switched_per_commit(tmp_path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'b.db'}")
    seen: list[str] = []
    try:
        db.execute("CREATE TABLE t (x INTEGER)")
        db._backend._conn.set_trace_callback(seen.append)
        for i in range(3):
            with db.transaction(durable=i % 2 == 0) as tx:
                assert _level(tx) == 1
                tx.execute("INSERT INTO t VALUES (?)", (i,))
            db.execute("INSERT INTO t VALUES (?)", (10 + i,))
        db._backend._conn.set_trace_callback(None)
        assert [s for s in seen if s.upper().startswith("PRAGMA") and "=" in s] == []
    finally:
        db.close()


def test_a_write_that_changes_nothing_waits_for_no_fsync(tmp_path) -> None:
    path = tmp_path / "c.db"
    db = open_database(f"sqlite:///{path}")
    sync = wal_sync_for(str(path))
    try:
        db.execute("CREATE TABLE t (x INTEGER)")
        db.execute("INSERT INTO t VALUES (1)")
        before = sync._committed
        assert db.execute("UPDATE t SET x = 2 WHERE x > 5") == 0
        assert sync._committed == before  # nothing written, nothing to sync
        db.execute("CREATE TABLE u (y INTEGER)")  # DDL counts no rows but writes the schema
        assert sync._committed == before + 1
        assert db.execute("UPDATE t SET x = 3") == 1
        assert sync._committed == before + 2 and sync._synced >= sync._committed
    finally:
        db.close()
