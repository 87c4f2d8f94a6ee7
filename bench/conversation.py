"""One long conversation, durability="sync": turns/s, time per turn as it grows, disk bytes."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from stateline.checkpointing import prune, vacuum

from bench._graph import Backend, turn
from bench._table import Row

THREAD = "long"


def run_both(folder: Path, turns: int) -> tuple[dict[str, Backend], dict[str, list[float]]]:
    """``turns`` turns of one conversation on each saver, interleaved turn by turn (the order
    alternating), so machine load falls on both alike; the backends and each turn's seconds."""
    kinds = ("stock", "ours")
    backends = {k: Backend(k, folder / f"{k}-long.db") for k in kinds}
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(turns):
        for kind in kinds if i % 2 == 0 else kinds[::-1]:
            start = time.perf_counter()
            turn(backends[kind].graph, THREAD)
            times[kind].append(time.perf_counter() - start)
    return backends, times


WINDOW = 50
"""Turns whose median stands for "turn n": one turn alone, or ten, swing with machine noise
(a 10-turn window once read 10.4 ms at turn 1000 where 50 turns read 5.7 ms)."""


def turn_ms_at(times: list[float], n: int) -> float:
    """Median of the ``WINDOW`` turns ending at turn ``n`` (all of them before that)."""
    window = times[max(0, n - WINDOW) : n]
    return statistics.median(window) * 1000


def settled_bytes(backend: Backend) -> int:
    """File bytes once the WAL is checkpointed into the main file (same for both savers)."""
    conn = backend.saver.conn
    if backend.kind == "stock":
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        with backend.saver.lock:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    return backend.bytes()


def rows(times: dict[str, list[float]], turns: int) -> list[Row]:
    rate = {k: len(t) / sum(t) for k, t in times.items()}
    out = [
        Row(f"durable turns/s, one conversation of {turns} turns", rate["stock"], rate["ours"], "turns/s",
            ">= 4x stock", rate["ours"] >= 4 * rate["stock"]),
    ]  # fmt: skip
    for n in (10, 100, 1000):
        if n <= turns:
            out.append(
                Row(f"time per turn at turn {n}", turn_ms_at(times["stock"], n), turn_ms_at(times["ours"], n),
                    "ms", higher_is_better=False)
            )  # fmt: skip
    last = min(1000, turns)
    growth = turn_ms_at(times["ours"], last) / turn_ms_at(times["ours"], 10)
    stock_growth = turn_ms_at(times["stock"], last) / turn_ms_at(times["stock"], 10)
    out.append(
        Row(f"turn {last} / turn 10", stock_growth, growth, "x", "<= 1.5x", growth <= 1.5, higher_is_better=False)
    )
    return out


def interleaved(backend: Backend, rounds: int = 30) -> tuple[float, float]:
    """Median ms of a thread's 10th turn and of a turn of the long thread, taken in alternation.

    The sequential rows compare windows measured seconds apart; on a shared machine the
    load in between moves them more than the effect being measured. Alternating a 10th
    turn of a fresh thread with the next turn of the long one puts both under the same
    conditions.
    """
    short, long_ = [], []
    for r in range(rounds):
        for _ in range(9):
            turn(backend.graph, f"short-{r}")
        start = time.perf_counter()
        turn(backend.graph, f"short-{r}")
        short.append(time.perf_counter() - start)
        start = time.perf_counter()
        turn(backend.graph, THREAD)
        long_.append(time.perf_counter() - start)
    return statistics.median(short) * 1000, statistics.median(long_) * 1000


def interleaved_row(results: dict[str, tuple[float, float]], turns: int) -> Row:
    (s10, s_last), (o10, o_last) = results["stock"], results["ours"]
    growth = o_last / o10
    return Row(f"turn {turns}+ / turn 10, interleaved", s_last / s10, growth, "x", "<= 1.5x", growth <= 1.5,
               higher_is_better=False,
               note=f"medians of 30 alternating turns: stateline {o10:.1f} / {o_last:.1f} ms, "
                    f"stock {s10:.1f} / {s_last:.1f} ms")  # fmt: skip


def disk_rows(stock_bytes: int, ours_bytes: int, turns: int) -> list[Row]:
    return [
        Row(f"disk bytes, one {turns}-turn thread (no retention)", stock_bytes, ours_bytes, "B",
            "<= 2 MB", ours_bytes <= 2 * 1024 * 1024, higher_is_better=False),
    ]  # fmt: skip


def retention_row(ours: Backend, stock_bytes: int, turns: int, keep: int = 10) -> Row:
    """Bytes after ``prune(keep_last=keep)`` + incremental vacuum (stock cannot prune)."""
    assert ours.db is not None
    prune(ours.db, keep_last=keep)
    vacuum(ours.db)
    after = ours.bytes()
    return Row(f"disk bytes, {turns}-turn thread, prune(keep_last={keep})", stock_bytes, after, "B",
               "<= 2 MB", after <= 2 * 1024 * 1024, higher_is_better=False,
               note="stock has no prune: its figure is unpruned")  # fmt: skip
