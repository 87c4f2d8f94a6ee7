"""Queue CLI: ``stateline enqueue``, ``stateline jobs list``, ``stateline worker``."""

from __future__ import annotations

import dataclasses
from typing import Optional

import typer
from rich.table import Table

from ._ids import check_id, check_message
from .cli import _session, _when, app, emit, out

jobs_app = typer.Typer(no_args_is_help=True, help="Queued turns taken by `stateline worker`.")
app.add_typer(jobs_app, name="jobs")


@app.command()
def enqueue(
    ctx: typer.Context,
    message: str = typer.Argument(..., help="what the user says"),
    thread: str = typer.Option(..., "--thread", "-t"),
    user: Optional[str] = typer.Option(None, "--user", "-u"),
) -> None:
    """Queue one turn for a worker (returns at once with the job id)."""
    from stateline.lifecycle._queue import RunQueue

    check_id("thread id", thread)
    text = check_message(message)
    if user is not None:
        check_id("user id", user)
    with _session(ctx) as session:
        job = RunQueue(session.database).enqueue(thread, text, user_id=user)
    emit(ctx, job, lambda: out.print(f"queued job {job.job_id} for thread {thread}"))


@jobs_app.command("list")
def jobs_list(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(None, "--status", "-s", help="queued, running, done or failed"),
    thread: Optional[str] = typer.Option(None, "--thread", "-t"),
) -> None:
    """The queue, oldest first."""
    from stateline.checkpointing import open_database
    from stateline.errors import InvalidInputError
    from stateline.lifecycle._queue import JOB_STATUSES, RunQueue

    from ._cli_inspect import has_table

    if status is not None and status not in JOB_STATUSES:  # checked before the database is opened
        raise InvalidInputError(f"job status {status!r} is not one of {', '.join(JOB_STATUSES)}")
    from .cli import url_of

    with open_database(url_of(ctx), read_only=True) as db:  # looks only: writes nothing
        queue = RunQueue(db)
        jobs = queue.list(status=status, thread_id=thread, limit=1000) if has_table(db, "run_queue") else []

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
    lease: float = typer.Option(30.0, "--lease", min=1.0, help="seconds a job stays ours without renewal"),
    poll: float = typer.Option(0.5, "--poll", min=0.01, help="seconds between polls when idle"),
    until_idle: bool = typer.Option(False, "--until-idle", help="exit when nothing is claimable"),
    max_jobs: Optional[int] = typer.Option(None, "--max-jobs", min=1),
) -> None:
    """Take queued turns and run them until stopped (SIGTERM finishes the job in hand)."""
    from ._worker import Worker

    with _session(ctx) as session:
        w = Worker(session, lease_s=lease, poll_s=poll)
        if not ctx.obj.as_json:
            out.print(f"worker {w.name} on {session.database.url.raw}")
        stats = w.run(
            until_idle=until_idle,
            max_jobs=max_jobs,
            on_job=None
            if ctx.obj.as_json
            else lambda job, text: out.print(f"{job.thread_id}: {text}", highlight=False),
        )
    emit(ctx, dataclasses.asdict(stats), lambda: out.print(
        f"worker {w.name}: {stats.done} done, {stats.failed} failed, {stats.taken_over} taken over"))
