"""``stateline rekey`` killed with SIGKILL leaves everything under the old key; run again, it finishes."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

from stateline._app import App
from stateline.checkpointing import open_database
from stateline.lifecycle import RunLog
from tests.security.marker_agent import agent
from tests.security.scan import table_hits
from tests.server_kit import ROOT

K1, K2 = secrets.token_hex(32), secrets.token_hex(32)


def _fill(url: str, turns: int) -> None:
    db = open_database(url, key=K1)
    app = App([agent], db=db)
    try:
        for i in range(turns):
            app.send(f"t{i % 20}", f"keep secret Zq7Kill{i}", user_id=f"u{i % 3}")
    finally:
        app.close()
        db.close()


def _readable(url: str, key: str) -> int:
    db = open_database(url, key=key)
    try:
        runs = RunLog(db).list(limit=100_000)
        assert all(r.input and r.input.startswith("keep secret Zq7Kill") for r in runs)
        return len(runs)
    finally:
        db.close()


def _under(url: str, runs: int) -> str:
    """Which key the whole database is under (every run reads back with it): never a mix."""
    from stateline.errors import EncryptionKeyError

    try:
        assert _readable(url, K1) == runs
        return "K1"
    except EncryptionKeyError:
        assert _readable(url, K2) == runs
        return "K2"


def test_rekey_killed_midway_keeps_one_key_and_a_rerun_finishes(db_url):
    _fill(db_url, 120)
    runs = _readable(db_url, K1)
    env = {**os.environ, "STATELINE_AES_KEY": K1}
    cmd = [sys.executable, "-m", "stateline", "--db", db_url, "rekey", "--new-key", K2]
    outcomes: list[str] = []
    delay = 1.0
    for _ in range(8):  # kill ever later, until a run finishes (or its kill lands after the commit)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        outcomes.append(f"{_under(db_url, runs)} ({'finished' if finished else f'killed at {delay:.1f}s'})")
        if finished or outcomes[-1].startswith("K2"):
            break
        delay *= 1.5
    print(f"rekey attempts: {outcomes}")
    assert outcomes[0].startswith("K1 (killed")  # the kill landed before the commit: nothing changed
    if outcomes[-1].startswith("K1"):  # every kill was early: now let one run to the end
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
    assert _under(db_url, runs) == "K2"
    assert table_hits(db_url, "Zq7Kill") == {}
