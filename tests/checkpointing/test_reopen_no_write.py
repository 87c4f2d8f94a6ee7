"""Reopening a database already at the current schema writes nothing (issue 12: reload cost).

Every component's ``migrate`` used to take the write lock and commit (an fsync each) on
every open. Now a database at the current version is only read: an App opens while
another process holds the file's write lock, and its open commits nothing.
"""

from __future__ import annotations

import sqlite3

from stateline.checkpointing._walsync import wal_sync_for

from stateline import App


def test_reopen_while_another_connection_holds_the_write_lock(tmp_path, monkeypatch) -> None:
    path = tmp_path / "r.db"
    App(db=f"sqlite:///{path}").close()  # created and migrated
    monkeypatch.setenv("STATELINE_BUSY_TIMEOUT_MS", "200")
    other = sqlite3.connect(str(path), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer, mid-transaction
    try:
        sync = wal_sync_for(str(path))
        before = sync._committed
        app = App(db=f"sqlite:///{path}")  # raised DatabaseLockedError before
        app.close()
        assert sync._committed == before, "the reopen committed durably"
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_newer_schema_is_still_refused(tmp_path) -> None:
    import pytest
    from stateline.errors import SchemaVersionError

    path = tmp_path / "n.db"
    App(db=f"sqlite:///{path}").close()
    conn = sqlite3.connect(str(path))
    conn.execute("UPDATE stateline_schema SET version = version + 1 WHERE component = 'sqlite_saver'")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaVersionError):
        App(db=f"sqlite:///{path}")
