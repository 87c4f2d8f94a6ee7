"""Many conversations at once on one SQLite file: each worker thread opens its own connections."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from bench._harness import timed_threads
from bench._graph import Backend, build, turn
from bench._table import Row


class _InMemory:
    """LangGraph's ``InMemorySaver``: no disk at all, the ceiling any saver works under."""

    def __init__(self) -> None:
        self.graph = build(InMemorySaver())

    def reopen(self) -> _InMemory:
        return _InMemory()

    def close(self) -> None:
        pass


def run(kind: str, folder: Path, workers: int, turns_each: int, tag: int = 0) -> tuple[float, int]:
    """(turns/s over all workers, errors) for ``workers`` conversations of ``turns_each`` turns.

    ``kind`` is "stock", "ours" or "memory" (the in-memory reference).
    """
    setup: Any = _InMemory() if kind == "memory" else Backend(kind, folder / f"{kind}-concurrent-{workers}-{tag}.db")
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            mine = setup.reopen()
        except Exception as exc:  # noqa: BLE001 - counted, not fatal
            with lock:
                errors.append(repr(exc))
            return
        try:
            for _ in range(turns_each):
                try:
                    turn(mine.graph, f"w{i}")
                    with lock:
                        done[0] += 1
                except Exception as exc:  # noqa: BLE001 - counted, not fatal
                    with lock:
                        errors.append(repr(exc))
        finally:
            mine.close()

    elapsed = timed_threads(worker, workers)
    setup.close()
    return done[0] / elapsed, len(errors)


def alternating(kinds: tuple[str, ...], folder: Path, workers: int, turns_each: int) -> dict[str, tuple[float, int]]:
    """Each kind twice, in the order given and then reversed (each on a new file): the mean
    rate and the errors of both, so machine load falls on every kind alike."""
    runs: dict[str, list[tuple[float, int]]] = {k: [] for k in kinds}
    for order in (kinds, kinds[::-1]):
        for kind in order:
            runs[kind].append(run(kind, folder, workers, turns_each, tag=len(runs[kind])))
    return {k: (sum(r for r, _ in v) / len(v), sum(e for _, e in v)) for k, v in runs.items()}


def rows(results: dict[int, dict[str, tuple[float, int]]], turns_each: dict[int, int]) -> list[Row]:
    out = []
    for workers, by_kind in results.items():
        (s_rate, s_err), (o_rate, o_err) = by_kind["stock"], by_kind["ours"]
        target = workers == 32
        met = (o_err == 0 and o_rate >= 4 * s_rate) if target else None
        out.append(
            Row(f"{workers} concurrent conversations ({turns_each[workers]} turns each): turns/s",
                s_rate, o_rate, "turns/s",
                "0 errors, >= 4x stock" if target else "", met,
                note=f"errors: stock {s_err}, stateline {o_err}")
        )  # fmt: skip
        if "memory" in by_kind:
            m_rate = by_kind["memory"][0]
            out.append(
                Row(f"{workers} concurrent conversations, in-memory reference", s_rate, m_rate, "turns/s",
                    note="LangGraph's InMemorySaver, no disk at all, in the stateline column: "
                         "the most any saver could reach on this graph and machine")
            )  # fmt: skip
    return out
