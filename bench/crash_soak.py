"""Crash soak: 500 SIGKILLs against stateline and against plain LangGraph, tallies side by side.

    python -m bench.crash_soak [--kills 500] [--seed 1] [--jobs 2]

Same harness as the crash test (``tests/lifecycle/crashkit.py``): the storefront conversation
in forked worker processes, each killed at a random point (inside collect/validate/act,
between an effect and its record, around and inside checkpoint writes, or after a random
delay), then recovered — or, in the ``next message`` column, not recovered at all: the next
ordinary message (send, stream, or the next queued job) must finish what was left.
stateline recovers with ``recover()`` plus the operator step for
in-doubt effects; plain LangGraph (default durability, publish without a ledger) uses the
usual restart recipe ``if graph.get_state(cfg).next: graph.invoke(None, cfg)``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ROWS = [
    ("kills", "processes killed (SIGKILL)"),
    ("series", "conversations"),
    ("turns", "accepted user turns"),
    ("lost_turns", "lost turns (no reply in the final state)"),
    ("duplicated_turns", "duplicated turns"),
    ("duplicated_effects", "duplicated effects (listing published twice)"),
    ("missing_effects", "missing effects (listing never published)"),
    ("in_doubt_effects", "in-doubt effects (reported, resolved by operator)"),
    ("unrecoverable_threads", "unrecoverable threads"),
    ("state_mismatches", "final state differs from uninterrupted run"),
]


SIDES = {
    "stateline": ("stateline", []),
    "next-message": ("stateline", ["--no-recover", "--entry", "send", "--entry", "stream", "--entry", "worker"]),
    "plain": ("plain", []),
}
"""Column -> (harness flavor, extra arguments). ``next-message``: stateline with no recover at all —
after each crash the next ordinary message (App.send, App.stream, or the next queued job) goes on."""


def _launch(side: str, kills: int, seed: int, workdir: Path) -> subprocess.Popen:
    flavor, extra = SIDES[side]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.lifecycle.crashkit", "--flavor", flavor, "--kills", str(kills),
         "--seed", str(seed), "--workdir", str(workdir), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def soak(kills: int, seed: int, jobs: int) -> dict[str, dict]:
    """Run both flavors, ``jobs`` harness processes at a time; summed tallies per flavor."""
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="crash-soak-") as tmp:
        for flavor in SIDES:
            share = -(-kills // jobs)
            procs = [_launch(flavor, share, seed + i, Path(tmp) / f"{flavor}{i}") for i in range(jobs)]
            total: dict = {}
            for p in procs:
                out, err = p.communicate()
                if p.returncode != 0:
                    raise SystemExit(f"{flavor} harness failed:\n{err[-3000:]}")
                tally = json.loads(out.strip().splitlines()[-1])
                for line in err.splitlines():
                    if line.startswith("bad series") and flavor != "plain":  # plain ones are expected
                        print(f"[{flavor}] {line}", file=sys.stderr)
                for k, v in tally.items():
                    if isinstance(v, dict):
                        for point, n in v.items():
                            total.setdefault(k, {})[point] = total.get(k, {}).get(point, 0) + n
                    elif k == "seconds":
                        total[k] = max(total.get(k, 0), v)
                    else:
                        total[k] = total.get(k, 0) + v
            results[flavor] = total
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="crash soak: stateline vs plain LangGraph")
    parser.add_argument("--kills", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results = soak(args.kills, args.seed, args.jobs)
    s, n, p = results["stateline"], results["next-message"], results["plain"]
    print(f"crash soak: {args.kills}+ SIGKILLs per side, seed {args.seed}, {time.perf_counter() - start:.0f}s\n")
    print("stateline: recover() after each crash; next message: no recover, the next send/stream/queued job goes on\n")
    print(f"{'':52} {'stateline':>10} {'next message':>13} {'plain LangGraph':>16}")
    for key, label in ROWS:
        print(f"{label:52} {s.get(key, 0):>10} {n.get(key, 0):>13} {p.get(key, 0):>16}")
    print("\nkill points (stateline):", ", ".join(f"{k} {v}" for k, v in sorted(s.get("points", {}).items())))
    print("kill points (plain):    ", ", ".join(f"{k} {v}" for k, v in sorted(p.get("points", {}).items())))


if __name__ == "__main__":
    main()
