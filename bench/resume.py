"""After a failed run, read the state and resume: get_state + invoke(None, cfg).

Two cases: in the same process (a node raised; the saver's caches are warm) and
after a restart (a fresh saver on the same file has to rebuild every value).
"""

from __future__ import annotations

import statistics
import time

from bench._graph import FAIL, Backend, turn
from bench._table import Row


def _fail_turn(backend: Backend, thread_id: str) -> None:
    FAIL["count"] = True
    try:
        turn(backend.graph, thread_id)
    except RuntimeError:
        pass
    finally:
        FAIL["count"] = False


def measure(backend: Backend, thread_id: str, *, restart: bool, reps: int = 3) -> tuple[float, int]:
    """Median ms of get_state + invoke(None); and the thread's checkpoint count."""
    cfg = {"configurable": {"thread_id": thread_id}}
    latencies = []
    for _ in range(reps):
        _fail_turn(backend, thread_id)
        target = backend.reopen() if restart else backend
        try:
            start = time.perf_counter()
            state = target.graph.get_state(cfg)
            assert state.next == ("count",), state.next
            target.graph.invoke(None, cfg, durability="sync")
            latencies.append(time.perf_counter() - start)
        finally:
            if restart:
                target.close()
    return statistics.median(latencies) * 1000, backend.checkpoints(thread_id)


def short_thread(backend: Backend) -> None:
    turn(backend.graph, "short")


CASES = [("short", False), ("long", False), ("long", True)]


def rows(results: dict[str, dict[tuple[str, bool], tuple[float, int]]]) -> list[Row]:
    out = []
    for case in CASES:
        (stock_ms, stock_n), (ours_ms, ours_n) = results["stock"][case], results["ours"][case]
        big = case[0] == "long"
        where = "after restart" if case[1] else "same process"
        out.append(
            Row(f"get_state+resume, {where}, {ours_n} checkpoints", stock_ms, ours_ms, "ms",
                "<= 25 ms" if big else "", (ours_ms <= 25) if big else None, higher_is_better=False,
                note=f"stock thread has {stock_n}" if stock_n != ours_n else "")
        )  # fmt: skip
    return out
