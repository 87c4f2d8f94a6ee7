"""Run every benchmark: stock LangGraph SqliteSaver and stateline, same machine, same run.

    python -m bench            # full: 1000-turn conversation (a few minutes)
    python -m bench --quick    # 200 turns, fewer concurrent turns (well under a minute)

Prints the table and writes bench/RESULTS.md. Timings are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
from importlib.metadata import version
from pathlib import Path

from bench import concurrency, conversation, history, raw, resume, startup, storefront_turn, workers
from bench._table import Row, render

DURABLE_COMMITS_PER_TURN = 5
"""Checkpoints per turn of the bench graph (input + 3 nodes + START): each is one fsync."""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{os.cpu_count()} cores (nproc), {cpu}; Python {platform.python_version()}; "
        f"langgraph {version('langgraph')}, langgraph-checkpoint-sqlite {version('langgraph-checkpoint-sqlite')}; "
        f"SQLite {__import__('sqlite3').sqlite_version}; {platform.system()} {platform.release()}"
    )


def run(folder: Path, quick: bool) -> list[Row]:
    turns = 200 if quick else 1000
    rows: list[Row] = []
    backends, times = {}, {}
    for kind in ("stock", "ours"):
        print(f"[bench] {kind}: {turns} turns ...", flush=True)
        backends[kind], times[kind] = conversation.run_turns(kind, folder, turns)
    rows += conversation.rows(times, turns)
    growth_at = len(rows)
    size = {k: conversation.settled_bytes(b) for k, b in backends.items()}
    rows += conversation.disk_rows(size["stock"], size["ours"], turns)

    n_items = backends["ours"].checkpoints(conversation.THREAD)
    print(f"[bench] streaming {n_items} checkpoints ...", flush=True)
    hist = {k: history.measure(b, budget_s=6 if quick else 12, total_items=n_items) for k, b in backends.items()}
    rows += history.rows(hist["stock"], hist["ours"], n_items)

    print("[bench] resume after restart ...", flush=True)
    res: dict[str, dict[tuple[str, bool], tuple[float, int]]] = {}
    for kind, backend in backends.items():
        resume.short_thread(backend)
        res[kind] = {(t, r): resume.measure(backend, t, restart=r) for t, r in resume.CASES}
    rows += resume.rows(res)
    print("[bench] turn 10 and the long thread's next turn, alternating ...", flush=True)
    alternating = {k: conversation.interleaved(b) for k, b in backends.items()}
    rows.insert(growth_at, conversation.interleaved_row(alternating, turns))
    rows.append(conversation.retention_row(backends["ours"], size["stock"], turns))
    for backend in backends.values():
        backend.close()

    conc: dict[int, dict[str, tuple[float, int]]] = {}
    for workers in (1, 8, 32):
        print(f"[bench] {workers} concurrent conversations ...", flush=True)
        each = (3 if quick else 10) if workers == 32 else (5 if quick else 20)
        kinds = ("stock", "ours", "memory") if workers == 32 else ("stock", "ours")
        conc[workers] = {k: concurrency.run(k, folder, workers, each) for k in kinds}
    rows += concurrency.rows(conc)

    print("[bench] full storefront turn vs the plain 3-node graph ...", flush=True)
    rows.append(storefront_row(folder, 60 if quick else 200))
    rows += workers_rows(40 if quick else 120)

    print("[bench] `stateline --help` start-up ...", flush=True)
    rows += startup.rows(startup.measure(5 if quick else 15))

    payload = max(64, size["ours"] // max(1, n_items))
    rate = raw.commits_per_second(folder, payload, 300 if quick else 2000)
    ours_rate = len(times["ours"]) / sum(times["ours"])
    rows += raw.rows(rate, payload, ours_rate, DURABLE_COMMITS_PER_TURN)
    return rows


def storefront_row(folder: Path, turns: int) -> Row:
    stock, ours = storefront_turn.measure(turns, folder)
    s, o = statistics.median(stock) * 1000, statistics.median(ours) * 1000
    return Row("full storefront turn (stateline) vs plain 3-node graph (stock)", s, o, "ms",
               "faster than plain", o < s, higher_is_better=False,
               note=f"medians of {turns} interleaved turns; stateline: supervisor + agent + tracking + ledger")  # fmt: skip


def workers_rows(turns: int) -> list[Row]:
    admin = os.environ.get("STATELINE_BENCH_PG_URL") or os.environ.get("STATELINE_TEST_PG_URL")
    if not admin:
        return [Row("1/2/4 workers on PostgreSQL", None, None, "turns/s",
                    note="skipped: set STATELINE_TEST_PG_URL to a PostgreSQL where the bench may CREATE SCHEMA")]  # fmt: skip
    out = []
    for n in (1, 2, 4):
        print(f"[bench] {n} workers on PostgreSQL ...", flush=True)
        ours, failed = workers.stateline_workers(admin, n, turns)
        plain = workers.plain_processes(admin, n, turns)
        out.append(Row(f"{n} worker processes on PostgreSQL: turns/s", plain, ours, "turns/s",
                       note=f"stateline: storefront turns via `stateline worker` ({failed} failed); "
                            "stock: plain 3-node graph on PostgresSaver; steady rate, start-up excluded"))  # fmt: skip
    return out


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def results_md(table: str, quick: bool, loads: tuple[str, str]) -> str:
    mode = "quick (200 turns)" if quick else "full (1000 turns)"
    return f"""# stateline storage benchmark

Machine: {machine()}

Machine load (other work shares these {os.cpu_count()} cores): at start {loads[0]}; at end {loads[1]}.

Mode: {mode}. Command: `python -m bench{' --quick' if quick else ''}` (`make bench`).
Graph: 3 nodes (route -> reply -> count) with `add_messages`, one 200-character
human and one AI message per turn, `durability="sync"`, one SQLite file on local disk.
"stock LangGraph" is `langgraph.checkpoint.sqlite.SqliteSaver` on a plain
`sqlite3.connect`, measured in the same run. "better by" is stock/stateline for
times and sizes, stateline/stock for rates. Disk bytes are counted after a WAL
checkpoint (main file + WAL). Resume latency is measured on a freshly opened
saver (as a restarted process) and on the running one (a node raised in the same
process), median of 3 each. The storefront row is `bench.storefront_turn`: a full
`App.send` turn of the storefront example (supervisor, agent subgraph, lifecycle
tracking, effect ledger) interleaved with turns of the plain 3-node graph on stock
`SqliteSaver`, both on SQLite files. The worker rows (`bench.workers`) run only with
`STATELINE_TEST_PG_URL` set. Other work may share this machine: compare ratios
within one run, not absolute figures across runs.

{table}
"""


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 turns and fewer concurrent turns")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    args = parser.parse_args()
    start_load = load()
    with tempfile.TemporaryDirectory(prefix="stateline-bench-") as tmp:
        rows = run(Path(tmp), args.quick)
    table = render(rows)
    loads = (start_load, load())
    print()
    print(machine())
    print(f"{loads[0]} at start, {loads[1]} at end")
    print(table)
    Path(args.out).write_text(results_md(table, args.quick, loads))
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
