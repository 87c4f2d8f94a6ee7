"""Stream a long thread's full history: time to first item, total time, peak memory.

Run on a freshly opened saver (cold caches), as a `threads history` command would.
Stock LangGraph deserialises the whole message list for every checkpoint, so its
stream is cut off after a time budget and its total is extrapolated (marked "~").
"""

from __future__ import annotations

import time
import tracemalloc
from typing import Any

from bench._graph import Backend
from bench._table import Row

THREAD = "long"


def _stream(saver: Any, budget_s: float) -> tuple[float, float, int, bool]:
    """(seconds to first item, seconds total, items, finished within the budget)."""
    start = time.perf_counter()
    first = None
    items = 0
    for _ in saver.list({"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}):
        items += 1
        now = time.perf_counter()
        first = first if first is not None else now - start
        if now - start > budget_s:
            return first, now - start, items, False
    return first or 0.0, time.perf_counter() - start, items, True


def _peak_mb(saver: Any, budget_s: float) -> float:
    tracemalloc.start()
    try:
        _stream(saver, budget_s)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def measure(backend: Backend, budget_s: float, total_items: int) -> dict[str, Any]:
    cold = backend.reopen()
    first, total, items, done = _stream(cold.saver, budget_s)
    cold.close()
    cold = backend.reopen()
    peak = _peak_mb(cold.saver, budget_s / 2)
    cold.close()
    estimated = total if done else total / items * total_items
    return {"first_ms": first * 1000, "total_s": estimated, "done": done, "items": items, "peak_mb": peak}


def rows(stock: dict[str, Any], ours: dict[str, Any], n_items: int) -> list[Row]:
    cut = "" if stock["done"] else f"stock: ~ extrapolated from {stock['items']} items"
    return [
        Row(f"history stream ({n_items} checkpoints): first item", stock["first_ms"], ours["first_ms"], "ms",
            "<= 50 ms", ours["first_ms"] <= 50, higher_is_better=False),
        Row("history stream: total", stock["total_s"], ours["total_s"], "s", higher_is_better=False, note=cut),
        Row("history stream: peak traced memory", stock["peak_mb"], ours["peak_mb"], "MB",
            "< 100 MB", ours["peak_mb"] < 100, higher_is_better=False,
            note="" if stock["done"] else "stock: peak within its time budget"),
    ]  # fmt: skip
