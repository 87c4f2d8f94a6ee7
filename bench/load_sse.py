"""Load: N concurrent conversations x M turns over SSE against `stateline serve` on 127.0.0.1.

    python -m bench.load_sse --pg URL [--rounds 2] [--conversations 32] [--turns 5] [--write]
    python -m bench.load_sse [--api] [--conversations 200] [--turns 10] [--timeout 600] [--workers 8]

With a PostgreSQL URL (``--pg``, else ``$STATELINE_TEST_PG_URL``; ``--api`` ignores it): rows
for **1 and 2 replicas** (``stateline serve`` processes on one database), interleaved 1, 2, 1, 2
for ``--rounds`` rounds, each on a fresh schema, through the Platform API with the real
``langgraph-sdk`` client (the harness of ``bench.platform_sse``: with 2 replicas, turns are
spread over both and half of them are streamed from the replica that did not start them).
Each row states what it does, its errors and the machine's load at its start and end;
``--write`` puts the table in bench/RESULTS.md (a section ``python -m bench`` keeps).

Otherwise (``/api``, one process): starts a real server subprocess (storefront example,
offline provider, SQLite file in a temporary folder), runs every conversation as one asyncio
task posting its turns one after another with ``Accept: text/event-stream``, and reports
turns/s, p50/p99 time to the first and to the last event of a turn, errors, and the server's
peak memory (VmHWM from /proc).
Bounded: whatever has not finished when ``--timeout`` expires is counted as an error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from tests.server_kit import TOKENS, ServerProcess

SCRIPT = [
    "I'd like to sell a product: title Mug {i}, price 12.50",
    "Hmm, what price should I charge? cost 6, margin 45%",
    "OK, back to my listing: category kitchen",
    "description: A sturdy 300 ml mug, number {i}",
    "What is the total revenue for kitchen?",
    "Which is the best seller in toys?",
    "Tell me a joke",
    "Suggest a price: cost 10, margin 50%",
    "How many units sold in garden?",
    "hello again",
]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def memory_kib(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


async def turn(client: httpx.AsyncClient, thread: str, text: str, stats: dict[str, Any]) -> None:
    start = time.perf_counter()
    first = last = None
    end_status = None
    async with client.stream(
        "POST", f"/api/threads/{thread}/messages", json={"message": text}, headers={"Accept": "text/event-stream"}
    ) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                now = time.perf_counter()
                first = first if first is not None else now
                last = now
                event = json.loads(line[5:])
                if event["type"] == "conversation_end":
                    end_status = event["status"]
                elif event["type"] == "error":
                    raise RuntimeError(f"error event: {event['message']}")
    if end_status is None or first is None or last is None:
        raise RuntimeError("stream ended without conversation_end")
    stats["first"].append(first - start)
    stats["last"].append(last - start)
    stats["turns"] += 1


async def conversation(client: httpx.AsyncClient, i: int, turns: int, stats: dict[str, Any]) -> None:
    try:
        r = await client.post("/api/threads", json={"thread_id": f"load-{i}"})
        r.raise_for_status()
        for n in range(turns):
            await turn(client, f"load-{i}", SCRIPT[n % len(SCRIPT)].format(i=i), stats)
    except Exception as exc:  # noqa: BLE001 - counted and reported
        stats["errors"].append(f"conversation {i}: {type(exc).__name__}: {exc}")


async def drive(url: str, conversations: int, turns: int, timeout: float, pid: int) -> dict[str, Any]:
    stats: dict[str, Any] = {"first": [], "last": [], "turns": 0, "errors": [], "rss_samples": []}
    limits = httpx.Limits(max_connections=conversations + 10, max_keepalive_connections=conversations + 10)
    headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=httpx.Timeout(timeout)
    ) as client:

        async def sample() -> None:
            while True:
                stats["rss_samples"].append(memory_kib(pid).get("VmRSS", 0))
                await asyncio.sleep(0.5)

        sampler = asyncio.create_task(sample())
        start = time.perf_counter()
        tasks = [asyncio.create_task(conversation(client, i, turns, stats)) for i in range(conversations)]
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        elapsed = time.perf_counter() - start
        sampler.cancel()
    missing = conversations * turns - stats["turns"]
    if pending:
        stats["errors"].append(f"{len(pending)} conversations still running at the {timeout:.0f}s limit")
    stats["elapsed"] = elapsed
    stats["missing"] = missing
    return stats


RESULTS = Path(__file__).with_name("RESULTS.md")
SECTION = "## SSE load on 1 and 2 replicas, PostgreSQL (`python -m bench.load_sse`)"
"""The heading of the section ``--write`` replaces (``python -m bench`` keeps it)."""
COLUMNS = [
    ("round", "round"), ("replicas", "replicas"), ("turns", "turns"), ("turns/s", "turns_per_s"),
    ("first part p50/p99 ms", "first"), ("last part p50/p99 ms", "last"), ("errors", "errors"),
    ("load 1m start/end", "load"), ("what the row does", "what"),
]


def _cells(row: dict[str, Any]) -> dict[str, str]:
    return {
        **{k: str(v) for k, v in row.items()},
        "turns": f"{row['turns_completed']}/{row['turns_expected']}",
        "first": f"{row['first_part_p50_ms']} / {row['first_part_p99_ms']}",
        "last": f"{row['last_part_p50_ms']} / {row['last_part_p99_ms']}",
        "load": f"{row['machine_load_avg_1m_at_start']} / {row['machine_load_avg_1m_at_end']}",
    }


def replica_table(rows: list[dict[str, Any]]) -> str:
    lines = ["| " + " | ".join(h for h, _ in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = _cells(row)
        lines.append("| " + " | ".join(cells[k] for _, k in COLUMNS) + " |")
    return "\n".join(lines)


def write_section(table: str, params: str) -> None:
    """Replace (or add) the replicas section at the end of bench/RESULTS.md."""
    text = RESULTS.read_text() if RESULTS.exists() else ""
    text = text.split(f"\n{SECTION}\n")[0].rstrip("\n") + "\n"
    body = (
        f"\n{SECTION}\n\nstateline serve (storefront, offline provider) on one PostgreSQL database, driven with "
        f"langgraph-sdk over the Platform API; {params}. Other work may share this machine: compare "
        f"rows of one run, and read the load column.\n\n{table}\n"
    )
    RESULTS.write_text(text + body)


def replicas_main(args: argparse.Namespace, pg: str) -> int:
    from bench.platform_sse import replica_rows  # the one harness (it imports SCRIPT/percentile from here)

    conversations, turns = args.conversations or 32, args.turns or 5
    rows = replica_rows(pg, rounds=args.rounds, conversations=conversations, turns=turns, timeout=args.timeout,
                        workers=args.workers)
    table = replica_table(rows)
    params = f"{conversations} conversations x {turns} turns per row, {args.workers} turn threads per replica"
    print(json.dumps(rows, indent=2))
    print(f"\n{params}\n{table}")
    if args.write:
        write_section(table, params)
        print(f"\nwritten to {RESULTS}")
    return 0 if all(r["errors"] == 0 for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=None, help="default: 32 (--pg), 200 (/api)")
    parser.add_argument("--turns", type=int, default=None, help="default: 5 (--pg), 10 (/api)")
    parser.add_argument("--timeout", type=float, default=600.0, help="stop after this many seconds")
    parser.add_argument("--workers", type=int, default=8, help="server threads running turns")
    parser.add_argument("--pg", default=None, help="PostgreSQL URL (default: $STATELINE_TEST_PG_URL): replica rows")
    parser.add_argument("--rounds", type=int, default=2, help="--pg: rounds of (1 replica, 2 replicas)")
    parser.add_argument("--write", action="store_true", help="--pg: put the table in bench/RESULTS.md")
    parser.add_argument("--api", action="store_true", help="measure /api on one process (SQLite) even with a URL")
    args = parser.parse_args(argv)
    pg = args.pg or os.environ.get("STATELINE_TEST_PG_URL")
    if pg and not args.api:
        return replicas_main(args, pg)
    args.conversations, args.turns = args.conversations or 200, args.turns or 10
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp) / "load.db", args=("--workers", str(args.workers)))
        server.start()
        try:
            assert server.proc is not None
            pid = server.proc.pid
            base = memory_kib(pid)
            stats = asyncio.run(drive(server.url, args.conversations, args.turns, args.timeout, pid))
            mem = memory_kib(pid)
        finally:
            server.stop()
    total = args.conversations * args.turns
    report = {
        "conversations": args.conversations,
        "turns_per_conversation": args.turns,
        "turns_completed": stats["turns"],
        "turns_expected": total,
        "elapsed_s": round(stats["elapsed"], 2),
        "turns_per_s": round(stats["turns"] / stats["elapsed"], 1) if stats["elapsed"] else 0,
        "first_event_p50_ms": round(1000 * percentile(stats["first"], 50), 1),
        "first_event_p99_ms": round(1000 * percentile(stats["first"], 99), 1),
        "last_event_p50_ms": round(1000 * percentile(stats["last"], 50), 1),
        "last_event_p99_ms": round(1000 * percentile(stats["last"], 99), 1),
        "last_event_mean_ms": round(1000 * statistics.fmean(stats["last"]), 1) if stats["last"] else None,
        "errors": len(stats["errors"]) + (stats["missing"] if not stats["errors"] else 0),
        "error_samples": stats["errors"][:5],
        "server_rss_start_mib": round(base.get("VmRSS", 0) / 1024, 1),
        "server_rss_peak_mib": round(max([mem.get("VmHWM", 0), *stats["rss_samples"]]) / 1024, 1),
        "server_workers": args.workers,
        "machine_load_avg_1m_at_end": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))
    print(
        f"\n{report['turns_completed']}/{total} turns in {report['elapsed_s']}s = {report['turns_per_s']} turns/s; "
        f"first event p50 {report['first_event_p50_ms']} ms / p99 {report['first_event_p99_ms']} ms; "
        f"last event p50 {report['last_event_p50_ms']} ms / p99 {report['last_event_p99_ms']} ms; "
        f"errors {report['errors']}; server peak RSS {report['server_rss_peak_mib']} MiB",
        file=sys.stderr,
    )
    return 0 if report["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
