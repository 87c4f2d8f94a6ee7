"""SQLite app-table commits: durable (synchronous=FULL) unless a transaction asks otherwise."""

from __future__ import annotations

from stateline.checkpointing import open_database


def _level(tx) -> int:
    """PRAGMA synchronous: 2 = FULL (fsync per commit), 1 = NORMAL (synced by the next FULL one)."""
    return tx.execute("PRAGMA synchronous").fetchone()[0]


def test_only_transactions_that_ask_skip_their_fsync(tmp_path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        db.execute("CREATE TABLE t (x INTEGER)")
        with db.transaction(durable=False) as tx:
            assert _level(tx) == 1
            tx.execute("INSERT INTO t VALUES (1)")
            with db.transaction() as inner:  # nested: the outer transaction's commit decides
                assert _level(inner) == 1
        assert db.query("PRAGMA synchronous")[0][0] == 1  # left as it was ...
        db.execute("INSERT INTO t VALUES (2)")  # ... until a statement commits on its own
        assert db.query("PRAGMA synchronous")[0][0] == 2
        with db.transaction() as tx:
            assert _level(tx) == 2
        assert [r[0] for r in db.query("SELECT x FROM t ORDER BY x")] == [1, 2]
    finally:
        db.close()
