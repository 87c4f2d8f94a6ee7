"""The app-table helper contract, identical on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from stateline.checkpointing import Database, ThreadIndex, open_database
from stateline.errors import SchemaVersionError, StorageError, UnknownThreadError

ITEMS_V1 = [(1, "CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER NOT NULL, at REAL, note TEXT)")]


def test_execute_query_and_row_shape(db: Database) -> None:
    db.migrate("items", ITEMS_V1)
    assert (
        db.execute("INSERT INTO items(id, n, at, note) VALUES (?, ?, ?, ?)", ("a", 1, 1795322313.1324198, "50% off"))
        == 1
    )
    db.execute("INSERT INTO items(id, n) VALUES (?, ?)", ("b", 2))
    rows = db.query("SELECT id, n, at, note FROM items ORDER BY id")
    assert [r["id"] for r in rows] == ["a", "b"]
    row = rows[0]
    assert row[0] == "a" and row["n"] == 1 and row.keys() == ["id", "n", "at", "note"]
    assert dict(row) == {"id": "a", "n": 1, "at": 1795322313.1324198, "note": "50% off"}  # REAL keeps full precision
    assert tuple(row) == ("a", 1, 1795322313.1324198, "50% off")
    assert db.query_one("SELECT n FROM items WHERE id = ?", ("zzz",)) is None
    # a literal '?' and '%' are not placeholders
    assert db.query_one("SELECT '?' AS q, '100%' AS p, n FROM items WHERE id = ?", ("b",))["p"] == "100%"
    assert db.execute("UPDATE items SET n = n + 1") == 2


def test_upsert_and_returning(db: Database) -> None:
    db.migrate("items", ITEMS_V1)
    sql = "INSERT INTO items(id, n) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET n = items.n + excluded.n RETURNING n"
    with db.transaction() as tx:
        assert tx.execute(sql, ("a", 5)).fetchone()["n"] == 5
        assert tx.execute(sql, ("a", 5)).fetchone()["n"] == 10


def test_transaction_commits_and_rolls_back(db: Database) -> None:
    db.migrate("items", ITEMS_V1)
    with db.transaction() as tx:
        cur = tx.execute("INSERT INTO items(id, n) VALUES (?, ?)", ("kept", 1))
        assert cur.rowcount == 1
        assert [r["id"] for r in tx.execute("SELECT id FROM items").fetchall()] == ["kept"]
    with pytest.raises(RuntimeError):
        with db.transaction() as tx:
            tx.execute("INSERT INTO items(id, n) VALUES (?, ?)", ("lost", 1))
            tx.execute("UPDATE items SET n = 99 WHERE id = ?", ("kept",))
            raise RuntimeError("boom")
    assert [(r["id"], r["n"]) for r in db.query("SELECT id, n FROM items")] == [("kept", 1)]


def test_failed_statement_is_storage_error_and_rolls_back(db: Database) -> None:
    db.migrate("items", ITEMS_V1)
    db.execute("INSERT INTO items(id, n) VALUES ('a', 1)")
    with pytest.raises(StorageError):
        with db.transaction() as tx:
            tx.execute("INSERT INTO items(id, n) VALUES ('b', 1)")
            tx.execute("INSERT INTO items(id, n) VALUES ('a', 1)")  # duplicate key
    assert [r["id"] for r in db.query("SELECT id FROM items")] == ["a"]
    with pytest.raises(StorageError):
        db.query("SELECT nope FROM items")
    assert db.query_one("SELECT COUNT(*) AS c FROM items")["c"] == 1  # still usable


def test_nested_transaction_is_a_savepoint(db: Database) -> None:
    db.migrate("items", ITEMS_V1)
    with db.transaction() as tx:
        tx.execute("INSERT INTO items(id, n) VALUES ('outer', 1)")
        with pytest.raises(KeyError):
            with db.transaction() as inner:
                inner.execute("INSERT INTO items(id, n) VALUES ('inner', 1)")
                raise KeyError("x")
        # helpers called inside a transaction see (and join) it
        assert db.query_one("SELECT n FROM items WHERE id = 'outer'")["n"] == 1
    assert [r["id"] for r in db.query("SELECT id FROM items")] == ["outer"]


def test_concurrent_transactions_from_threads(db: Database) -> None:
    db.migrate("items", ITEMS_V1)
    db.execute("INSERT INTO items(id, n) VALUES ('c', 0)")

    def bump() -> None:
        for _ in range(10):
            with db.transaction() as tx:
                n = tx.execute("SELECT n FROM items WHERE id = ? FOR UPDATE", ("c",)).fetchone()["n"]
                tx.execute("UPDATE items SET n = ? WHERE id = 'c'", (n + 1,))

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert db.query_one("SELECT n FROM items WHERE id = 'c'")["n"] == 40


def test_migrate_applies_each_version_once(db_url: str) -> None:
    v2 = ITEMS_V1 + [(2, "ALTER TABLE items ADD COLUMN extra TEXT; CREATE INDEX items_n ON items(n)")]
    with open_database(db_url) as db:
        db.migrate("items", ITEMS_V1)
        db.execute("INSERT INTO items(id, n) VALUES ('a', 1)")
        db.migrate("items", ITEMS_V1)  # no-op
    with open_database(db_url) as db:
        db.migrate("items", v2)
        db.migrate("items", v2)
        db.execute("UPDATE items SET extra = 'x'")
        assert dict(db.query_one("SELECT id, extra FROM items")) == {"id": "a", "extra": "x"}
        assert db.query_one("SELECT version FROM stateline_schema WHERE component = 'items'")["version"] == 2


def test_migrate_refuses_newer_schema(db_url: str) -> None:
    with open_database(db_url) as db:
        db.migrate("items", ITEMS_V1 + [(2, "ALTER TABLE items ADD COLUMN extra TEXT")])
    with open_database(db_url) as db:
        with pytest.raises(SchemaVersionError, match="schema v2.*knows up to v1; upgrade stateline"):
            db.migrate("items", ITEMS_V1)
        assert db.query_one("SELECT version FROM stateline_schema WHERE component = 'items'")["version"] == 2


def test_thread_index(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    import stateline.checkpointing._threads as threads_mod

    clock = iter([1000.5, 2000.25, 3000.125])
    monkeypatch.setattr(threads_mod, "now", lambda: next(clock))
    index = ThreadIndex(db)
    index.touch("t1", user_id="alice", workflow="shop")
    index.touch("t2", user_id="bob", workflow=None)
    index.touch("t1", user_id="alice", workflow="shop")
    info = index.get("t1")
    assert (info.turns, info.created_at, info.updated_at, info.workflow) == (2, 1000.5, 3000.125, "shop")
    assert [t.thread_id for t in index.list()] == ["t1", "t2"]
    assert [t.thread_id for t in index.list(user_id="bob")] == ["t2"]
    assert index.exists("t2")
    index.delete("t2")
    assert not index.exists("t2")
    with pytest.raises(UnknownThreadError):
        index.get("t2")


def test_concurrent_first_open_and_migrate(db_url: str) -> None:
    """Several workers starting at once on a new database all come up with one schema."""
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with open_database(db_url) as db:
                db.migrate("items", ITEMS_V1)
                ThreadIndex(db)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_database(db_url) as db:
        assert db.query_one("SELECT version FROM stateline_schema WHERE component = 'items'")["version"] == 1


def test_rowcount_is_the_same_on_both(db: Database) -> None:
    db.migrate("items", ITEMS_V1)
    with db.transaction() as tx:
        assert tx.execute("INSERT INTO items(id, n) VALUES ('a', 1), ('b', 2), ('c', 3)").rowcount == 3
        cur = tx.execute("UPDATE items SET n = n * 10 WHERE n >= ? RETURNING id, n", (2,))
        assert cur.rowcount == 2
        assert sorted((r["id"], r["n"]) for r in cur.fetchall()) == [("b", 20), ("c", 30)]
        assert cur.fetchone() is None
        sel = tx.execute("SELECT id FROM items ORDER BY id")
        assert sel.rowcount == 3 and sel.fetchone()["id"] == "a" and [r[0] for r in sel.fetchall()] == ["b", "c"]
        assert tx.execute("DELETE FROM items WHERE id = 'zzz'").rowcount == 0


def test_caught_statement_error_leaves_transaction_usable(db: Database) -> None:
    db.migrate("items", ITEMS_V1)
    db.execute("INSERT INTO items(id, n) VALUES ('a', 1)")
    with db.transaction() as tx:
        with pytest.raises(StorageError):
            tx.execute("INSERT INTO items(id, n) VALUES ('a', 2)")
        tx.execute("INSERT INTO items(id, n) VALUES ('b', 2)")
    assert [r["id"] for r in db.query("SELECT id FROM items ORDER BY id")] == ["a", "b"]


def test_a_sqlite_file_with_a_newer_saver_layout_is_refused_unchanged(tmp_path) -> None:
    from pathlib import Path

    path = tmp_path / "newer.db"
    with open_database(f"sqlite:///{path}") as db:
        assert db.query_one("SELECT version FROM stateline_schema WHERE component = 'sqlite_saver'")["version"] == 2
        db.execute("UPDATE stateline_schema SET version = 3 WHERE component = 'sqlite_saver'")
    before = Path(path).read_bytes()
    with pytest.raises(SchemaVersionError, match="sqlite_saver schema v3.*knows up to v2; upgrade stateline"):
        open_database(f"sqlite:///{path}")
    assert Path(path).read_bytes() == before
