"""Thread leases: one holder at a time; a dead holder's lease is taken over."""

from __future__ import annotations

import subprocess
import sys

from checkpointing import open_database
from lifecycle import ThreadLeases, ensure_schema


def test_one_holder_at_a_time_and_dead_or_expired_holders_lose_it(db_path) -> None:
    db = open_database(f"sqlite:///{db_path}")
    try:
        ensure_schema(db)
        leases = ThreadLeases(db, lease_s=60)
        owner = leases.acquire("t")
        assert owner and leases.acquire("t") is None  # held by this (live) process
        leases.release("t", owner)
        assert leases.acquire("t")
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        db.execute("UPDATE thread_leases SET pid = ?, proc = NULL", (int(dead.stdout),))
        assert leases.acquire("t")  # its holder is gone
        db.execute("UPDATE thread_leases SET host = 'elsewhere', expires_at = 1e12")
        assert leases.acquire("t") is None  # another host, not expired
        db.execute("UPDATE thread_leases SET expires_at = 0")
        assert leases.acquire("t")  # another host, expired
    finally:
        db.close()


def test_an_earlier_process_with_our_pid_is_not_us() -> None:
    import os

    from lifecycle import _process

    me = _process.current()
    assert _process.is_alive(me.host, me.pid, me.proc) is True
    assert _process.is_alive(me.host, os.getpid(), "12345") is False  # same pid, other start time
    assert _process.is_alive("another-host", me.pid, me.proc) is None
