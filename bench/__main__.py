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

from bench import (
    _peer_report,
    concurrency,
    conversation,
    history,
    peers,
    raw,
    resume,
    startup,
    storefront_turn,
    workers,
)
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


def fsyncs(folder: Path) -> dict[str, str]:
    """Sync calls per turn of the 3-node graph on each saver, counted under strace (bench.peers)."""
    from bench.peers import count_fsyncs

    out = {}
    for kind in ("stock", "ours"):
        counted = count_fsyncs(f"bare-{kind}", folder, 8)
        out[kind] = "not counted (no strace)" if counted is None else f"{statistics.median(counted[0]):g}"
    return out


def what(syncs: dict[str, str]) -> str:
    """What both sides of a storage row do (the thread length is in the row's metric)."""
    return (f"3-node graph, 5 checkpoints/turn; fsyncs/turn (strace): stock {syncs['stock']} (rollback journal, "
            f"task writes synced too), stateline {syncs['ours']} (WAL group commit, task writes not synced)")


def run(folder: Path, quick: bool) -> list[Row]:
    turns = 200 if quick else 1000
    rows: list[Row] = []
    print("[bench] counting fsyncs per turn under strace ...", flush=True)
    syncs = fsyncs(folder)
    print(f"[bench] stock and stateline: {turns} turns each, interleaved ...", flush=True)
    backends, times = conversation.run_both(folder, turns)
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
    each: dict[int, int] = {}
    for n in (1, 8, 32):
        print(f"[bench] {n} concurrent conversations ...", flush=True)
        each[n] = (3 if quick else 10) if n == 32 else (5 if quick else 20)
        kinds = ("stock", "ours", "memory") if n == 32 else ("stock", "ours")
        conc[n] = concurrency.alternating(kinds, folder, n, each[n])
    rows += concurrency.rows(conc, each)

    print("[bench] full storefront turn vs the plain 3-node graph ...", flush=True)
    rows.append(storefront_row(folder, 60 if quick else 200))
    rows += workers_rows(40 if quick else 120)
    note = what(syncs)
    for row in rows:  # the storage rows lacking a note of their own say what both sides did
        if not row.metric.startswith(("full storefront", "1/2/4 workers", "1 worker", "2 worker", "4 worker",
                                      "raw sqlite3")) and "in-memory" not in row.metric:
            row.note = f"{row.note}; {note}" if row.note else note

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
    return Row(f"full storefront turn (stateline) vs plain 3-node graph (stock), threads of "
               f"{storefront_turn.THREAD_TURNS} turns", s, o, "ms", "faster than plain", o < s, higher_is_better=False,
               note=f"medians of {turns} alternating turns, both sides on threads of {storefront_turn.THREAD_TURNS} "
                    "turns; stateline: App.send (supervisor + agent subgraph + run tracking + ledger, WAL group "
                    "commit); stock: 3-node graph on SqliteSaver (rollback journal, checkpoints and task writes "
                    "fsynced)")  # fmt: skip


def workers_rows(turns: int) -> list[Row]:
    admin = os.environ.get("STATELINE_BENCH_PG_URL") or os.environ.get("STATELINE_TEST_PG_URL")
    if not admin:
        return [Row("1/2/4 workers on PostgreSQL", None, None, "turns/s",
                    note="skipped: set STATELINE_TEST_PG_URL to a PostgreSQL "
                         "where the bench may CREATE SCHEMA")]  # fmt: skip
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
The two savers run interleaved: the long conversation alternates turns (stock, stateline,
then stateline, stock, ...), the concurrency rows run each kind twice in swapped order.
fsyncs per turn are counted with `strace -f` (every sync call of the process, SQLite's
included); the stock saver uses sqlite3's defaults (rollback journal, synchronous=FULL)
and commits its task writes too, stateline's saver group-commits checkpoints in WAL
mode and leaves task writes unsynced (they are superseded by the next checkpoint).
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
    parser.add_argument("--no-peers", action="store_true", help="skip bench.peers (the other frameworks)")
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
        peer_text = ""
        if not args.no_peers:
            folder = Path(tmp) / "peers"
            folder.mkdir()
            figures, params = peers.measure(args.quick, folder)
            peer_text = _peer_report.report(figures, params)
            print(peer_text)
    text = results_md(table, args.quick, loads)
    if peer_text:
        text += (
            f"\n## The whole turn beside other frameworks (`python -m bench.peers`)\n\n{peers.__doc__}\n{peer_text}\n"
        )
    Path(args.out).write_text(text + _kept_sections(Path(args.out)))
    print(f"\nwritten to {args.out}")


def _kept_sections(path: Path) -> str:
    """Sections other benchmarks write into the same file (``bench.load_sse --write``): kept as they were."""
    from bench.load_sse import SECTION

    old = path.read_text() if path.exists() else ""
    at = old.find(f"\n{SECTION}\n")
    return old[at:] if at >= 0 else ""


if __name__ == "__main__":
    main()
