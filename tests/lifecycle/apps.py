"""Small agents for lifecycle tests: a job agent whose act fails on demand, an approval agent."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from stateline.graphs import Agent
from stateline.nodes import ActContext
from stateline._app import App
from stateline.errors import ModelProviderError

FAILURES: dict[str, int] = {}
"""job title -> how many more times its act fails (tests set it)."""
CALLS: list[str] = []


class Job(BaseModel):
    title: str


class Approval(BaseModel):
    amount: float


def run_job(job: Job, ctx: ActContext) -> str:
    CALLS.append(job.title)
    left = FAILURES.get(job.title, 0)
    if left:
        FAILURES[job.title] = left - 1
        if job.title.startswith("timeout"):
            raise TimeoutError(f"{job.title} timed out")
        if job.title.startswith("model"):
            err = ModelProviderError("rate limited")
            err.transient = True
            raise err
        raise ValueError(f"{job.title} is malformed")
    ctx.effect("record", lambda: job.title)
    return f"did {job.title}"


def agents() -> list[Agent]:
    return [
        Agent(name="job", description="Run jobs", intents=["job"], schema=Job, act=run_job, keywords=["job", "run"]),
        Agent(
            name="pay", description="Pay amounts after approval", intents=["pay"], schema=Approval,
            act=lambda m: f"paid {m.amount}", keywords=["pay"], approval=True,
        ),
    ]


@contextmanager
def open_test_app(path: Any, **kwargs: Any) -> Iterator[App]:
    app = App(agents(), db=f"sqlite:///{path}", **kwargs)
    try:
        yield app
    finally:
        app.close()


def snapshot_rows(path: Any) -> dict[str, list[tuple]]:
    """Every row of every stateline-owned table (to show a command changed nothing)."""
    conn = sqlite3.connect(str(path))
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(map(tuple, conn.execute(f'SELECT * FROM "{t}"').fetchall()), key=repr) for t in tables}
    finally:
        conn.close()
