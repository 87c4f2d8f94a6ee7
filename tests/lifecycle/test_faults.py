"""Bad input and faults through the CLI: one line, exit status 2, and no stored state changed."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from stateline.cli import main
from tests.lifecycle.apps import snapshot_rows


def cli(capsys, db_path, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(["--db", f"sqlite:///{db_path}", "--example", "storefront", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def fresh(capsys, db_path):
    """A database that exists (created by a first command) with a little history."""
    assert cli(capsys, db_path, "run", "-t", "t1", "I'd like to sell a product: title Mug, price 3")[0] == 0
    return db_path


@pytest.mark.parametrize(
    "args, message",
    [
        (["agents", "pause", "nobody"], "unknown agent 'nobody'; registered agents: analytics, listing, pricing"),
        (["agents", "history", "nobody"], "unknown agent 'nobody'"),
        (["runs", "show", "nope"], "unknown run 'nope'"),
        (["effects", "resolve", "nope", "--redo"], "unknown effect 'nope'"),
        (
            ["agents", "initialize", "listing"],
            "cannot go from 'active' to 'initialized'; allowed from 'active': error, paused, terminated",
        ),
        (["runs", "list", "--status", "bogus"], "run status 'bogus' is not one of"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(capsys, fresh, args, message) -> None:
    before = snapshot_rows(fresh)
    code, out, err = cli(capsys, fresh, *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert snapshot_rows(fresh) == before


def test_terminated_agent_cannot_come_back(capsys, fresh) -> None:
    assert cli(capsys, fresh, "agents", "terminate", "pricing")[0] == 0
    before = snapshot_rows(fresh)
    code, _, err = cli(capsys, fresh, "agents", "activate", "pricing")
    assert code == 2 and "allowed from 'terminated': (none)" in err
    assert snapshot_rows(fresh) == before


def test_recover_on_a_fresh_database_is_a_noop_that_says_so(capsys, tmp_path) -> None:
    db = tmp_path / "empty.db"
    code, out, _ = cli(capsys, db, "recover")
    assert code == 0 and "nothing to recover" in out
    before = snapshot_rows(db)
    code, out, _ = cli(capsys, db, "--json", "recover")
    assert code == 0 and json.loads(out) == {
        "summary": "nothing to recover: no interrupted, failed or unfinished runs",
        "actions": [],
    }
    assert snapshot_rows(db) == before


def test_lifecycle_and_runs_commands_with_json(capsys, fresh) -> None:
    code, out, _ = cli(capsys, fresh, "--json", "agents", "pause", "listing", "--reason", "stock take")
    assert code == 0 and json.loads(out)["to_status"] == "paused"
    code, out, _ = cli(capsys, fresh, "--json", "agents", "list")
    assert {r["name"]: r["status"] for r in json.loads(out)}["listing"] == "paused"
    code, out, _ = cli(capsys, fresh, "--json", "runs", "list", "--thread", "t1")
    (run,) = json.loads(out)
    code, out, _ = cli(capsys, fresh, "--json", "runs", "show", run["run_id"])
    assert json.loads(out)["run"]["status"] == "completed" and json.loads(out)["events"]
    code, out, _ = cli(capsys, fresh, "runs", "show", run["run_id"])
    assert code == 0 and "listing/collect" in out
    code, out, _ = cli(capsys, fresh, "--json", "stats")
    assert json.loads(out)[0]["agent"] == "listing"
    code, out, _ = cli(capsys, fresh, "--json", "effects", "list", "--in-doubt")
    assert json.loads(out) == []


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(60)
"""


def test_database_locked_by_another_process_waits_then_fails_clearly(capsys, fresh, monkeypatch) -> None:
    before = snapshot_rows(fresh)
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(fresh)], stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        monkeypatch.setenv("STATELINE_BUSY_TIMEOUT_MS", "400")
        start = time.monotonic()
        code, out, err = cli(capsys, fresh, "agents", "pause", "listing")
        elapsed = time.monotonic() - start
    finally:
        locker.kill()
        locker.wait()
    assert code == 2 and err.count("\n") == 1
    assert "locked by another process for 0.4s" in err and "STATELINE_BUSY_TIMEOUT_MS" in err
    assert 0.3 <= elapsed < 10
    assert snapshot_rows(fresh) == before


def test_a_store_migration_applied_but_unrecorded_by_a_crash_does_not_brick_the_database(tmp_path) -> None:
    """Found by the crash harness: a SIGKILL inside LangGraph's SqliteStore.setup() on first open."""
    import sqlite3

    from stateline.checkpointing import open_database

    path = tmp_path / "half.db"
    open_database(f"sqlite:///{path}").close()
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM store_migrations WHERE v >= 3")  # ttl_minutes column exists, not recorded
    conn.commit()
    conn.close()
    db = open_database(f"sqlite:///{path}")
    try:
        assert db.query_one("SELECT MAX(v) AS v FROM store_migrations")["v"] == 4
    finally:
        db.close()


HALF_WRITER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=DELETE")
conn.execute("PRAGMA cache_size=1")
conn.execute("CREATE TABLE IF NOT EXISTS filler (x TEXT)")
conn.execute("BEGIN")
for i in range(2000):
    conn.execute("INSERT INTO filler VALUES (?)", ("x" * 500,))
print("writing", flush=True)
time.sleep(60)
"""


def test_a_database_whose_writer_was_killed_mid_transaction_opens(tmp_path) -> None:
    """Found by the crash harness: a hot journal left by a SIGKILL made the read-only check fail forever."""
    import signal

    from stateline.checkpointing import open_database

    path = tmp_path / "hot.db"
    writer = subprocess.Popen([sys.executable, "-c", HALF_WRITER, str(path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert (tmp_path / "hot.db-journal").exists()
    db = open_database(f"sqlite:///{path}")
    try:
        assert db.query_one("SELECT COUNT(*) AS n FROM filler")["n"] == 0  # rolled back
    finally:
        db.close()
