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


def test_rekey_killed_midway_keeps_the_old_key_and_a_rerun_finishes(db_url):
    _fill(db_url, 120)
    runs = _readable(db_url, K1)
    env = {**os.environ, "STATELINE_AES_KEY": K1}
    cmd = [sys.executable, "-m", "stateline", "--db", db_url, "rekey", "--new-key", K2]
    killed = 0
    for delay in (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0):
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        if proc.poll() is not None:
            break  # it finished before the kill: later delays would too
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed += 1
        assert _readable(db_url, K1) == runs  # all still under the old key, none half-converted
    else:
        proc = None
    print(f"{killed} rekey runs killed mid-way")
    assert killed >= 1
    if proc is None or proc.returncode != 0:
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
    assert _readable(db_url, K2) == runs
    assert table_hits(db_url, "Zq7Kill") == {}
