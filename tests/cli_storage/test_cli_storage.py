"""The storage commands as real subprocesses, on SQLite and PostgreSQL: time travel, prune, rekey, bad input."""

from __future__ import annotations

import json
import secrets

from tests.checkpointing.storage_helpers import file_bytes, saver_rows
from tests.core.cli_helpers import cli, cli_json

from stateline.checkpointing import open_database
from stateline._session import open_session

SELL = "sell: title Kite, price 15, category toys, description: A red kite"


def rows_of(url: str) -> tuple:
    db = open_database(url)
    try:
        return saver_rows(db)
    finally:
        db.close()


def fails_with(result, text: str) -> None:
    """Exit status 2 and one line on stderr naming the problem."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result.stderr


def say(db: str, thread: str, *messages: str) -> None:
    """Turns run in this process (what is under test here is the storage commands)."""
    with open_session(db=db, example="storefront") as app:
        for message in messages:
            app.send(thread, message)


def two_turns(db: str, thread: str = "s1") -> list[dict]:
    say(db, thread, SELL, "total revenue for toys")
    return cli_json("threads", "history", thread, db=db)


def test_history_rewind_fork_delete(db_url):
    history = two_turns(db_url)
    assert history[0]["messages"] == 4 and history[0]["next"] == []
    ids = [h["checkpoint_id"] for h in history]
    assert ids == sorted(ids, reverse=True)
    assert len(cli_json("threads", "history", "s1", "--limit", "3", db=db_url)) == 3
    human = cli("threads", "history", "s1", db=db_url)
    assert human.returncode == 0 and ids[0] in human.stdout

    first_turn_end = next(h["checkpoint_id"] for h in history if h["messages"] == 2 and not h["next"])
    rewound = cli_json("threads", "rewind", "s1", "--to", first_turn_end, db=db_url)
    after = cli_json("threads", "history", "s1", db=db_url)
    assert after[0]["checkpoint_id"] == rewound["head"] and after[0]["messages"] == 2
    assert after[0]["rewound_from"] == first_turn_end and len(after) == len(history) + 1

    forked = cli_json("threads", "fork", "s1", "--to", ids[0], "--as", "s2", db=db_url)
    assert forked["thread_id"] == "s2"
    assert cli_json("threads", "history", "s2", db=db_url)[0]["messages"] == 4
    assert {t["thread_id"] for t in cli_json("threads", "list", db=db_url)} == {"s1", "s2"}
    assert cli_json("threads", "history", "s1", db=db_url) == after  # the source is unchanged

    assert cli_json("threads", "delete", "s2", db=db_url) == {"thread_id": "s2", "deleted": True}
    assert [t["thread_id"] for t in cli_json("threads", "list", db=db_url)] == ["s1"]
    fails_with(cli("threads", "delete", "s2", db=db_url), "unknown thread 's2'")
    fails_with(cli("threads", "history", "s2", db=db_url), "unknown thread 's2'")


def test_bad_input_changes_nothing(db_url, tmp_path):
    history = two_turns(db_url)
    mid_turn = next(h["checkpoint_id"] for h in history if h["next"])
    before = rows_of(db_url)
    path = tmp_path / "test.db"
    size = file_bytes(path) if db_url.startswith("sqlite") else None
    fails_with(cli("threads", "rewind", "s1", "--to", "no-such-checkpoint", db=db_url), "has no checkpoint")
    fails_with(cli("threads", "fork", "s1", "--to", "no-such-checkpoint", "--as", "s9", db=db_url), "has no checkpoint")
    fails_with(cli("threads", "fork", "s1", "--to", mid_turn, "--as", "s1", db=db_url), "already has checkpoints")
    fails_with(cli("prune", db=db_url), "nothing to do")
    assert rows_of(db_url) == before
    if size is not None:
        assert file_bytes(path) == size

    # a thread stopped mid-turn (here: rewound to one) is refused by name, skipped otherwise
    cli_json("threads", "rewind", "s1", "--to", mid_turn, db=db_url)
    two_turns(db_url, "s3")
    before = rows_of(db_url)
    fails_with(cli("prune", "--keep-last", "1", "--thread", "s1", "--thread", "s3", db=db_url), "'s1' is unfinished")
    assert rows_of(db_url) == before
    report = cli_json("prune", "--keep-last", "1", db=db_url)
    assert list(report["skipped"]) == ["s1"] and report["pruned_threads"] == ["s3"]
    assert report["pruned_checkpoints"] > 0
    assert len(cli_json("threads", "history", "s3", db=db_url)) == 1
    assert rows_of(db_url) != before


def test_prune_idle_threads_and_vacuum_shrinks_the_file(tmp_path):
    path = tmp_path / "p.db"
    db = f"sqlite:///{path}"
    say(db, "big", *(f"sell: title Kite {i}, price 15, category toys, description: " + "x" * 400 for i in range(12)))
    full = file_bytes(path)
    report = cli_json("prune", "--keep-last", "1", "--vacuum", db=db)
    assert report["vacuumed"] and report["pruned_checkpoints"] > 40  # 12 turns of ~4 checkpoints, all but one
    assert file_bytes(path) < full
    report = cli_json("prune", "--idle-ttl", "0", db=db)
    assert report["deleted_threads"] == ["big"]
    assert cli_json("threads", "list", db=db) == []


def test_unreachable_or_malformed_database_is_one_line():
    fails_with(cli("prune", "--keep-last", "1", db="postgresql://u:p@127.0.0.1:1/x"), "cannot reach PostgreSQL")
    fails_with(cli("threads", "history", "t", db="postgresql://u:p@127.0.0.1:abc/x"), "malformed PostgreSQL URL")
    fails_with(cli("threads", "delete", "t", db="mysql://nope"), "")


def test_rekey_through_the_cli(tmp_path, monkeypatch):
    db = f"sqlite:///{tmp_path}/k.db"
    old, new = secrets.token_hex(32), secrets.token_hex(32)
    monkeypatch.setenv("STATELINE_AES_KEY", old)
    say(db, "s1", SELL)
    fails_with(cli("rekey", db=db), "--new-key")
    assert cli_json("rekey", "--new-key", new, db=db)["encrypted"] is True
    fails_with(cli("threads", "history", "s1", db=db), "key")  # the old key no longer opens it
    monkeypatch.setenv("STATELINE_AES_KEY", new)
    assert cli_json("threads", "history", "s1", db=db)[0]["messages"] == 2
    assert cli_json("rekey", "--decrypt", db=db)["encrypted"] is False
    monkeypatch.delenv("STATELINE_AES_KEY")
    assert cli_json("threads", "history", "s1", db=db)[0]["messages"] == 2


def test_history_json_streams_a_long_thread(tmp_path):
    """A 300-turn thread: the JSON array is complete and every item in order."""
    from tests.checkpointing.storage_helpers import Chat

    url = f"sqlite:///{tmp_path}/long.db"
    database = open_database(url)
    try:
        chat = Chat(database)
        for i in range(300):
            chat.say("long", f"message {i}")
    finally:
        database.close()
    result = cli("--json", "threads", "history", "long", db=url)
    assert result.returncode == 0, result.stderr
    items = json.loads(result.stdout)
    assert len(items) == 300 * 5  # input, route, reply, count, end: 5 checkpoints per turn
    assert items[0]["messages"] == 600 and items[-1]["messages"] == 0
