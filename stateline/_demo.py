"""``stateline demo``: the storefront, end to end, across a process restart."""

from __future__ import annotations

import os
import subprocess
import sys

from rich.console import Console
from rich.panel import Panel

from stateline.checkpointing import parse_db_url
from stateline.examples.storefront import catalog_rows

from ._session import open_session

FIRST_PROCESS = [
    "Hi! I'd like to sell a product: title Red Ceramic Mug, price 12.50",
    "Hmm, what price should I charge? cost 6, margin 45%",
    "OK, back to my listing: category kitchen",
]
SECOND_PROCESS = [
    "description: A sturdy 300 ml mug, dishwasher safe",
    "What is the total revenue for kitchen?",
]


def _say(console: Console, who: str, text: str) -> None:
    style = "green" if who == "you" else "cyan"
    console.print(f"[bold {style}]{who}>[/] {text}", highlight=False)


def run_demo(url: str, thread: str, console: Console) -> None:
    """Three turns in this process, then two in a fresh one, then what the database holds."""
    console.print(Panel(f"stateline demo: storefront on {url}, thread {thread!r}", style="bold"))
    with open_session(db=url, example="storefront") as app:
        for text in FIRST_PROCESS:
            _say(console, "you", text)
            turn = app.send(thread, text)
            for reply in turn.replies:
                _say(console, reply.agent or "assistant", reply.text)
        pid = os.getpid()
    console.print(f"\n[yellow]-- process {pid} stops; a new process continues thread {thread!r} --[/]\n")
    for text in SECOND_PROCESS:
        _say(console, "you", text)
        result = subprocess.run(
            [
                sys.executable, "-m", "stateline", "--db", url, "--json", "--example", "storefront", "run", "--thread",
                thread, text,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            console.print(f"[red]second process failed:[/] {result.stderr.strip()}")
            raise SystemExit(result.returncode)
        import json

        for reply in json.loads(result.stdout)["replies"]:
            _say(console, reply["agent"] or "assistant", reply["text"])
    _summary(url, thread, console)


def _summary(url: str, thread: str, console: Console) -> None:
    with open_session(db=url, example="storefront") as app:
        view = app.state(thread)
        checkpoints = sum(1 for _ in app.history(thread))
        listings = catalog_rows(app.database)
        runs = app.ops.runs.thread_runs(thread) if app.ops else []
        effects = app.ops.ledger.list(thread_id=thread) if app.ops else []
        steps = sum(len(app.ops.runs.events(r.run_id)) for r in runs) if app.ops else 0
    parsed = parse_db_url(url)
    size = parsed.path.stat().st_size if parsed.path and parsed.path.exists() else 0
    lines = [
        f"thread {thread!r}: {view.status}, {len(view.messages)} messages, {checkpoints} checkpoints",
        f"open drafts: {view.drafts or 'none'}",
        f"tracked runs: {len(runs)} ({', '.join(sorted({r.status for r in runs}))}), {steps} step events; "
        f"effects: " + (", ".join(f"{e.name} {e.status}" for e in effects) or "none"),
        f"catalog: {len(listings)} listing(s): "
        + "; ".join(f"{r['title']} ${r['price']:.2f} ({r['category']})" for r in listings),
        f"database file: {parsed.path} ({size:,} bytes)" if parsed.path else "database: in memory",
    ]
    console.print(Panel("\n".join(lines), title="what was stored", style="bold"))
