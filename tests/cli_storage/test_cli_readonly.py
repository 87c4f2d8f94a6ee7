"""Inspecting commands never write: not a table, not an empty -wal, no checkpoint of the WAL."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from stateline.checkpointing import open_database
from stateline.errors import SchemaVersionError, StorageError

from .project_kit import make_project, one_line_exit_2, run_cli, snapshot

READ_ONLY = [
    ["threads", "list"],
    ["--json", "threads", "show", "n1"],
    ["runs", "list"],
    ["effects", "list"],
    ["agents", "list"],
    ["stats"],
    ["threads", "history", "n1"],
    ["jobs", "list"],
]


@pytest.fixture
def stored(tmp_path):
    """A project database closed cleanly: no -wal, no -shm beside it."""
    root = make_project(tmp_path / "proj")
    assert run_cli(root, "run", "-t", "n1", "note text: buy milk").returncode == 0
    db = root / "notes.db"
    assert not os.path.exists(f"{db}-wal")
    return root, db


def test_read_only_commands_change_no_byte_and_create_no_file(stored, tmp_path):
    root, db = stored
    before = snapshot(db)
    elsewhere = tmp_path / "elsewhere"  # also without the project file: nothing named, nothing guessed
    elsewhere.mkdir()
    for cwd in (root, elsewhere):
        for args in READ_ONLY:
            result = run_cli(cwd, "--db", f"sqlite:///{db}", *args)
            assert result.returncode == 0, (args, result.stderr)
    run_id = run_cli(root, "--json", "runs", "list").stdout.split('"run_id": "')[1][:6]
    shown = run_cli(root, "runs", "show", run_id)  # a prefix of the id
    assert shown.returncode == 0 and "completed" in shown.stdout, shown.stderr
    assert snapshot(db) == before
    assert sorted(os.listdir(root)) == ["docs", "mynotes.py", "notes.db", "stateline.toml"]


def test_a_wal_left_by_a_killed_writer_is_read_not_checkpointed(stored):
    """A -wal with commits not yet in the main file: they are shown; the file and the -wal stay as they are."""
    root, db = stored
    writer = textwrap.dedent(f"""
        import os, sqlite3
        c = sqlite3.connect({str(db)!r}, isolation_level=None)
        c.execute("PRAGMA wal_autocheckpoint=0")
        c.execute("UPDATE threads SET workflow = 'changed-in-wal'")
        os.kill(os.getpid(), {int(signal.SIGKILL)})
    """)
    subprocess.run([sys.executable, "-c", writer], check=False)
    assert os.path.getsize(f"{db}-wal") > 0
    before = snapshot(db)
    listed = run_cli(root, "threads", "list")
    assert listed.returncode == 0 and "changed-in-wal" in listed.stdout, listed.stderr
    after = snapshot(db)
    assert after["db"] == before["db"] and after["-wal"] == before["-wal"]  # -shm is SQLite's shared index


def test_a_newer_schema_is_refused_untouched(stored):
    root, db = stored
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE stateline_schema SET version = 99 WHERE component = 'threads'")
    conn.close()
    assert not os.path.exists(f"{db}-wal")
    before = snapshot(db)
    one_line_exit_2(run_cli(root, "threads", "list"), "upgrade stateline")
    one_line_exit_2(run_cli(root, "recover"), "upgrade stateline")
    assert snapshot(db) == before


def test_open_database_read_only(tmp_path):
    with pytest.raises(StorageError, match="does not exist"):
        open_database(f"sqlite:///{tmp_path}/none.db", read_only=True)
    assert not (tmp_path / "none.db").exists()
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()  # a SQLite file with no stateline tables at all
    before = snapshot(path)
    with open_database(f"sqlite:///{path}", read_only=True) as db:
        assert db.read_only
        with pytest.raises(StorageError):
            db.execute("CREATE TABLE x (a)")
    assert snapshot(path) == before
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE stateline_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
        conn.execute("INSERT INTO stateline_schema VALUES ('sqlite_saver', 7)")
    conn.close()
    with pytest.raises(SchemaVersionError):
        open_database(f"sqlite:///{path}", read_only=True)


def test_a_database_of_another_workflow_gets_no_example_tables(tmp_path):
    """Issue 9, observation 6: `--db X threads list` / `recover` with no agents named used to
    write the storefront's catalog/sales tables into the user's database."""
    from pydantic import BaseModel

    from stateline import Agent, App

    class Note(BaseModel):
        text: str

    notes = Agent(name="notes", description="Keep notes", intents=["note"], schema=Note,
                  act=lambda n: f"saved {n.text}", keywords=["note"])
    db = tmp_path / "own.db"
    with App([notes], db=f"sqlite:///{db}", workflow="mine") as app:
        app.send("n1", "note text: milk")
    before = snapshot(db)
    listed = run_cli(tmp_path, "--db", f"sqlite:///{db}", "threads", "list")
    assert listed.returncode == 0 and "mine" in listed.stdout, listed.stderr
    one_line_exit_2(run_cli(tmp_path, "--db", f"sqlite:///{db}", "recover"), "no agents named")
    assert snapshot(db) == before
    tables = {r[0] for r in sqlite3.connect(f"file:{db}?immutable=1", uri=True).execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not {"catalog", "sales"} & tables
