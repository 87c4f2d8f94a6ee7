"""Loops several benchmarks share: two apps interleaved conversation by conversation, and a
set of worker threads started together and timed until the last one ends."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


def interleaved(
    apps: dict[str, Any], conversations: int, converse: Callable[[Any, str], list[float]]
) -> dict[str, list[float]]:
    """Per side, the turn times of ``conversations`` conversations (``converse(app, thread)``),
    the sides alternating which goes first so machine load falls on both alike; one warm-up
    conversation each (compiled graphs, created tables) is not counted. Closes the apps."""
    samples: dict[str, list[float]] = {side: [] for side in apps}
    try:
        for app in apps.values():
            converse(app, "warmup")
        for i in range(conversations):
            for side, app in (apps.items() if i % 2 == 0 else reversed(list(apps.items()))):
                samples[side].extend(converse(app, f"c{i}"))
    finally:
        for app in apps.values():
            app.close()
    return samples


def timed_threads(work: Callable[[int], None], workers: int) -> float:
    """Seconds from starting ``workers`` threads running ``work(i)`` until the last one ends."""
    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start
