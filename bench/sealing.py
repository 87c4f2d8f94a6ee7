"""What issue 11's protections cost, measured in one run (never asserted anywhere).

    python -m bench.sealing [--conversations 10]

- sealing: the storefront conversation on SQLite with ``STATELINE_AES_KEY`` against the same
  without a key (interleaved, so drift affects both alike): every user-content column sealed;
- the WAL check every SQLite open does (ms per MB of live WAL);
- ``stateline backup`` (the online backup API) of the database the conversations wrote.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from bench._harness import interleaved
from bench.tracking_overhead import _conversation
from stateline._app import App
from stateline.checkpointing import backup_database, open_database
from stateline.checkpointing._walcheck import check_wal
from stateline.examples.storefront import create_agents


def _app(path: Path, key: str | None) -> App:
    db = open_database(f"sqlite:///{path}", key=key or False)
    app = App(create_agents(db), db=db)
    app._owns_db = True
    return app


def sealing(folder: Path, conversations: int) -> dict[str, list[float]]:
    key = secrets.token_hex(32)
    apps = {"sealed": _app(folder / "sealed.db", key), "plain": _app(folder / "plain.db", None)}
    return interleaved(apps, conversations, _conversation)


def wal_check_ms_per_mb(folder: Path, pages: int = 2000) -> tuple[float, float]:
    path = folder / "wal.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE t(x)")
    for _ in range(pages):
        conn.execute("INSERT INTO t VALUES (?)", (os.urandom(3500),))
        conn.commit()
    size = Path(f"{path}-wal").stat().st_size / 1e6
    start = time.perf_counter()
    check_wal(path)
    took = (time.perf_counter() - start) * 1000
    conn.close()
    return size, took / size


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="cost of sealing, the WAL check and backups")
    parser.add_argument("--conversations", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="sealing-") as tmp:
        folder = Path(tmp)
        samples = sealing(folder, args.conversations)
        med = {k: statistics.median(v) * 1000 for k, v in samples.items()}
        print(f"turn, median of {len(samples['plain'])}: plain {med['plain']:.2f} ms, sealed {med['sealed']:.2f} ms "
              f"(ratio {med['sealed'] / med['plain']:.3f})")
        size, per_mb = wal_check_ms_per_mb(folder)
        print(f"WAL check: {per_mb:.1f} ms per MB ({size:.1f} MB WAL)")
        start = time.perf_counter()
        report = backup_database(f"sqlite:///{folder / 'sealed.db'}", folder / "backup.db")
        took = time.perf_counter() - start
        print(f"backup: {report.bytes / 1e6:.1f} MB in {took * 1000:.0f} ms (check + online backup API)")


if __name__ == "__main__":
    main()
