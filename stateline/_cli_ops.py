"""Operational CLI commands: agent lifecycle, runs, stats, recovery, effects.

Registered on the ``stateline`` Typer app by ``cli.py``; every one takes ``--json``
(global) and fails with one line and exit status 2 on a typed error.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Optional

import typer
from rich.table import Table

from stateline.errors import InvalidInputError, SetupError

from ._app import App
from .cli import AgentsFileOpt, ExampleOpt, _session, _when, agents_app, app, emit, err, out

runs_app = typer.Typer(no_args_is_help=True, help="Tracked runs: one per turn, resume or recovery.")
effects_app = typer.Typer(no_args_is_help=True, help="Side effects in the ledger; resolve the ones in doubt.")
app.add_typer(runs_app, name="runs")
app.add_typer(effects_app, name="effects")


def ops(session: App) -> Any:
    if session.ops is None:
        raise SetupError("this command needs tracking, which is off for this app")
    return session.ops


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


# -- agents ---------------------------------------------------------------------------
ReasonOpt = typer.Option(None, "--reason", "-r", help="why (stored in the history)")
TRANSITION_COMMANDS = {
    "pause": "Stop routing messages to AGENT (its drafts are kept).",
    "activate": "Route messages to AGENT again (from paused or initialized).",
    "terminate": "Retire AGENT for good.",
    "initialize": "Re-initialize AGENT after it went to error (then `agents activate`).",
}


def _transition_command(verb: str) -> Callable[..., None]:
    def command(
        ctx: typer.Context, agent: str, reason: Optional[str] = ReasonOpt, example: str = ExampleOpt,
        agents_file: Optional[str] = AgentsFileOpt,
    ) -> None:
        with _session(ctx, example, agents_file) as session:
            step = getattr(ops(session).lifecycle, verb)(agent, **({"reason": reason} if reason else {}))
        emit(ctx, step, lambda: out.print(
            f"agent [bold]{agent}[/]: {step.from_status} -> {step.to_status} ({step.reason})", highlight=False))

    command.__name__ = f"agents_{verb}"
    command.__doc__ = TRANSITION_COMMANDS[verb]
    return command


for _verb in TRANSITION_COMMANDS:
    agents_app.command(_verb)(_transition_command(_verb))


@agents_app.command("migrate")
def agents_migrate(
    ctx: typer.Context, dry_run: bool = typer.Option(False, "--dry-run", help="list what would change, write nothing"),
    example: str = ExampleOpt, agents_file: Optional[str] = AgentsFileOpt,
) -> None:
    """Fit drafts stored under an older schema version of an agent to its current one."""
    from stateline.graphs import migrate_threads

    with _session(ctx, example, agents_file) as session:
        threads = [t.thread_id for t in session.list_threads(limit=1_000_000)]
        rows = migrate_threads(session.graph, session.agents(), threads, apply=not dry_run)

    def render() -> None:
        if not rows:
            out.print("every stored draft matches its agent's version")
        for r in rows:
            dropped = f", dropped {', '.join(r.dropped)}" if r.dropped else ""
            out.print(f"{r.thread_id} {r.agent}: v{r.from_version} -> v{r.to_version} {r.status}{dropped}", highlight=False)

    emit(ctx, rows, render)


@agents_app.command("history")
def agents_history(ctx: typer.Context, agent: str, example: str = ExampleOpt, agents_file: Optional[str] = AgentsFileOpt) -> None:
    """Every lifecycle transition of AGENT, oldest first."""
    with _session(ctx, example, agents_file) as session:
        rows = ops(session).lifecycle.history(agent)

    def render() -> None:
        table = Table("#", "from", "to", "reason", "actor", "when")
        for r in rows:
            table.add_row(str(r.seq), r.from_status or "-", r.to_status, r.reason, r.actor, _when(r.at))
        out.print(table)

    emit(ctx, rows, render)


# -- runs -----------------------------------------------------------------------------
@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    thread: Optional[str] = typer.Option(None, "--thread", "-t"),
    status: Optional[str] = typer.Option(None, "--status", "-s", help="running, completed, failed, interrupted, waiting, retried"),
    limit: int = typer.Option(50, "--limit", min=1),
    example: str = ExampleOpt,
) -> None:
    """Tracked runs, newest first."""
    with _session(ctx, example) as session:
        rows = ops(session).runs.list(thread_id=thread, status=status, limit=limit)

    def render() -> None:
        table = Table("run", "thread", "kind", "agent", "status", "started", "duration", "error")
        for r in rows:
            error = f"{r.error_type}: {r.error_message}" if r.error_type else (r.note or "")
            table.add_row(r.run_id, r.thread_id, r.kind, r.agent or "-", r.status, _when(r.started_at), _secs(r.duration_s), error)
        out.print(table)

    emit(ctx, rows, render)


@runs_app.command("show")
def runs_show(ctx: typer.Context, run: str, example: str = ExampleOpt) -> None:
    """A run's timeline: steps with durations and errors, and its side effects (in doubt flagged)."""
    from stateline.lifecycle import run_detail

    with _session(ctx, example) as session:
        o = ops(session)
        detail = run_detail(o.runs, o.ledger, run)

    def render() -> None:
        r = detail.run
        out.print(f"run [bold]{r.run_id}[/] ({r.kind}) thread {r.thread_id}: [bold]{r.status}[/]"
                  f"; agent {r.agent or '-'}; pid {r.pid} on {r.host}; attempt {r.attempt}", highlight=False)
        if r.input:
            out.print(f"  input: {r.input}", highlight=False)
        if r.error_type:
            out.print(f"  [red]error: {r.error_type}: {r.error_message}[/]", highlight=False)
        if r.note:
            out.print(f"  note: {r.note}", highlight=False)
        table = Table("#", "+time", "event", "where", "duration", "detail")
        for e in detail.events:
            where = "/".join(x for x in (e.graph, e.node) if x)
            info = f"{e.error_type}: {e.error_message}" if e.error_type else (e.detail or "")
            table.add_row(str(e.seq), f"{(e.at - r.started_at) * 1000:.1f} ms", e.kind, where, _secs(e.duration_s), info)
        out.print(table)
        for f in detail.effects:
            flag = " [red](IN DOUBT)[/]" if f.status == "started" else ""
            out.print(f"  effect {f.effect_id} {f.name}: {f.status}{flag}", highlight=False)

    emit(ctx, detail, render)


@app.command()
def stats(ctx: typer.Context, example: str = ExampleOpt) -> None:
    """Per agent: runs, failures, mean and p95 duration, delegations."""
    with _session(ctx, example) as session:
        rows = ops(session).runs.stats()

    def render() -> None:
        table = Table("agent", "runs", "failures", "mean", "p95", "delegations")
        for s in rows:
            table.add_row(s.agent, str(s.runs), str(s.failures), _secs(s.mean_s), _secs(s.p95_s), str(s.delegations))
        out.print(table)

    emit(ctx, rows, render)


# -- recovery -------------------------------------------------------------------------
def print_recovery(report: Any, to_stderr: bool = False) -> None:
    console = err if to_stderr else out
    console.print(f"recover: {report.summary()}", highlight=False)
    for a in report.actions:
        console.print(f"  {a.thread_id}: {a.outcome} - {a.detail}", highlight=False)


@app.command()
def recover(
    ctx: typer.Context,
    thread: Optional[str] = typer.Option(None, "--thread", "-t", help="only this thread"),
    wait: bool = typer.Option(False, "--wait", help="wait for retries whose backoff has not elapsed"),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="retry failed turns whatever the error (its cause fixed)"),
    example: str = ExampleOpt,
    agents_file: Optional[str] = AgentsFileOpt,
) -> None:
    """Resume interrupted threads, retry transient failures, re-submit inputs lost before a checkpoint."""
    with _session(ctx, example, agents_file) as session:
        report = session.recover(thread_id=thread, wait=wait, retry_failed=retry_failed)
    emit(ctx, {"summary": report.summary(), "actions": report.actions}, lambda: print_recovery(report))


# -- effects --------------------------------------------------------------------------
@effects_app.command("list")
def effects_list(
    ctx: typer.Context,
    thread: Optional[str] = typer.Option(None, "--thread", "-t"),
    in_doubt: bool = typer.Option(False, "--in-doubt", help="only effects whose outcome is unknown"),
    example: str = ExampleOpt,
) -> None:
    """Recorded side effects, oldest first."""
    with _session(ctx, example) as session:
        ledger = ops(session).ledger
        rows = ledger.in_doubt(thread_id=thread) if in_doubt else ledger.list(thread_id=thread)

    def render() -> None:
        table = Table("effect", "thread", "name", "status", "run", "result", "resolution")
        for f in rows:
            status = "IN DOUBT" if f.status == "started" else f.status
            table.add_row(f.effect_id, f.thread_id, f.name, status, f.run_id or "-", json.dumps(f.result), f.resolution or "")
        out.print(table)

    emit(ctx, rows, render)


@effects_app.command("resolve")
def effects_resolve(
    ctx: typer.Context,
    effect: str,
    done: bool = typer.Option(False, "--done", help="it did happen"),
    value: Optional[str] = typer.Option(None, "--value", help="its result, as JSON (with --done)"),
    redo: bool = typer.Option(False, "--redo", help="it did not happen: allow it to run again"),
    note: Optional[str] = typer.Option(None, "--note"),
    example: str = ExampleOpt,
) -> None:
    """Settle an in-doubt effect; then `stateline recover` finishes its turn."""
    try:
        parsed = None if value is None else json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"--value must be JSON (e.g. '\"abc\"' or 42): {exc}") from exc
    with _session(ctx, example) as session:
        record = ops(session).ledger.resolve(effect, done=done, value=parsed, redo=redo, note=note)
    emit(ctx, record, lambda: out.print(f"effect {record.effect_id} {record.name}: {record.status} ({record.resolution})", highlight=False))
