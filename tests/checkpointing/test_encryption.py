"""Encryption at rest: nothing readable without the key, and a wrong or missing key is a clear error."""

from __future__ import annotations

import secrets
import sqlite3
from pathlib import Path
from typing import Annotated, TypedDict

import pytest
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages

from stateline.checkpointing import open_database
from stateline.errors import ConfigError, EncryptionKeyError

KEY = secrets.token_hex(32)
OTHER_KEY = secrets.token_hex(32)
SECRET = "my card is 4111-1111-1111-1111 and I live at 12 Quiet Lane"


class Chat(TypedDict):
    messages: Annotated[list, add_messages]
    address: str


def chat_graph(saver):
    def reply(state: Chat) -> dict:
        return {"messages": [("ai", "noted: " + state["messages"][-1].content)], "address": SECRET}

    g = StateGraph(Chat)
    g.add_node("reply", reply)
    g.add_edge(START, "reply")
    return g.compile(checkpointer=saver)


def write_conversation(db) -> None:
    cfg = {"configurable": {"thread_id": "t-secret"}}
    chat_graph(db.saver).invoke({"messages": [("user", SECRET)]}, cfg, durability="sync")
    db.store.put(("users", "u1"), "profile", {"about": SECRET, "lang": "fr"})
    db.execute("CREATE TABLE IF NOT EXISTS notes (id TEXT PRIMARY KEY, body TEXT)")
    db.execute("INSERT INTO notes(id, body) VALUES (?, ?)", ("n1", db.encrypt(SECRET)))


def read_conversation(db) -> None:
    cfg = {"configurable": {"thread_id": "t-secret"}}
    state = chat_graph(db.saver).get_state(cfg).values
    assert state["address"] == SECRET
    assert [m.content for m in state["messages"]] == [SECRET, "noted: " + SECRET]
    assert db.store.get(("users", "u1"), "profile").value == {"about": SECRET, "lang": "fr"}
    assert db.decrypt(db.query_one("SELECT body FROM notes WHERE id = 'n1'")["body"]) == SECRET


def raw_dump(url: str) -> list[str]:
    """Every row of every table, read around stateline (no key involved), as text."""
    if url.startswith("sqlite:"):
        conn = sqlite3.connect(url[len("sqlite:///") :])
        try:
            return list(conn.iterdump())
        finally:
            conn.close()
    import psycopg

    out: list[str] = []
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1")
        ]
        for table in tables:
            rows = conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()
            out.extend(sorted(f"{table}: {r[0]}" for r in rows))
    return out


def test_plaintext_absent_from_sqlite_files(tmp_path: Path) -> None:
    path = tmp_path / "enc.db"
    db = open_database(f"sqlite:///{path}", key=KEY)
    try:
        assert db.encrypted
        write_conversation(db)
        read_conversation(db)
        files = [p for p in (path, Path(f"{path}-wal")) if p.exists()]
        assert Path(f"{path}-wal") in files  # the live write-ahead log is checked too
        needle = SECRET.encode()
        for p in files:
            data = p.read_bytes()
            assert needle not in data and b"4111-1111" not in data, f"plaintext found in {p.name}"
    finally:
        db.close()
    assert b"4111-1111" not in path.read_bytes()
    with open_database(f"sqlite:///{path}", key=KEY) as db:
        read_conversation(db)


def test_plaintext_absent_from_postgres_rows(pg_url: str) -> None:
    with open_database(pg_url, key=KEY) as db:
        write_conversation(db)
        read_conversation(db)
    dump = "\n".join(raw_dump(pg_url))
    assert "checkpoint_blobs" in dump and "store" in dump
    assert "4111-1111" not in dump
    assert b"4111-1111".hex() not in dump  # bytea columns print as hex


def test_wrong_or_missing_key_is_an_error_and_changes_nothing(db_url: str) -> None:
    with open_database(db_url, key=KEY) as db:
        write_conversation(db)
    before = raw_dump(db_url)
    with pytest.raises(EncryptionKeyError, match="not the key database .* was encrypted with"):
        open_database(db_url, key=OTHER_KEY)
    with pytest.raises(EncryptionKeyError, match="is encrypted; set STATELINE_AES_KEY"):
        open_database(db_url)
    assert raw_dump(db_url) == before
    with open_database(db_url, key=KEY) as db:
        read_conversation(db)


def test_key_from_environment(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATELINE_AES_KEY", KEY)
    with open_database(db_url) as db:
        write_conversation(db)
    monkeypatch.setenv("STATELINE_AES_KEY", OTHER_KEY)
    with pytest.raises(EncryptionKeyError):
        open_database(db_url)
    with open_database(db_url, key=KEY) as db:  # an explicit key wins over the environment
        read_conversation(db)


def test_unencrypted_database_refuses_a_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    with open_database(url) as db:
        assert not db.encrypted
        assert db.encrypt("x") == "x" and db.decrypt(b"y") == b"y"
    with pytest.raises(EncryptionKeyError, match="created without encryption"):
        open_database(url, key=KEY)


@pytest.mark.parametrize("bad", ["short", "z" * 64, b"\x00" * 20])
def test_malformed_key(tmp_path: Path, bad) -> None:
    with pytest.raises(EncryptionKeyError, match="64 hex digits"):
        open_database(f"sqlite:///{tmp_path / 'k.db'}", key=bad)
    assert not (tmp_path / "k.db").exists()


def test_encrypt_helpers_round_trip(tmp_path: Path) -> None:
    with open_database(f"sqlite:///{tmp_path / 'h.db'}", key=KEY) as db:
        token = db.encrypt(SECRET)
        assert isinstance(token, str) and SECRET not in token and db.encrypt(SECRET) != token
        assert db.decrypt(token) == SECRET
        assert db.decrypt(db.encrypt(b"\x00\xffraw")) == b"\x00\xffraw"
        assert db.decrypt("plain text") == "plain text"
    with open_database("memory", key=OTHER_KEY) as other:
        with pytest.raises(EncryptionKeyError, match="does not decrypt"):
            other.decrypt(token)


def test_encrypted_store_search(tmp_path: Path) -> None:
    with open_database(f"sqlite:///{tmp_path / 's.db'}", key=KEY) as db:
        for i in range(5):
            db.store.put(("docs",), f"d{i}", {"n": i, "tag": "even" if i % 2 == 0 else "odd"})
        even = db.store.search(("docs",), filter={"tag": "even"}, limit=2)
        assert [i.value["n"] for i in even] == [0, 2] or sorted(i.value["n"] for i in even) in ([0, 2], [2, 4], [0, 4])
        assert len(db.store.search(("docs",), filter={"n": {"$gte": 3}})) == 2
        assert len(db.store.search(("docs",))) == 5
        with pytest.raises(ConfigError, match="semantic"):
            db.store.search(("docs",), query="hello")


def test_rekey_to_a_new_key(db_url: str) -> None:
    from stateline.checkpointing import rekey

    with open_database(db_url, key=KEY) as db:
        write_conversation(db)
    with pytest.raises(EncryptionKeyError):
        rekey(db_url, OTHER_KEY, KEY)  # wrong old key: refused, nothing changed
    rekey(db_url, KEY, OTHER_KEY)
    with pytest.raises(EncryptionKeyError):
        open_database(db_url, key=KEY)
    with open_database(db_url, key=OTHER_KEY) as db:
        read_conversation(db)
    assert "4111-1111" not in "\n".join(raw_dump(db_url))
    rekey(db_url, OTHER_KEY, None)  # decrypt everything
    with open_database(db_url) as db:
        assert not db.encrypted
        read_conversation(db)


def test_rekey_encrypts_a_plain_sqlite_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from stateline.checkpointing import rekey

    url = f"sqlite:///{tmp_path / 'p.db'}"
    with open_database(url) as db:
        write_conversation(db)  # db.encrypt is a no-op here: the note is stored plain
    monkeypatch.setenv("STATELINE_AES_KEY", OTHER_KEY)  # ignored for the old, unencrypted side
    rekey(url, None, KEY)
    with open_database(url, key=KEY) as db:
        read_conversation(db)
    dump = "\n".join(raw_dump(url))
    assert "checkpoints" in dump
    # checkpoints and store are sealed now; the app column was never sealed, so it stays plain
    assert dump.count("4111-1111") == 1 and "INSERT INTO \"notes\"" in dump
