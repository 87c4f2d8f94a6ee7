"""Tracking overhead per turn: the storefront graph with tracking (run rows, step events,
lifecycle gate, effect ledger) against the same graph with ``tracking=False``, in one run.

    python -m bench.tracking_overhead [--conversations 30]

Both run the same 8-turn storefront conversation on SQLite files (WAL, synchronous=FULL,
durability="sync"), interleaved so drift in the machine affects both sides alike.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from bench._harness import interleaved
from stateline.checkpointing import open_database
from stateline.examples.storefront import create_agents
from stateline._app import App
from tests.lifecycle.crashkit import SCRIPT


def _conversation(app: App, thread: str) -> list[float]:
    times = []
    for text in SCRIPT:
        start = time.perf_counter()
        app.send(thread, text)
        times.append(time.perf_counter() - start)
    return times


def _app(path: Path, tracking: bool) -> App:
    db = open_database(f"sqlite:///{path}")
    app = App(create_agents(db), db=db, tracking=tracking)
    app._owns_db = True
    return app


def measure(conversations: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory(prefix="overhead-") as tmp:
        apps = {"tracking": _app(Path(tmp) / "on.db", True), "plain": _app(Path(tmp) / "off.db", False)}
        return interleaved(apps, conversations, _conversation)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="tracking overhead per turn")
    parser.add_argument("--conversations", type=int, default=30)
    args = parser.parse_args(argv)
    samples = measure(args.conversations)
    on, off = (statistics.median(samples[k]) * 1000 for k in ("tracking", "plain"))
    mean_on, mean_off = (statistics.fmean(samples[k]) * 1000 for k in ("tracking", "plain"))
    print(f"tracking overhead per turn ({len(samples['plain'])} turns per side, storefront, SQLite file):")
    print(
        f"  median: {off:.2f} ms without tracking, {on:.2f} ms with -> +{on - off:.2f} ms "
        f"({(on / off - 1) * 100:+.0f}%)"
    )
    print(
        f"  mean:   {mean_off:.2f} ms without tracking, {mean_on:.2f} ms with -> +{mean_on - mean_off:.2f} ms "
        f"({(mean_on / mean_off - 1) * 100:+.0f}%)"
    )


if __name__ == "__main__":
    main()
