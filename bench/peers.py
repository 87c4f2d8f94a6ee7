"""stateline's ``App`` beside the frameworks a user would pick instead, on the same conversation.

    python -m bench.peers            # full: 1000-turn conversation (budgeted per system)
    python -m bench.peers --quick    # 200 turns, fewer rounds

The conversation (``bench._form``): an order form of 3 fields collected over 3 turns,
then the order is placed; no model (each peer gets a deterministic stand-in). Every
system runs durably on its own SQLite file, each measurement in a fresh process of its
own (``bench._peer_child``), the systems interleaved round by round so machine load
falls on all alike; the 1-minute load average is recorded beside every figure.
fsyncs are counted by running a child under ``strace -f`` (fsync, fdatasync, syncfs,
sync_file_range, msync, all threads: SQLite's C code included), with ``getppid()``
markers between turns; "written" is ``/proc/self/io`` wchar per turn (bytes passed to
write syscalls). Needs the ``bench`` extra (``pip install -e '.[bench]'``); a peer
that is not installed is reported as skipped. Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from bench._systems import SYSTEMS

WINDOW = 50
"""ms/turn "near turn n" is the median of the ``WINDOW`` turns ending at n."""
_NEEDS = {"stateline": "stateline", "langgraph": "langgraph", "openai": "agents", "burr": "burr", "adk": "google.adk"}
_SYNCS = "fsync,fdatasync,syncfs,sync_file_range,msync"


def load() -> float:
    return os.getloadavg()[0]


def available() -> list[str]:
    return [s for s in SYSTEMS if find_spec(_NEEDS[s].split(".")[0]) is not None and _has(_NEEDS[s])]


def _has(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def child(system: str, mode: str, db: Path, a: int, b: int, *, strace_to: Path | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh process; its JSON result plus the wall time and load."""
    cmd = [sys.executable, "-m", "bench._peer_child", system, mode, str(db), str(a), str(b)]
    if strace_to is not None:
        cmd = ["strace", "-f", "-qq", "-e", f"trace={_SYNCS},getppid", "-o", str(strace_to), *cmd]
    before, start = load(), time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{system} {mode} failed: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out.update(wall_s=wall, load=(before + load()) / 2)
    return out


def disk_bytes(db: Path) -> int:
    """Bytes of the file and its WAL/journal once the WAL is checkpointed into the file."""
    if db.exists():
        conn = sqlite3.connect(str(db))
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.close()
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


def fsyncs_per_turn(trace: Path) -> list[int]:
    """Sync calls between each pair of ``getppid()`` markers of an strace log."""
    counts, inside, n = [], False, 0
    for line in trace.read_text().splitlines():
        if re.search(r"\bgetppid\(", line):
            if inside:
                counts.append(n)
            inside, n = not inside, 0
        elif inside and re.search(rf"\b({_SYNCS.replace(',', '|')})\(", line):
            n += 1
    return counts


@dataclass
class Figures:
    """What one system measured; lists hold one entry per round."""

    short_rate: list[float] = field(default_factory=list)
    short_load: list[float] = field(default_factory=list)
    long_times: list[float] = field(default_factory=list)
    long_load: list[float] = field(default_factory=list)
    long_elapsed: float = 0.0
    peak_rss_kb: int = 0
    disk: int = 0
    reload_s: list[float] = field(default_factory=list)
    reload_wall_s: list[float] = field(default_factory=list)
    imports_s: list[float] = field(default_factory=list)
    reload_load: list[float] = field(default_factory=list)
    fsyncs: list[int] = field(default_factory=list)
    wrote: list[int] = field(default_factory=list)
    concurrent: list[tuple[float, int]] = field(default_factory=list)


def rotated(items: list[str], r: int) -> list[str]:
    return items[r % len(items) :] + items[: r % len(items)]


def run_short(systems: list[str], folder: Path, figs: dict[str, Figures], rounds: int, convs: int) -> None:
    for r in range(rounds):
        for s in rotated(systems, r):
            print(f"[peers] {s}: {convs} conversations of 10 turns (round {r + 1})", flush=True)
            db = folder / f"{s}-short-{r}.db"
            out = child(s, "short", db, convs, 10)
            figs[s].short_rate.append(len(out["times"]) / sum(out["times"]))
            figs[s].short_load.append(out["load"])


def run_long(systems: list[str], folder: Path, figs: dict[str, Figures], turns: int, chunk: int, budget: float) -> None:
    """Chunks of one conversation per system, each chunk a fresh process, systems alternating."""
    active, r = list(systems), 0
    while active:
        for s in rotated(active, r):
            done = len(figs[s].long_times)
            n = min(chunk, turns - done)
            print(f"[peers] {s}: turns {done + 1}..{done + n} of one conversation", flush=True)
            out = child(s, "long", folder / f"{s}-long.db", done, n)
            figs[s].long_times += out["times"]
            figs[s].long_load.append(out["load"])
            figs[s].long_elapsed += sum(out["times"])
            figs[s].peak_rss_kb = max(figs[s].peak_rss_kb, out["peak_rss_kb"])
            if len(figs[s].long_times) >= turns or figs[s].long_elapsed > budget:
                active.remove(s)
        r += 1
    for s in systems:
        figs[s].disk = disk_bytes(folder / f"{s}-long.db")


def run_reload(systems: list[str], folder: Path, figs: dict[str, Figures], rounds: int) -> None:
    """A fresh process opens the long conversation and runs its next turn (copies: the file stays as it was)."""
    for r in range(rounds):
        for s in rotated(systems, r):
            src = folder / f"{s}-long.db"
            db = folder / f"{s}-reload.db"
            for p in folder.glob(f"{s}-reload.db*"):
                p.unlink()
            shutil.copyfile(src, db)
            out = child(s, "long", db, len(figs[s].long_times), 1)
            figs[s].reload_s.append(out["reload_s"])
            figs[s].reload_wall_s.append(out["wall_s"])
            figs[s].imports_s.append(out["imports_s"])
            figs[s].reload_load.append(out["load"])


def count_fsyncs(system: str, folder: Path, turns: int) -> tuple[list[int], list[int]] | None:
    """(sync calls, bytes written) of each of ``turns`` turns of a fresh conversation; None without strace."""
    if shutil.which("strace") is None:
        return None
    trace = folder / f"{system}.strace"
    out = child(system, "marked", folder / f"{system}-fsync.db", 0, turns, strace_to=trace)
    return fsyncs_per_turn(trace), out["wrote"]


def run_fsyncs(systems: list[str], folder: Path, figs: dict[str, Figures], turns: int) -> bool:
    if shutil.which("strace") is None:
        print("[peers] strace not found (apt-get install strace): fsyncs not counted", flush=True)
        return False
    for s in systems:
        print(f"[peers] {s}: counting fsyncs of {turns} turns under strace", flush=True)
        counted = count_fsyncs(s, folder, turns)
        assert counted is not None
        figs[s].fsyncs, figs[s].wrote = counted
    return True


def run_concurrent(
    systems: list[str], folder: Path, figs: dict[str, Figures], workers: int, turns: int, rounds: int
) -> None:
    for r in range(rounds):
        for s in rotated(systems, r):
            print(f"[peers] {s}: {workers} concurrent conversations x {turns} turns (round {r + 1})", flush=True)
            out = child(s, "concurrent", folder / f"{s}-conc-{r}.db", workers, turns)
            figs[s].concurrent.append((out["rate"], out["errors"]))


def near(times: list[float], n: int) -> float:
    return statistics.median(times[max(0, n - WINDOW) : n]) * 1000


def measure(quick: bool, folder: Path) -> tuple[dict[str, Figures], dict[str, Any]]:
    systems = available()
    figs = {s: Figures() for s in systems}
    p: dict[str, Any] = {
        "turns": 200 if quick else 1000, "chunk": 100 if quick else 200, "budget": 20.0 if quick else 150.0,
        "rounds": 2 if quick else 3, "convs": 3 if quick else 5, "workers": 32, "conc_turns": 3 if quick else 6,
        "fsync_turns": 12, "skipped": [s for s in SYSTEMS if s not in systems], "uptime_start": _uptime(),
    }  # fmt: skip
    run_short(systems, folder, figs, p["rounds"], p["convs"])
    run_long(systems, folder, figs, p["turns"], p["chunk"], p["budget"])
    run_reload(systems, folder, figs, p["rounds"])
    p["strace"] = run_fsyncs(systems, folder, figs, p["fsync_turns"])
    conc: list[str] = [s for s in ("stateline", "langgraph") if s in systems]
    run_concurrent(conc, folder, figs, p["workers"], p["conc_turns"], 2)
    p["uptime_end"] = _uptime()
    return figs, p


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return f"load average {load():.2f}"


if __name__ == "__main__":
    from bench._peer_report import report

    parser = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=None, help="also write the Markdown report here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stateline-peers-") as tmp:
        figures, params = measure(args.quick, Path(tmp))
    text = report(figures, params)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
        raw = {s: asdict(f) for s, f in figures.items()}
        Path(args.out).with_suffix(".json").write_text(json.dumps({"params": params, "figures": raw}))
