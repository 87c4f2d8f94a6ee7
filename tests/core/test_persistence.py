"""Threads survive process restarts; several processes share one SQLite file."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from stateline import App
from stateline.examples.storefront import create_agents

from .cli_helpers import ROOT, cli, cli_json

SCRIPT = [
    "I want to sell a product: title Walnut Board, price 40",
    "what price should I charge? cost 20, margin 50%",
    "back to the listing: category kitchen",
    "description: An end-grain walnut cutting board",
    "what is the best seller in kitchen?",
]


def comparable(view: dict) -> dict:
    """The state, minus the listing id (derived from checkpoint ids, which differ per run)."""
    messages = [{**m, "text": re.sub(r"\(listing \w+\)", "(listing)", m["text"])} for m in view["messages"]]
    return {"messages": messages, **{k: view[k] for k in ("status", "active_agent", "drafts")}}


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_continuing_in_new_processes_equals_one_run_straight_through(tmp_path, request, backend):
    straight = f"sqlite:///{tmp_path}/straight.db"
    with App(db=straight) as app:
        for agent in create_agents(app.database):
            app.register(agent)
        for text in SCRIPT:
            app.send("t", text)
    split = f"sqlite:///{tmp_path}/split.db" if backend == "sqlite" else request.getfixturevalue("pg_url")
    for text in SCRIPT:  # one process per turn: every turn starts from what the last process stored
        result = cli("run", "-e", "storefront", "--thread", "t", text, db=split)
        assert result.returncode == 0, result.stderr
    a = cli_json("threads", "show", "t", db=straight)
    b = cli_json("threads", "show", "t", db=split)
    assert comparable(a) == comparable(b)
    assert a["status"] == "idle" and len(a["messages"]) == 10
    assert "Published 'Walnut Board'" in a["messages"][7]["text"]


WRITER = textwrap.dedent(
    """
    import sys
    from stateline import App
    from stateline.examples.storefront import create_agents
    db, prefix = sys.argv[1], sys.argv[2]
    with App(db=db) as app:
        for agent in create_agents(app.database):
            app.register(agent)
        for i in range(12):
            app.send(f"{prefix}-{i % 3}", f"what is the total revenue for {['kitchen', 'toys', 'books'][i % 3]}?")
    print("ok")
    """
)


def test_two_processes_write_different_threads_of_one_file_without_lock_errors(tmp_path):
    db = f"sqlite:///{tmp_path}/shared.db"
    with App(db=db) as app:  # create the schema first, as a deployment would
        create_agents(app.database)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db, name],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("p1", "p2")
    ]
    outcomes = [p.communicate(timeout=180) for p in procs]
    for proc, (_out, err) in zip(procs, outcomes, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    threads = cli_json("threads", "list", db=db)
    assert sorted(t["thread_id"] for t in threads) == [f"{p}-{i}" for p in ("p1", "p2") for i in range(3)]
    assert all(t["turns"] == 4 for t in threads)
