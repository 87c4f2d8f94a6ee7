"""One system of the peer benchmark in its own process: ``python -m bench._peer_child SYSTEM MODE ...``.

Prints one JSON line. Modes:

- ``short DB CONVERSATIONS TURNS``: that many fresh conversations of ``TURNS`` turns; seconds per turn.
- ``long DB START N``: turns ``START`` .. ``START+N`` of the conversation "long" (reloaded if stored);
  seconds per turn, the reload (open + first turn) and peak RSS.
- ``marked DB START N``: like ``long`` but calls ``getppid()`` before and after each turn, so an
  strace of this process can count the fsyncs of each turn (``bench.peers`` runs it under strace).
- ``concurrent DB WORKERS TURNS``: ``WORKERS`` threads, one conversation each, on one opened system.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

from bench._harness import timed_threads
from bench import _form
from bench._systems import open_system, preload


def _wchar() -> int:
    """Bytes this process handed to write syscalls so far (``/proc/self/io``), -1 where unavailable."""
    try:
        with open("/proc/self/io") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("wchar:"))
    except (OSError, StopIteration):
        return -1


def _peak_rss_kb() -> int:
    """This process's peak RSS: ``VmHWM`` (ru_maxrss on Linux keeps the forking parent's peak across exec)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def short(system: str, db: Path, conversations: int, turns: int) -> dict[str, Any]:
    opened = open_system(system, db, "c0")
    times = []
    for c in range(conversations):
        for i in range(turns):
            start = time.perf_counter()
            opened.turn(_form.message(i), f"c{c}")
            times.append(time.perf_counter() - start)
    opened.close()
    return {"times": times}


def long(system: str, db: Path, first: int, n: int, *, marked: bool = False) -> dict[str, Any]:
    start = time.perf_counter()
    opened = open_system(system, db, "long")
    opened_s = time.perf_counter() - start
    times, wrote = [], []
    for i in range(first, first + n):
        if marked:
            os.getppid()  # strace marker: a turn starts
        before, start = _wchar(), time.perf_counter()
        opened.turn(_form.message(i))
        times.append(time.perf_counter() - start)
        wrote.append(_wchar() - before)
        if marked:
            os.getppid()  # strace marker: the turn ended
    opened.close()
    peak_kb = _peak_rss_kb()
    return {"times": times, "open_s": opened_s, "reload_s": opened_s + times[0], "peak_rss_kb": peak_kb,
            "wrote": wrote}  # fmt: skip


def concurrent(system: str, db: Path, workers: int, turns: int) -> dict[str, Any]:
    opened = open_system(system, db, "w0")
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()

    def work(w: int) -> None:
        for i in range(turns):
            try:
                opened.turn(_form.message(i), f"w{w}")
                with lock:
                    done[0] += 1
            except Exception as exc:  # noqa: BLE001 - counted, reported
                with lock:
                    errors.append(repr(exc)[:200])

    elapsed = timed_threads(work, workers)
    opened.close()
    return {"rate": done[0] / elapsed, "errors": len(errors), "first_error": errors[0] if errors else None}


def main(argv: list[str]) -> None:
    logging.disable(logging.WARNING)  # ADK warns about token usage on every call
    system, mode, db, a, b = argv[0], argv[1], Path(argv[2]), int(argv[3]), int(argv[4])
    imports_s = preload(system)
    if mode == "short":
        out = short(system, db, a, b)
    elif mode in ("long", "marked"):
        out = long(system, db, a, b, marked=mode == "marked")
    elif mode == "concurrent":
        out = concurrent(system, db, a, b)
    else:
        raise SystemExit(f"unknown mode {mode!r}: short, long, marked or concurrent")
    out["imports_s"] = imports_s
    sys.stdout.write("\n" + json.dumps(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
