"""Anonymous conversations keep their own memory; the thread index is the one store of thread facts."""

from __future__ import annotations

from stateline._app import App
from stateline.checkpointing import ThreadIndex, open_database
from stateline.server._threads import ThreadOwners
from tests.security.marker_agent import agent


def test_anonymous_threads_do_not_share_memory_but_a_users_threads_do(db_url):
    db = open_database(db_url)
    app = App([agent], db=db)
    try:
        assert app.send("anon-a", "keep secret A1").reply.endswith("before: None")
        assert app.send("anon-b", "keep secret B1").reply.endswith("before: None")  # not A1
        assert app.send("anon-a", "keep secret A2").reply.endswith("before: A1")  # its own, still there
        assert app.send("u-1", "keep secret U1", user_id="u").reply.endswith("before: None")
        assert app.send("u-2", "keep secret U2", user_id="u").reply.endswith("before: U1")  # the user's, across threads
        app.threads.delete("anon-a")
        from stateline.checkpointing import delete_thread

        delete_thread(db, "anon-a")
        assert db.store.search(("threads", "anon-a")) == []  # the memory went with the thread
        assert db.store.search(("threads", "anon-b"))
    finally:
        app.close()
        db.close()


def test_server_threads_live_in_the_thread_index_and_old_api_threads_rows_move_there(db_url):
    db = open_database(db_url)
    try:
        db.execute("CREATE TABLE api_threads (thread_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, policy TEXT NOT NULL, "
                   "title TEXT, created_at REAL NOT NULL)")
        db.execute("INSERT INTO api_threads VALUES ('old@alice', 'alice', 'enqueue', 'old title', 1.0)")
        index = ThreadIndex(db)
        owners = ThreadOwners(db, index)
        made = owners.create("new@bob", "bob", None, "new title")
        assert made is not None and made.policy == "reject"
        assert owners.create("new@bob", "bob", None, None) is None  # taken
        info = index.get("old@alice")
        assert (info.owner, info.title, info.policy) == ("alice", "old title", "enqueue")
        assert [t.thread_id for t in owners.list("alice")] == ["old@alice"]
        owners.set_policy("new@bob", "bob", "enqueue")
        assert owners.get("new@bob").policy == "enqueue"
        tables = ("SELECT 1 FROM sqlite_master WHERE name = 'api_threads'" if db_url.startswith("sqlite")
                  else "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'api_threads'")
        assert db.query_one(tables) is None  # one store per fact
    finally:
        db.close()


def test_titles_are_sealed_in_the_index(tmp_path):
    import secrets

    key = secrets.token_hex(32)
    db = open_database(f"sqlite:///{tmp_path / 'k.db'}", key=key)
    try:
        ThreadIndex(db).create("t@alice", owner="alice", title="my Zq7Title")
        raw = db.query_one("SELECT title FROM threads WHERE thread_id = 't@alice'")["title"]
        assert "Zq7Title" not in raw and raw.startswith("stl-aes1:")
        assert ThreadIndex(db).get("t@alice").title == "my Zq7Title"
    finally:
        db.close()
