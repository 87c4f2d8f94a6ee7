"""Both examples end to end through the CLI, and the bad-input table."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from .cli_helpers import cli, cli_json, file_digest


def test_demo_prints_a_transcript_across_a_restart(tmp_path):
    result = cli("demo", db=f"sqlite:///{tmp_path}/demo.db")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "I still need: category" in out  # a missing field asked for
    assert "pricing> At cost $6.00" in out  # switched to another agent
    assert "a new process continues" in out
    assert "listing> Published 'Red Ceramic Mug'" in out  # came back, finished in the new process
    assert "catalog: 1 listing(s)" in out


def test_storefront_through_the_cli(tmp_path):
    db = f"sqlite:///{tmp_path}/s.db"
    turn = cli_json(
        "run", "-e", "storefront", "--thread", "s1",
        "sell: title Kite, price 15, category toys, description: A red kite",
        db=db,
    )
    assert turn["agent"] == "listing" and "Published 'Kite'" in turn["replies"][0]["text"]
    assert cli_json("agents", "list", "-e", "storefront", db=db)[0]["name"] == "listing"
    history = cli_json("threads", "history", "s1", db=db)
    assert history[0]["messages"] == 2 and len(history) > 3
    human = cli("threads", "list", db=db)
    assert "s1" in human.stdout and human.returncode == 0


def test_chat_reads_lines_until_empty(tmp_path):
    result = cli("chat", "-e", "storefront", "--thread", "c", stdin="total revenue for toys\n\n", db=f"sqlite:///{tmp_path}/c.db")
    assert result.returncode == 0, result.stderr
    assert "analytics> Total revenue for toys: $975.00." in result.stdout


def test_assistant_remembers_preferences_in_a_new_thread_after_restart(tmp_path):
    db = f"sqlite:///{tmp_path}/a.db"
    first = cli_json("run", "-e", "assistant", "--user", "ann", "--thread", "a1", "tell me a joke about cats", db=db)
    assert first["agent"] == "jokes" and "cat" in first["replies"][0]["text"]
    cli_json("run", "-e", "assistant", "--user", "ann", "--thread", "a1", "add ticker NVDA to my watchlist", db=db)
    # a new process, a new conversation: the same user is remembered
    later = cli_json(
        "run", "-e", "assistant", "--user", "ann", "--thread", "a2", "what do you remember about me?", db=db
    )
    text = later["replies"][0]["text"]
    assert "joke topics: cats" in text and "watchlist: NVDA" in text and "2 times" in text
    other = cli_json(
        "run", "-e", "assistant", "--user", "bob", "--thread", "b1", "what do you remember about me?", db=db
    )
    assert "joke topics: none" in other["replies"][0]["text"]


@pytest.fixture
def stored(tmp_path):
    """A database holding one conversation, fully checkpointed (no WAL left)."""
    db = tmp_path / "good.db"
    assert (
        cli("run", "-e", "storefront", "--thread", "t", "total revenue for books", db=f"sqlite:///{db}").returncode == 0
    )
    return db


def _not_sqlite(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not a database\n" * 50)
    return path


def _corrupt(tmp_path, stored):
    path = tmp_path / "corrupt.db"
    shutil.copy(stored, path)
    data = bytearray(path.read_bytes())
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    data[page * 2 : page * 4] = b"\xde\xad\xbe\xef" * (page // 2)
    path.write_bytes(bytes(data))
    return path


BAD = {
    "unknown example": (lambda tp, s: s, ["run", "-e", "nope", "--thread", "t", "hi"], "unknown example 'nope'"),
    "unknown agent": (lambda tp, s: s, ["agents", "show", "ghost"], "unknown agent 'ghost'"),
    "unknown thread": (lambda tp, s: s, ["threads", "show", "ghost"], "unknown thread 'ghost'"),
    "empty message": (lambda tp, s: s, ["run", "-e", "storefront", "--thread", "t", "   "], "message is empty"),
    "bad thread id": (
        lambda tp, s: s,
        ["run", "-e", "storefront", "--thread", "a b/c", "hi"],
        "thread id 'a b/c' is not valid",
    ),
    "uncreatable path": (lambda tp, s: tp / "no" / "such" / "dir" / "x.db", ["threads", "list"], "does not exist"),
    "not a sqlite file": (lambda tp, s: _not_sqlite(tp), ["threads", "list"], "is not a SQLite database"),
    "corrupt database": (_corrupt, ["run", "-e", "storefront", "--thread", "t", "hi"], "damaged"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_one_line_exit_2_and_changes_nothing(tmp_path, stored, case):
    make_path, args, message = BAD[case]
    path = make_path(tmp_path, stored)
    before = file_digest(path)
    result = cli(*args, db=f"sqlite:///{path}")
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert file_digest(path) == before


def test_usage_errors_exit_2_with_the_reason():
    result = cli("run", "hello")
    assert result.returncode == 2 and "Missing option '--thread'" in result.stderr
