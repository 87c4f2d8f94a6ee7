"""Workers on PostgreSQL: 1, 2, 4 `stateline worker` processes draining one queue of storefront turns,
beside 1, 2, 4 processes running the plain 3-node LangGraph graph on stock PostgresSaver.

    STATELINE_TEST_PG_URL=postgresql://... python -m bench.workers [--turns 200]

Each figure uses a fresh PostgreSQL schema. Rates are steady-state: from the first turn
to the last (stateline: the queue's finish times; plain: each process reports when its
loop started and ended), so the ~1 s of imports per process start-up is left out on both
sides. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THREADS = 24

PLAIN = textwrap.dedent(
    """
    import sys
    from langchain_core.messages import HumanMessage
    from langgraph.checkpoint.postgres import PostgresSaver
    from bench._graph import build, text
    url, worker, turns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    import time
    with PostgresSaver.from_conn_string(url) as saver:
        if worker == 0:
            saver.setup()
        graph = build(saver)
        start = time.time()
        for i in range(turns):
            cfg = {"configurable": {"thread_id": f"w{worker}-{i % 6}"}}
            graph.invoke({"messages": [HumanMessage(text())]}, cfg, durability="sync")
        print(start, time.time())
    """
)


def _schema_url(admin: str) -> tuple[str, str]:
    import psycopg

    name = f"stl_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in admin else "?"
    return name, f"{admin}{sep}options=-csearch_path%3D{name}"


def _drop(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "STATELINE_PROVIDER": "offline"}


def stateline_workers(admin: str, workers: int, turns: int) -> tuple[float, int]:
    """Turns/s and failed jobs for ``workers`` processes draining ``turns`` queued turns."""
    from stateline.lifecycle._queue import RunQueue
    from stateline._session import open_session

    name, url = _schema_url(admin)
    try:
        with open_session(db=url, example="storefront") as app:
            queue = RunQueue(app.database)
            for i in range(turns):
                queue.enqueue(f"t{i % THREADS}", "what is the total revenue for toys?")
        cmd = [
            sys.executable, "-m", "stateline", "--db", url, "--json", "--example", "storefront", "worker",
            "--until-idle", "--poll", "0.05",
        ]
        procs = [subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.DEVNULL) for _ in range(workers)]
        for p in procs:
            p.wait(timeout=900)
        with open_session(db=url, example="storefront") as app:
            jobs = RunQueue(app.database).list(limit=turns + 1)
        failed = sum(1 for j in jobs if j.status != "done")
        finished = sorted(j.finished_at for j in jobs if j.finished_at is not None)
        return (len(finished) - 1) / (finished[-1] - finished[0]), failed
    finally:
        _drop(admin, name)


def plain_processes(admin: str, processes: int, turns: int) -> float:
    name, url = _schema_url(admin)
    try:
        subprocess.run([sys.executable, "-c", PLAIN, url, "0", "0"], cwd=ROOT, env=_env(), check=True,
                       stdout=subprocess.DEVNULL)
        per = turns // processes
        procs = [
            subprocess.Popen([sys.executable, "-c", PLAIN, url, str(w), str(per)], cwd=ROOT, env=_env(),
                             stdout=subprocess.PIPE, text=True)
            for w in range(processes)
        ]  # fmt: skip
        spans = []
        for p in procs:
            out, _ = p.communicate(timeout=900)
            if p.returncode != 0:
                raise RuntimeError("a plain LangGraph process failed")
            spans.append(tuple(map(float, out.split()[-2:])))
        return per * processes / (max(end for _, end in spans) - min(start for start, _ in spans))
    finally:
        _drop(admin, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    admin = os.environ.get("STATELINE_BENCH_PG_URL") or os.environ.get("STATELINE_TEST_PG_URL")
    if not admin:
        print("bench.workers: set STATELINE_TEST_PG_URL (a PostgreSQL where we may CREATE SCHEMA); skipped")
        return
    print(
        "| processes | stateline workers, storefront turns/s (failed jobs) "
        "| plain LangGraph 3-node graph on PostgresSaver, turns/s |"
    )
    print("|---|---|---|")
    for n in (1, 2, 4):
        ours, failed = stateline_workers(admin, n, args.turns)
        plain = plain_processes(admin, n, args.turns)
        print(f"| {n} | {ours:.1f} ({failed}) | {plain:.1f} |", flush=True)


if __name__ == "__main__":
    main()
