"""How fast the ``stateline`` command answers: ``stateline --help`` beside ``python -c pass``.

Both are fresh interpreter processes, run alternately; the figure is the median wall time.
``stateline --help`` imports only the CLI (typer, rich, the error classes): LangGraph loads
when a command needs it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from bench._table import Row

COMMANDS = {"python": [sys.executable, "-c", "pass"], "help": [sys.executable, "-m", "stateline", "--help"]}


def measure(rounds: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in COMMANDS}
    for _ in range(rounds):
        for name, cmd in COMMANDS.items():
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[name].append(time.perf_counter() - start)
    return times


def rows(times: dict[str, list[float]]) -> list[Row]:
    base, cli = (statistics.median(times[k]) * 1000 for k in ("python", "help"))
    return [Row("`stateline --help` start-up (stock: `python -c pass`)", base, cli, "ms", "well under 1 s",
                cli < 1000, higher_is_better=False,
                note=f"median of {len(times['help'])} fresh processes each, alternating; "
                     f"the CLI's own cost: {cli - base:.0f} ms")]  # fmt: skip


if __name__ == "__main__":
    for row in rows(measure(9)):
        print(row)
