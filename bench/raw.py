"""The physical limit: plain sqlite3, one durable commit (WAL, synchronous=FULL) per insert."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

from bench._table import Row


def commits_per_second(folder: Path, payload_bytes: int, commits: int) -> float:
    path = folder / "raw.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v BLOB)")
    payload = os.urandom(payload_bytes)
    start = time.perf_counter()
    for _ in range(commits):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO t (v) VALUES (?)", (payload,))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return commits / elapsed


def rows(rate: float, payload_bytes: int, ours_turns_per_s: float, durable_commits_per_turn: int) -> list[Row]:
    limit = rate / durable_commits_per_turn
    return [
        Row(f"raw sqlite3 durable commits/s ({payload_bytes} B each)", None, rate, "commits/s",
            note=f"= {limit:,.0f} turns/s at {durable_commits_per_turn} durable commits/turn; "
            f"stateline reaches {ours_turns_per_s / limit:.0%} of it"),
    ]  # fmt: skip
