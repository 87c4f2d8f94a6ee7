"""Stored bytes grow with content, not with its square; list deltas rebuild exactly."""

from __future__ import annotations

from langchain_core.messages import HumanMessage, RemoveMessage
from tests.checkpointing.storage_helpers import Chat, cfg

from stateline.checkpointing import open_database


def stored_bytes(db) -> int:
    """Payload bytes of every saver table (page-size independent)."""
    total = 0
    for table, cols in {
        "sl_checkpoints": "checkpoint_id, checkpoint, metadata, parent_checkpoint_id",
        "sl_blobs": "channel, version, blob, base_version",
        "sl_writes": "checkpoint_id, task_id, channel, value",
    }.items():
        expr = " + ".join(f"coalesce(length({c}), 0)" for c in cols.split(", "))
        total += db.query_one(f"SELECT coalesce(sum({expr}), 0) FROM {table}")[0]
    return total


def test_bytes_grow_linearly_with_turns(chat: Chat):
    sizes = {}
    for turn in range(1, 81):
        chat.say("t", f"message number {turn} " + "lorem ipsum dolor sit amet " * 6)
        if turn in (20, 40, 80):
            sizes[turn] = stored_bytes(chat.db)
    # Storing the whole message list per checkpoint would grow ~4x per doubling.
    assert sizes[80] / sizes[40] < 2.2
    assert sizes[40] / sizes[20] < 2.2
    per_turn = (sizes[80] - sizes[40]) / 40
    assert per_turn < 5_000, per_turn


def test_every_checkpoint_rebuilds_its_own_message_list(db_path, chat: Chat):
    for turn in range(6):
        chat.say("t", f"m{turn}")
    warm = [(t.config, t.checkpoint["channel_values"].get("messages", [])) for t in chat.db.saver.list(cfg("t"))]
    chat.db.close()
    cold_db = open_database(f"sqlite:///{db_path}")
    try:
        for config, messages in warm:
            cold = cold_db.saver.get_tuple(config).checkpoint["channel_values"].get("messages", [])
            assert [m.content for m in cold] == [m.content for m in messages]
        lengths = [len(m) for _, m in warm]
        assert lengths == sorted(lengths, reverse=True) and lengths[0] == 12
    finally:
        cold_db.close()


def test_removed_message_is_not_resurrected(chat: Chat):
    chat.say("t", "one")
    chat.say("t", "two")
    first = chat.graph.get_state(cfg("t")).values["messages"][0]
    chat.graph.update_state(cfg("t"), {"messages": [RemoveMessage(id=first.id)]})
    chat.graph.update_state(cfg("t"), {"messages": [HumanMessage("three")]})
    contents = [m.content for m in chat.graph.get_state(cfg("t")).values["messages"]]
    assert contents == ["answer 1", "two", "answer 3", "three"]
    chat.db.saver.values.forget_all()  # read back from the file, not the cache
    contents = [m.content for m in chat.graph.get_state(cfg("t")).values["messages"]]
    assert contents == ["answer 1", "two", "answer 3", "three"]


def test_codec_reads_rows_of_every_format_and_primes_with_its_dictionary():
    """zd1+ rows (current), deflate+ rows (before the dictionary) and plain rows all decode."""
    import zlib

    from langchain_core.messages import AIMessage
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    from stateline.checkpointing._codec import ZlibCodec, inflate

    serde = JsonPlusSerializer()
    codec = ZlibCodec(serde)
    value = [AIMessage("a reply of some length " * 3, id="m1")]
    type_, data = codec.dumps_typed(value)
    plain_type, plain = serde.dumps_typed(value)
    assert type_ == "zd1+" + plain_type and len(data) < len(plain) * 0.6
    packer = zlib.compressobj(6, zlib.DEFLATED, -12, 2)
    legacy = ("deflate+" + plain_type, packer.compress(plain) + packer.flush())
    for row in ((type_, data), legacy, (plain_type, plain)):
        assert codec.loads_typed(row) == value
        assert inflate(*row) == (plain_type, plain)


def _pg_blob_bytes(db) -> int:
    return db.query_one("SELECT coalesce(sum(octet_length(blob)), 0) FROM checkpoint_blobs")[0]


def test_postgres_blob_bytes_grow_linearly_with_turns(pg_url: str):
    """Stock PostgresSaver stores the whole list per version: 2x the turns, ~4x the bytes."""
    from bench import _graph

    db = open_database(pg_url)
    try:
        graph = _graph.build(db.saver)
        sizes = {}
        for turn in range(1, 101):
            _graph.turn(graph, "long")
            if turn in (50, 100):
                sizes[turn] = _pg_blob_bytes(db)
        assert sizes[100] / sizes[50] < 2.2, sizes
        assert db.query_one("SELECT count(*) FROM checkpoint_blobs WHERE base_version IS NOT NULL")[0] > 0
        # a cold saver (another process) rebuilds the same conversation from the chains
        with open_database(pg_url) as cold:
            values = cold.saver.get_tuple(cfg("long")).checkpoint["channel_values"]
            warm = db.saver.get_tuple(cfg("long")).checkpoint["channel_values"]
            assert len(values["messages"]) == 200
            assert values["messages"] == warm["messages"]
    finally:
        db.close()


def test_postgres_retention_and_copies_keep_the_bases_of_kept_deltas(pg_url: str):
    from bench import _graph

    from stateline.checkpointing import prune

    db = open_database(pg_url)
    try:
        graph = _graph.build(db.saver)
        for _ in range(12):
            _graph.turn(graph, "a")
        db.saver.copy_thread("a", "b")
        db.saver.delete_thread("a")
        prune(db, keep_last=2)
        db.saver.prune(["b"], strategy="keep_latest")
        with open_database(pg_url) as cold:  # no cache: every value from its chain
            kept = list(cold.saver.list(cfg("b")))
            assert kept and len(kept[0].checkpoint["channel_values"]["messages"]) == 24
            assert cold.query_one("SELECT count(*) FROM checkpoint_blobs WHERE thread_id = 'a'")[0] == 0
        _graph.turn(graph, "b")  # the warm saver goes on from the pruned copy
        with open_database(pg_url) as cold:
            assert len(cold.saver.get_tuple(cfg("b")).checkpoint["channel_values"]["messages"]) == 26
    finally:
        db.close()


def test_postgres_database_written_before_deltas_is_migrated_and_read(pg_url: str):
    from langchain_core.messages import AIMessage
    from langgraph.checkpoint.postgres import PostgresSaver
    from langgraph.graph import START, MessagesState, StateGraph

    def reply(state):
        return {"messages": [AIMessage("hi")]}

    def build(saver):
        builder = StateGraph(MessagesState)
        builder.add_node("reply", reply)
        builder.add_edge(START, "reply")
        return builder.compile(checkpointer=saver)

    with PostgresSaver.from_conn_string(pg_url) as stock:
        stock.setup()
        build(stock).invoke({"messages": [HumanMessage("old")]}, cfg("t"))
    with open_database(pg_url) as db:
        graph = build(db.saver)
        assert len(graph.get_state(cfg("t")).values["messages"]) == 2
        graph.invoke({"messages": [HumanMessage("new")]}, cfg("t"))
        assert [m.content for m in graph.get_state(cfg("t")).values["messages"]] == ["old", "hi", "new", "hi"]


def test_reading_a_checkpoint_back_skips_versions_known_to_be_empty(db_path):
    """Emptied channels (triggers, ``__start__``) have versions but no rows: the saver that
    wrote them does not query for them again, and a cold saver reads the same state."""
    db = open_database(f"sqlite:///{db_path}")
    chat = Chat(db)
    try:
        for turn in range(3):
            chat.say("t", f"m{turn}")
        statements: list[str] = []
        db.saver.conn.set_trace_callback(statements.append)
        warm = db.saver.get_tuple(cfg("t"))
        db.saver.conn.set_trace_callback(None)
        assert not [s for s in statements if "sl_blobs" in s]  # messages cached, the rest empty or inline
        db.saver.values.forget_all()
        cold = db.saver.get_tuple(cfg("t"))
        assert cold.checkpoint["channel_values"].keys() == warm.checkpoint["channel_values"].keys()
        assert [m.content for m in cold.checkpoint["channel_values"]["messages"]] == [
            m.content for m in warm.checkpoint["channel_values"]["messages"]
        ]
    finally:
        db.close()
