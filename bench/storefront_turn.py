"""A full storefront turn (supervisor, agent subgraph, tracking, effect ledger) on stateline,
beside the plain 3-node LangGraph graph on the default SqliteSaver, in one run.

    python -m bench.storefront_turn [--turns 200]

Both run ``durability="sync"`` on a SQLite file, interleaved in rounds so machine load
falls on both alike. The storefront turn does more work (route, collect, validate, act,
run row, step events); the target is that it is still faster than the plain graph on
stock storage. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from langgraph.checkpoint.sqlite import SqliteSaver
from stateline.examples.storefront import create_agents

from bench._graph import build, turn
from stateline import App

QUESTIONS = ("what is the total revenue for toys?", "how many units were sold in books?", "best seller in kitchen?")


THREAD_TURNS = 10
"""Both sides run threads of this many turns: the two thread lengths are always equal."""


def measure(turns: int, folder: Path) -> tuple[list[float], list[float]]:
    """Seconds per turn of each side: ``turns`` turns as threads of ``THREAD_TURNS`` turns each,
    a plain turn and a storefront turn in alternation (the order swapping every turn)."""
    conn = sqlite3.connect(str(folder / "plain.db"), check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    plain = build(saver)
    app = App(db=f"sqlite:///{folder / 'stateline.db'}")
    for agent in create_agents(app.database):
        app.register(agent)
    sides = {"stock": lambda i: turn(plain, f"plain-{i // THREAD_TURNS}"),
             "ours": lambda i: app.send(f"shop-{i // THREAD_TURNS}", QUESTIONS[i % len(QUESTIONS)])}  # fmt: skip
    times: dict[str, list[float]] = {"stock": [], "ours": []}
    try:
        for i in range(turns):
            for side in ("stock", "ours") if i % 2 == 0 else ("ours", "stock"):
                start = time.perf_counter()
                sides[side](i)
                times[side].append(time.perf_counter() - start)
    finally:
        app.close()
        conn.close()
    return times["stock"], times["ours"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        stock, ours = measure(args.turns, Path(folder))
    s, o = statistics.median(stock) * 1000, statistics.median(ours) * 1000
    print("| what | median ms/turn | turns/s |")
    print("|---|---|---|")
    print(f"| plain 3-node graph, stock SqliteSaver | {s:.2f} | {1000 / s:.1f} |")
    print(f"| full storefront turn on stateline (supervisor + agent + tracking) | {o:.2f} | {1000 / o:.1f} |")
    print(f"| ratio (plain / storefront: above 1 means the full turn is faster) | {s / o:.2f}x | |")


if __name__ == "__main__":
    main()
