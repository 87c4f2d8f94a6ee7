"""Load over the LangGraph Platform API with the real ``langgraph-sdk`` client, on 1 or 2 replicas.

    python -m bench.platform_sse [--replicas 2] [--conversations 32] [--turns 5] [--db URL]

Starts ``--replicas`` ``stateline serve`` processes (storefront, offline provider) on one
database (``--db``, default: a fresh schema in ``$STATELINE_TEST_PG_URL``, else a SQLite
file), then runs every conversation as one asyncio task. Turn ``n`` of conversation ``i``
is started on replica ``(i + n) % R`` with ``runs.stream`` (``messages-tuple`` + ``values``);
with two replicas every other turn is instead started in the background on one replica and
streamed from the other (``runs.join_stream``), so streams cross processes. A turn counts
as an error unless its stream ends with the thread's values holding the new reply.
Reports turns/s, p50/p99 time to the first and the last part, and errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client

from bench.load_sse import SCRIPT, percentile
from tests.server_kit import TOKENS, ServerProcess


def _fresh_schema(admin: str) -> tuple[str, str]:
    import psycopg

    name = f"stl_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    sep = "&" if "?" in admin else "?"
    return f"{admin}{sep}options=-csearch_path%3D{name}", name


def _drop_schema(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


async def _turn(clients: list[Any], i: int, n: int, thread: str, text: str, stats: dict[str, Any]) -> None:
    r = len(clients)
    start = time.perf_counter()
    first = last = None
    final: Any = None
    here = clients[(i + n) % r]
    if r > 1 and n % 2 == 1:  # started on one replica, streamed from the other
        run = await here.runs.create(thread, "storefront", input={"messages": [{"role": "user", "content": text}]},
                                     stream_mode=["messages-tuple", "values"])
        parts = clients[(i + n + 1) % r].runs.join_stream(thread, run["run_id"])
    else:
        parts = here.runs.stream(thread, "storefront", input={"messages": [{"role": "user", "content": text}]},
                                 stream_mode=["messages-tuple", "values"])
    async for part in parts:
        now = time.perf_counter()
        first = now if first is None else first
        last = now
        if part.event == "values":
            final = part.data
        elif part.event == "error":
            raise RuntimeError(f"error part: {part.data}")
    if not final or final["messages"][-1]["type"] != "ai" or first is None or last is None:
        raise RuntimeError(f"turn {n} of {thread} ended without a reply in its values")
    stats["first"].append(first - start)
    stats["last"].append(last - start)
    stats["turns"] += 1


async def _conversation(clients: list[Any], i: int, turns: int, stats: dict[str, Any]) -> None:
    try:
        thread = (await clients[i % len(clients)].threads.create(metadata={"bench": "platform_sse"}))["thread_id"]
        for n in range(turns):
            await _turn(clients, i, n, thread, SCRIPT[n % len(SCRIPT)].format(i=i), stats)
    except Exception as exc:  # noqa: BLE001 - counted and reported
        stats["errors"].append(f"conversation {i}: {type(exc).__name__}: {exc}")


async def _drive(urls: list[str], conversations: int, turns: int, timeout: float) -> dict[str, Any]:
    stats: dict[str, Any] = {"first": [], "last": [], "turns": 0, "errors": []}
    clients = [get_client(url=u, api_key=TOKENS["alice"], timeout=timeout) for u in urls]
    start = time.perf_counter()
    tasks = [asyncio.create_task(_conversation(clients, i, turns, stats)) for i in range(conversations)]
    _, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    if pending:
        stats["errors"].append(f"{len(pending)} conversations still running at the {timeout:.0f}s limit")
    stats["elapsed"] = time.perf_counter() - start
    return stats


def run(db: str, replicas: int, conversations: int, turns: int, timeout: float, workers: int) -> dict[str, Any]:
    servers = [ServerProcess(db, args=("--workers", str(workers))) for _ in range(replicas)]
    try:
        for s in servers:
            s.start(timeout=120)
        stats = asyncio.run(_drive([s.url for s in servers], conversations, turns, timeout))
    finally:
        for s in servers:
            s.stop()
    expected = conversations * turns
    return {
        "replicas": replicas, "database": db.split("://")[0], "conversations": conversations,
        "turns_per_conversation": turns, "turns_completed": stats["turns"], "turns_expected": expected,
        "elapsed_s": round(stats["elapsed"], 2),
        "turns_per_s": round(stats["turns"] / stats["elapsed"], 1) if stats["elapsed"] else 0,
        "first_part_p50_ms": round(1000 * percentile(stats["first"], 50), 1),
        "first_part_p99_ms": round(1000 * percentile(stats["first"], 99), 1),
        "last_part_p50_ms": round(1000 * percentile(stats["last"], 50), 1),
        "last_part_p99_ms": round(1000 * percentile(stats["last"], 99), 1),
        "errors": max(len(stats["errors"]), expected - stats["turns"]),
        "error_samples": stats["errors"][:5],
        "machine_load_avg_1m_at_end": round(os.getloadavg()[0], 2),
    }


WHAT = {
    1: "1 replica: every turn runs.stream (messages-tuple + values) on it",
    2: "2 replicas, one database: turn n of conversation i on replica (i+n)%2; odd turns started there "
       "(runs.create) and streamed from the other (join_stream)",
}
"""What a row of :func:`replica_rows` measures, by replica count."""


def replica_rows(
    admin: str, *, rounds: int, conversations: int, turns: int, timeout: float, workers: int
) -> list[dict[str, Any]]:
    """Rows for 1 and 2 replicas on PostgreSQL (``admin``), interleaved 1, 2, 1, 2, ... for ``rounds``
    rounds: each row on a fresh schema, with the machine's load average at its start and end."""
    rows = []
    for n in range(rounds):
        for replicas in (1, 2):
            db, schema = _fresh_schema(admin)
            load_start = round(os.getloadavg()[0], 2)
            try:
                row = run(db, replicas, conversations, turns, timeout, workers)
            finally:
                _drop_schema(admin, schema)
            rows.append({"round": n + 1, **row, "machine_load_avg_1m_at_start": load_start, "what": WHAT[replicas]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=2, choices=(1, 2))
    parser.add_argument("--conversations", type=int, default=32)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--db", default=None, help="database URL (default: fresh schema in $STATELINE_TEST_PG_URL)")
    args = parser.parse_args(argv)
    admin = os.environ.get("STATELINE_TEST_PG_URL")
    schema = None
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db
        if db is None and admin:
            db, schema = _fresh_schema(admin)
        elif db is None:
            db = f"sqlite:///{Path(tmp) / 'platform.db'}"
        try:
            report = run(db, args.replicas, args.conversations, args.turns, args.timeout, args.workers)
        finally:
            if schema is not None and admin:
                _drop_schema(admin, schema)
    print(json.dumps(report, indent=2))
    print(f"\n{report['replicas']} replica(s): {report['turns_completed']}/{report['turns_expected']} turns, "
          f"{report['turns_per_s']} turns/s, last part p50 {report['last_part_p50_ms']} ms, errors {report['errors']}",
          file=sys.stderr)
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
