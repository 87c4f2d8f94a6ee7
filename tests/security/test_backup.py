"""Backups hold the data (issue 11): clean shutdown leaves it in the .db; an online backup
taken during a load restores to a database whose threads all resume; PostgreSQL round trip."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stateline.checkpointing import backup_database, restore_database

from stateline import App
from stateline._session import open_session
from tests.lifecycle.crashkit import resolve_in_doubt
from tests.security.scan import file_hits
from tests.server_kit import ROOT, ServerProcess, new_thread

ORDER = "I'd like to sell a product: title Zq7Mug{i}, price 12.50"
LOAD = """
import itertools, sys
from stateline._session import open_session
from stateline.errors import StatelineError
s = open_session(db=sys.argv[1], example="storefront")
print("ready", flush=True)
for i in itertools.count():
    t = f"t{i % 6}"
    try:
        if (i // 6) % 2 == 0:
            s.send(t, "I'd like to sell a product: title Zq7Mug%d, price 12.50" % i, user_id="u")
        else:
            s.send(t, "category kitchen, description A sturdy mug for tea", user_id="u")
    except StatelineError:
        pass
"""


def cli(url: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stateline", "--db", url, *args], check=False, cwd=ROOT, capture_output=True,
        text=True, timeout=120, env={**os.environ, **(env or {})},
    )


def only_the_db(db: Path, elsewhere: Path) -> Path:
    """A plain copy of the .db file alone (no -wal, no -shm)."""
    elsewhere.mkdir()
    return Path(shutil.copy(db, elsewhere / db.name))


def test_app_close_leaves_every_row_in_the_db_file(tmp_path):
    db = tmp_path / "app.db"
    with open_session(db=f"sqlite:///{db}", example="storefront") as app:
        for t in ("a", "b"):
            app.send(t, ORDER.format(i=1), user_id="u")
    copy = only_the_db(db, tmp_path / "copy")
    with open_session(db=f"sqlite:///{copy}", example="storefront") as app:
        assert sorted(t.thread_id for t in app.list_threads()) == ["a", "b"]
        assert app.state("a").messages


def test_server_sigterm_leaves_every_row_in_the_db_file(tmp_path):
    db = tmp_path / "srv.db"
    with ServerProcess(db) as srv, srv.client("alice") as c:
        tid = new_thread(c, "kept")
        reply = c.post(f"/api/threads/{tid}/messages", json={"message": ORDER.format(i=2), "stream": False})
        assert reply.status_code == 200
    # ServerProcess.stop sent SIGTERM and waited
    wal = Path(f"{db}-wal")
    print(f".db {db.stat().st_size} bytes, -wal {wal.stat().st_size if wal.exists() else 0}")
    copy = only_the_db(db, tmp_path / "copy")
    with open_session(db=f"sqlite:///{copy}", example="storefront") as app:
        assert [t.thread_id for t in app.list_threads()] == [tid]
        assert len(app.state(tid).messages) == 2


def _resume_all(url: str, key: str) -> dict[str, str]:
    """Recover the restored database, then give every thread one more turn; thread -> status."""
    os.environ["STATELINE_AES_KEY"] = key
    try:
        with open_session(db=url, example="storefront") as app:
            app.recover()
            # a backup taken mid-effect holds it in doubt: the operator step (look the listing up, done or redo)
            if resolve_in_doubt(app, Path(f"{url.removeprefix('sqlite:///')}.indoubt")):
                app.recover()
            out = {}
            for info in app.list_threads(limit=1000):
                turn = app.send(info.thread_id, "category kitchen, description A sturdy mug for tea", user_id="u")
                assert turn.replies, info.thread_id
                out[info.thread_id] = app.status(info.thread_id)
            return out
    finally:
        del os.environ["STATELINE_AES_KEY"]


def test_a_backup_during_a_load_restores_to_threads_that_all_resume(tmp_path):
    key = secrets.token_hex(32)
    live = tmp_path / "live"
    live.mkdir()
    url = f"sqlite:///{live / 'app.db'}"
    env = {**os.environ, "STATELINE_AES_KEY": key}
    load = subprocess.Popen([sys.executable, "-c", LOAD, url], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    backups = tmp_path / "backups"
    backups.mkdir()
    try:
        assert load.stdout is not None and load.stdout.readline().strip() == "ready"
        for n in range(3):
            time.sleep(1.5)
            t0 = time.perf_counter()
            done = cli(url, "backup", str(backups / f"b{n}.db"))
            assert done.returncode == 0, done.stderr
            print(f"backup {n} during load: {done.stdout.strip()} ({time.perf_counter() - t0:.2f}s incl. CLI start)")
    finally:
        load.send_signal(signal.SIGKILL)  # the load dies mid-turn: the live file is a crash, the backups are not
        load.wait(10)
    assert file_hits(backups, "Zq7Mug") == {}  # sealed data stays sealed in the copies
    for n in range(3):
        target = tmp_path / f"restored{n}" / "app.db"
        target.parent.mkdir()
        done = cli(f"sqlite:///{target}", "restore", str(backups / f"b{n}.db"))
        assert done.returncode == 0, done.stderr
        statuses = _resume_all(f"sqlite:///{target}", key)
        assert len(statuses) == 6, statuses
        assert set(statuses.values()) <= {"idle", "waiting"}, statuses


def test_restore_checks_the_backup_and_refuses_to_overwrite(tmp_path):
    db = tmp_path / "app.db"
    with App([], db=f"sqlite:///{db}"):
        pass
    backup_database(f"sqlite:///{db}", tmp_path / "b.db")
    done = cli(f"sqlite:///{db}", "restore", str(tmp_path / "b.db"))
    assert done.returncode == 2 and "--force" in done.stderr
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    done = cli(f"sqlite:///{tmp_path / 'new.db'}", "restore", str(tmp_path / "junk.db"))
    assert done.returncode == 2 and "not a SQLite database" in done.stderr, done.stderr
    assert not (tmp_path / "new.db").exists()
    done = cli(f"sqlite:///{db}", "backup", str(tmp_path / "b.db"))
    assert done.returncode == 2 and "exists" in done.stderr
    report = restore_database(tmp_path / "b.db", f"sqlite:///{db}", force=True)
    assert report.pages > 0


def test_postgres_pg_dump_round_trip(pg_url, tmp_path):
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore not installed")
    key = secrets.token_hex(32)
    os.environ["STATELINE_AES_KEY"] = key
    try:
        with open_session(db=pg_url, example="storefront") as app:
            for t in ("p1", "p2"):
                app.send(t, ORDER.format(i=3), user_id="u")
    finally:
        del os.environ["STATELINE_AES_KEY"]
    from urllib.parse import parse_qs, urlsplit, urlunsplit

    parts = urlsplit(pg_url)
    schema = parse_qs(parts.query)["options"][0].split("search_path=")[1]
    plain = urlunsplit(parts._replace(query=""))
    dump = tmp_path / "backup.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", "--no-owner", "-n", schema, "-f", str(dump), plain], check=True, timeout=120
    )
    assert file_hits(tmp_path, "Zq7Mug") == {}  # sealed in the dump too
    import psycopg

    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    subprocess.run(["pg_restore", "--no-owner", "-d", plain, str(dump)], check=True, timeout=120)
    assert {s for s in _resume_all(pg_url, key).values()} <= {"idle", "waiting"}
