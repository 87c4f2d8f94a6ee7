"""Queue CLI: ``stateline enqueue``, ``stateline jobs list``, ``stateline worker``."""

from __future__ import annotations

import dataclasses
from typing import Optional

import typer
from rich.table import Table

from stateline.lifecycle._queue import RunQueue

from .cli import AgentsFileOpt, ExampleOpt, _session, _when, app, emit, out
from ._ids import check_id, check_message
from ._worker import Worker

jobs_app = typer.Typer(no_args_is_help=True, help="Queued turns taken by `stateline worker`.")
app.add_typer(jobs_app, name="jobs")


@app.command()
def enqueue(
    ctx: typer.Context,
    message: str = typer.Argument(..., help="what the user says"),
    thread: str = typer.Option(..., "--thread", "-t"),
    user: Optional[str] = typer.Option(None, "--user", "-u"),
    example: str = ExampleOpt,
    agents_file: Optional[str] = AgentsFileOpt,
) -> None:
    """Queue one turn for a worker (returns at once with the job id)."""
    check_id("thread id", thread)
    text = check_message(message)
    if user is not None:
        check_id("user id", user)
    with _session(ctx, example, agents_file) as session:
        job = RunQueue(session.database).enqueue(thread, text, user_id=user)
    emit(ctx, job, lambda: out.print(f"queued job {job.job_id} for thread {thread}"))


@jobs_app.command("list")
def jobs_list(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(None, "--status", "-s", help="queued, running, done or failed"),
    thread: Optional[str] = typer.Option(None, "--thread", "-t"),
    example: str = ExampleOpt,
) -> None:
    """The queue, oldest first."""
    with _session(ctx, example) as session:
        jobs = RunQueue(session.database).list(status=status, thread_id=thread, limit=1000)

    def render() -> None:
        table = Table("job", "thread", "status", "worker", "attempts", "queued", "reply / error")
        for j in jobs:
            table.add_row(j.job_id[:12], j.thread_id, j.status, j.worker or "-", str(j.attempts),
                          _when(j.enqueued_at), (j.error or j.reply or "")[:60])
        out.print(table)

    emit(ctx, jobs, render)


@app.command()
def worker(
    ctx: typer.Context,
    example: str = ExampleOpt,
    agents_file: Optional[str] = AgentsFileOpt,
    lease: float = typer.Option(30.0, "--lease", min=1.0, help="seconds a job stays ours without renewal"),
    poll: float = typer.Option(0.5, "--poll", min=0.01, help="seconds between polls when idle"),
    until_idle: bool = typer.Option(False, "--until-idle", help="exit when nothing is claimable"),
    max_jobs: Optional[int] = typer.Option(None, "--max-jobs", min=1),
) -> None:
    """Take queued turns and run them until stopped (SIGTERM finishes the job in hand)."""
    with _session(ctx, example, agents_file) as session:
        w = Worker(session, lease_s=lease, poll_s=poll)
        if not ctx.obj.as_json:
            out.print(f"worker {w.name} on {session.database.url.raw}")
        stats = w.run(
            until_idle=until_idle, max_jobs=max_jobs,
            # a worker's output is its log: ids only, never what was said (`jobs list` shows replies)
            on_job=None if ctx.obj.as_json else lambda job, text: out.print(
                f"{job.thread_id}: job {job.job_id} finished", highlight=False),
        )
    emit(ctx, dataclasses.asdict(stats), lambda: out.print(
        f"worker {w.name}: {stats.done} done, {stats.failed} failed, {stats.taken_over} taken over"))
