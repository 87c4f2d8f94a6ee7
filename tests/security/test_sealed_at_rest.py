"""With STATELINE_AES_KEY set, no user content is stored in plaintext anywhere (issue 11).

A marker goes through every path a user's words take: messages, replies, drafts waiting
for approval, an approval edit (audit detail), cross-thread memory, effect results and
errors, run errors, step events, a thread title, an operator's reason, the run queue.
Then every file the project wrote (database, -wal, -shm, logs; on PostgreSQL every row
and a pg_dump) is searched for it: before ``rekey``, after it, and after ``rekey
--decrypt`` everything reads back (and the marker is found again: the scan can fail).
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from stateline.checkpointing import ThreadIndex, open_database
from stateline.lifecycle import DurableLedger, RunLog
from stateline.lifecycle._queue import RunQueue

from tests.security.scan import file_hits, pg_dump_file, table_hits
from tests.server_kit import ROOT, ServerProcess

MARKER = "Zq7Mark"
AGENTS = str(ROOT / "tests/security/marker_agents.toml")
K1, K2 = secrets.token_hex(32), secrets.token_hex(32)


def cli(url: str, *args: str, key: str | None, log: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "STATELINE_AES_KEY"}
    if key:
        env["STATELINE_AES_KEY"] = key
    done = subprocess.run([sys.executable, "-m", "stateline", "--db", url, *args], check=False, cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    with log.open("a") as f:
        f.write(done.stdout + done.stderr)
    return done


def drive(srv: ServerProcess, url: str, log: Path) -> dict[str, str]:
    """Send the marker through every path; return the thread ids used."""
    with srv.client("alice") as c:
        r = c.post("/api/threads", json={"thread_id": "m1", "title": f"{MARKER}-title"})
        assert r.status_code == 201, r.text
        tid = r.json()["thread_id"]
        r = c.post(f"/api/threads/{tid}/messages", json={"message": f"stash: secret {MARKER}-msg", "stream": False})
        assert r.json()["status"] == "waiting", r.text
        r = c.post(f"/api/threads/{tid}/resume", json={"action": "edit", "fields": {"secret": f"{MARKER}-edit"}})
        assert r.status_code == 200, r.text
        r = c.post(f"/api/threads/{tid}/resume", json={"action": "approve"})
        assert r.json()["status"] == "completed", r.text
        boom = c.post("/api/threads", json={}).json()["thread_id"]
        c.post(f"/api/threads/{boom}/messages", json={"message": f"stash: secret {MARKER}-boom", "stream": False})
        r = c.post(f"/api/threads/{boom}/resume", json={"action": "approve"})
        assert r.json()["status"] == "failed", r.text
    with srv.client("root") as admin:
        r = admin.post("/api/agents/vault/status", json={"status": "paused", "reason": f"{MARKER}-reason"})
        assert r.status_code == 200, r.text
        assert admin.post("/api/agents/vault/status", json={"status": "active"}).status_code == 200
    srv.stop()  # SIGTERM
    queued = cli(url, "enqueue", "--agents-file", AGENTS, "-t", "q1", f"keep secret {MARKER}-queue", key=K1, log=log)
    assert queued.returncode == 0
    done = cli(url, "worker", "--agents-file", AGENTS, "--until-idle", key=K1, log=log)
    assert done.returncode == 0, done.stderr
    return {"main": tid, "boom": boom}


def read_back(url: str, key: str | None, threads: dict[str, str]) -> str:
    """Everything stateline reads back through its own API, as one text."""
    from stateline._events import EventLog
    from stateline.server._auth import AuditLog

    db = open_database(url, key=key or False)
    try:
        parts = [ThreadIndex(db).get(threads["main"]).title]
        parts += [repr(r) for r in RunLog(db).list(limit=1000)]
        parts += [repr(e) for r in RunLog(db).list(limit=1000) for e in RunLog(db).events(r.run_id)]
        parts += [repr(e) for e in DurableLedger(db).list()]
        parts += [repr(j) for j in RunQueue(db).list()]
        parts += [repr(e) for t in threads.values() for e in EventLog(db).after(t)]
        parts += [repr(a) for a in AuditLog(db).rows()]
        parts += [repr(db.store.get(("users", "alice"), "secret"))]
        from stateline.lifecycle import Lifecycle

        parts += [repr(Lifecycle(db, agents=lambda: ["vault"]).history("vault"))]
        return "\n".join(str(p) for p in parts)
    finally:
        db.close()


EXPECTED = ["-title", "-msg", "-edit", "-boom", "-reason", "-queue"]


def assert_no_plaintext(url: str, folder: Path) -> None:
    assert table_hits(url, MARKER) == {}, "plaintext rows"
    if url.startswith("postgresql:") and pg_dump_file(url, folder / "dump.sql") is not None:
        dumped = file_hits(folder, MARKER).get("dump.sql", 0)
        (folder / "dump.sql").unlink()
        assert dumped == 0, f"pg_dump holds plaintext {dumped} times"
    assert file_hits(folder, MARKER) == {}, "plaintext in files"


@pytest.mark.parametrize("stage", ["sealed", "rekeyed"])
def test_no_plaintext_anywhere_then_decrypt_reads_back(db_url, tmp_path, stage):
    folder = tmp_path / "data"
    folder.mkdir()
    url = f"sqlite:///{folder / 'app.db'}" if db_url.startswith("sqlite:") else db_url
    log = folder / "cli.log"
    srv = ServerProcess(url, args=["--agents-file", AGENTS, "--approval", "vault"], env={"STATELINE_AES_KEY": K1},
                        log=folder / "server.log").start()
    try:
        threads = drive(srv, url, log)
    finally:
        srv.stop()
    text = read_back(url, K1, threads)
    assert all(f"{MARKER}{e}" in text for e in EXPECTED), text
    key = K1
    if stage == "rekeyed":
        done = cli(url, "rekey", "--new-key", K2, key=K1, log=log)
        assert done.returncode == 0, done.stderr
        key = K2
    assert_no_plaintext(url, folder)
    done = cli(url, "rekey", "--decrypt", key=key, log=log)
    assert done.returncode == 0, done.stderr
    text = read_back(url, None, threads)
    assert all(f"{MARKER}{e}" in text for e in EXPECTED), text
    assert table_hits(url, MARKER)  # decrypted: the same scan now finds the marker
