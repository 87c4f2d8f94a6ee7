"""Long message lists are stored as chunk rows plus prefix references; every version reads back."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import AIMessage
from tests.checkpointing.storage_helpers import Chat, cfg

from stateline.checkpointing import open_database, rewind
from stateline.checkpointing._values import CHUNK_ITEMS, PREFIX_TYPE

TURNS = CHUNK_ITEMS + 20  # two messages a turn: at least two chunks


def _contents(db, config) -> list[str]:
    return [m.content for m in db.saver.get_tuple(config).checkpoint["channel_values"].get("messages", [])]


def _every_version(db, thread_id: str) -> dict[str, list[str]]:
    return {t.config["configurable"]["checkpoint_id"]: _contents(db, t.config) for t in db.saver.list(cfg(thread_id))}


def _reopened(path: Path):
    return open_database(f"sqlite:///{path}")


def test_head_chain_is_short_and_every_checkpoint_reads_back_after_restart(db_path, chat: Chat):
    for turn in range(TURNS):
        chat.say("t", f"m{turn}")
    warm = _every_version(chat.db, "t")
    head = chat.db.query_one(
        "SELECT version FROM sl_blobs WHERE thread_id = 't' AND channel = 'messages' ORDER BY length DESC LIMIT 1"
    )[0]
    kinds = dict(chat.db.query("SELECT type = ?, count(*) FROM sl_blobs WHERE channel = 'messages' GROUP BY 1",
                               (PREFIX_TYPE,)))  # fmt: skip
    assert kinds[1] > CHUNK_ITEMS  # small rows a chunk covers became prefix references
    chat.db.close()
    cold = _reopened(db_path)
    try:
        from stateline.checkpointing._values import _CHAIN_SQL

        chain = cold.query(_CHAIN_SQL, ("t", "", "messages", head, "t", "", "messages"))
        assert len(chain) <= 3 + CHUNK_ITEMS < 2 * TURNS, len(chain)  # not one row per message
        assert _every_version(cold, "t") == warm
        assert len(warm[next(iter(warm))]) == 2 * TURNS
    finally:
        cold.close()


def test_rewind_to_a_covered_version_branches_and_both_branches_read_back(db_path, chat: Chat):
    for turn in range(TURNS):
        chat.say("t", f"m{turn}")
    # a checkpoint from early on, whose message row is now a prefix reference
    old = [t for t in chat.db.saver.list(cfg("t")) if len(t.checkpoint["channel_values"].get("messages", [])) == 10][0]
    expected_old = _contents(chat.db, old.config)
    rewind(chat.db, "t", old.config["configurable"]["checkpoint_id"])
    for turn in range(TURNS):
        chat.say("t", f"b{turn}")
    head = _contents(chat.db, cfg("t"))
    assert head[:10] == expected_old and head[10] == "b0" and len(head) == 10 + 2 * TURNS
    warm = _every_version(chat.db, "t")
    chat.db.close()
    cold = _reopened(db_path)
    try:
        assert _every_version(cold, "t") == warm
        Chat(cold).say("t", "after restart")
        assert _contents(cold, cfg("t"))[:-2] == head
    finally:
        cold.close()


def test_restart_in_the_middle_of_a_segment_keeps_appending_exactly(db_path, chat: Chat):
    for turn in range(CHUNK_ITEMS // 2 + 3):
        chat.say("t", f"m{turn}")
    chat.db.close()
    for round_ in range(3):
        db = _reopened(db_path)
        try:
            for turn in range(CHUNK_ITEMS // 3):
                Chat(db).say("t", f"r{round_}-{turn}")
            db.saver.values.forget_all()
            messages = _contents(db, cfg("t"))
            assert messages[-2:] == [f"r{round_}-{CHUNK_ITEMS // 3 - 1}", f"answer {len(messages) - 1}"]
        finally:
            db.close()
    db = _reopened(db_path)
    try:
        humans = [m for m in _contents(db, cfg("t")) if not m.startswith("answer")]
        assert humans == [f"m{t}" for t in range(CHUNK_ITEMS // 2 + 3)] + [
            f"r{r}-{t}" for r in range(3) for t in range(CHUNK_ITEMS // 3)
        ]
    finally:
        db.close()


def test_prune_keeps_what_the_head_needs_through_chunks(db_path, chat: Chat):
    from stateline.checkpointing import prune

    for turn in range(TURNS):
        chat.say("t", f"m{turn}")
    head = _contents(chat.db, cfg("t"))
    prune(chat.db, keep_last=2)
    chat.db.close()
    cold = _reopened(db_path)
    try:
        assert _contents(cold, cfg("t")) == head
        assert len(list(cold.saver.list(cfg("t")))) == 2
    finally:
        cold.close()


def test_chunk_rows_are_sealed_when_a_key_is_set(tmp_path: Path):
    key = "0123456789abcdef0123456789abcdef"
    path = tmp_path / "sealed.db"
    db = open_database(f"sqlite:///{path}", key=key)
    try:
        chat = Chat(db)
        for turn in range(TURNS):
            chat.say("t", f"secret-{turn:04d}-text")
    finally:
        db.close()
    raw = b"".join(Path(f"{path}{s}").read_bytes() for s in ("", "-wal") if Path(f"{path}{s}").exists())
    assert b"secret-" not in raw
    db = open_database(f"sqlite:///{path}", key=key)
    try:
        assert _contents(db, cfg("t"))[-2] == f"secret-{TURNS - 1:04d}-text"
    finally:
        db.close()


def test_edited_message_list_is_not_chunked_onto_the_wrong_base(chat: Chat):
    for turn in range(TURNS):
        chat.say("t", f"m{turn}")
    state = chat.graph.get_state(cfg("t")).values["messages"]
    replaced = AIMessage("edited", id=state[3].id)
    chat.graph.update_state(cfg("t"), {"messages": [replaced]})
    for turn in range(CHUNK_ITEMS):
        chat.say("t", f"n{turn}")
    chat.db.saver.values.forget_all()
    contents = _contents(chat.db, cfg("t"))
    assert contents[3] == "edited" and contents[-2] == f"n{CHUNK_ITEMS - 1}"
    assert len(contents) == 2 * TURNS + 2 * CHUNK_ITEMS


def test_walking_history_after_restart_rebuilds_the_list_once(db_path, chat: Chat, monkeypatch):
    """Older versions are prefix references of cached chunks: a slice each, not a rebuild each."""
    from stateline.checkpointing._values import ListViews

    for turn in range(TURNS):
        chat.say("t", f"m{turn}")
    warm = _every_version(chat.db, "t")
    chat.db.close()
    rebuilds = []
    real = ListViews.rebuild
    monkeypatch.setattr(ListViews, "rebuild", lambda self, *a: rebuilds.append(a[1]) or real(self, *a))
    cold = _reopened(db_path)
    try:
        assert _every_version(cold, "t") == warm
        assert rebuilds.count(("t", "", "messages")) <= 2, len(rebuilds)
    finally:
        cold.close()
