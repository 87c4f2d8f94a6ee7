"""The proof: the storefront conversation killed with SIGKILL at every kill point, then recovered.

Every point of ``crashkit.POINTS`` (nodes, effects, checkpoint writes, a random delay) is
killed at least once in every way messages arrive (a random ``nth`` occurrence, seeded),
in both modes; ``python -m bench.crash_soak`` runs hundreds more. Two harness processes run
in parallel (one per core), each forking its workers and covering half of the (entry, point)
pairs; see ``crashkit``. Every accepted turn must complete exactly once, each listing must be
in the catalog exactly once (in-doubt effects are counted and resolved by the operator step),
no thread may be left unrecoverable, and the final state must equal an uninterrupted run's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.lifecycle.crashkit import POINTS

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 2  # one per core
KILLS_PER_PROCESS = 6  # a floor; covering every (entry, point) pair takes more
SEED = int(os.environ.get("STATELINE_CRASH_SEED", "11"))  # set it to explore other kill sequences


NEXT_MESSAGE = ["--no-recover", "--entry", "send", "--entry", "stream", "--entry", "worker"]
"""The order of events users produce: a crash, then simply the next message (by App.send, by
App.stream — what the HTTP server runs — or as the next queued job), never an explicit recover."""


@pytest.mark.parametrize("mode", ["recover-first", "next-message"])
def test_random_sigkills_lose_nothing_and_repeat_no_effect(tmp_path, mode) -> None:
    extra = NEXT_MESSAGE if mode == "next-message" else []
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.lifecycle.crashkit", "--flavor", "stateline", "--kills",
             str(KILLS_PER_PROCESS), "--seed", str(SEED), "--workdir", str(tmp_path / f"s{i}"),
             "--cover", f"{i}/{PROCESSES}", "--max-series", "60", *extra],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(PROCESSES)
    ]
    tallies = []
    for p in procs:
        out, err = p.communicate(timeout=600)  # generous: shared CI machines are noisy
        assert p.returncode == 0, err[-3000:]
        tallies.append(json.loads(out.strip().splitlines()[-1]))
    total = {k: sum(t[k] for t in tallies) for k in tallies[0] if k not in ("points", "seconds")}
    points = {p for t in tallies for p in t["points"]}  # "entry point"
    print("crash test tallies:", total, "points:", sorted(points))
    entries = [e for flag, e in zip(extra, extra[1:], strict=False) if flag == "--entry"] or ["send"]
    wanted = {p for p, _ in POINTS}
    killed = {p.split(" ", 1)[1] for p in points}
    assert wanted <= killed, f"never killed at: {sorted(wanted - killed)}"  # nodes, effects, checkpoint writes, delays
    assert {p.split(" ", 1)[0] for p in points} == set(entries)  # and in every way messages arrive
    assert total["kills"] >= len(wanted)
    assert total["lost_turns"] == 0
    assert total["duplicated_turns"] == 0
    assert total["duplicated_effects"] == 0
    assert total["missing_effects"] == 0
    assert total["unrecoverable_threads"] == 0
    assert total["state_mismatches"] == 0
