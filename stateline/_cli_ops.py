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

from stateline.errors import InvalidInputError, SetupError, UnknownEffectError

from ._cli_inspect import resolve_prefix, tracked
from ._cli_inspect_commands import _secs, effects_app
from .cli import _inspect, _session, _when, agents_app, app, emit, err, out


def ops(session: Any) -> Any:
    if session.ops is None:
        raise SetupError("this command needs tracking, which is off for this app")
    return session.ops


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
        ctx: typer.Context, agent: str, reason: Optional[str] = ReasonOpt,
    ) -> None:
        with _session(ctx) as session:
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
) -> None:
    """Fit drafts stored under an older schema version of an agent to its current one."""
    from stateline.graphs import migrate_threads

    with _session(ctx) as session:
        threads = [t.thread_id for t in session.list_threads(limit=1_000_000)]
        rows = migrate_threads(session.graph, session.agents(), threads, apply=not dry_run)

    def render() -> None:
        if not rows:
            out.print("every stored draft matches its agent's version")
        for r in rows:
            dropped = f", dropped {', '.join(r.dropped)}" if r.dropped else ""
            change = f"v{r.from_version} -> v{r.to_version} {r.status}{dropped}"
            out.print(f"{r.thread_id} {r.agent}: {change}", highlight=False)

    emit(ctx, rows, render)


@agents_app.command("history")
def agents_history(ctx: typer.Context, agent: str) -> None:
    """Every lifecycle transition of AGENT, oldest first."""
    from stateline.lifecycle import Lifecycle

    db, agents = _inspect(ctx)
    with db:
        known = [a.name for a in agents]
        rows = Lifecycle(db, agents=(lambda: known) if known else None).history(agent) if tracked(db) else []

    def render() -> None:
        table = Table("#", "from", "to", "reason", "actor", "when")
        for r in rows:
            table.add_row(str(r.seq), r.from_status or "-", r.to_status, r.reason, r.actor, _when(r.at))
        out.print(table)

    emit(ctx, rows, render)


@app.command()
def stats(ctx: typer.Context) -> None:
    """Per agent: runs, failures, mean and p95 duration, delegations."""
    from stateline.lifecycle import RunLog

    db, _ = _inspect(ctx)
    with db:
        rows = RunLog(db).stats() if tracked(db) else []

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
    retry_failed: bool = typer.Option(
        False, "--retry-failed", help="retry failed turns whatever the error (its cause fixed)"
    ),
) -> None:
    """Resume interrupted threads, retry transient failures, re-submit inputs lost before a checkpoint."""
    with _session(ctx) as session:
        report = session.recover(thread_id=thread, wait=wait, retry_failed=retry_failed)
    emit(ctx, {"summary": report.summary(), "actions": report.actions}, lambda: print_recovery(report))


# -- effects --------------------------------------------------------------------------
@effects_app.command("resolve")
def effects_resolve(
    ctx: typer.Context,
    effect: str,
    done: bool = typer.Option(False, "--done", help="it did happen"),
    value: Optional[str] = typer.Option(None, "--value", help="its result, as JSON (with --done)"),
    redo: bool = typer.Option(False, "--redo", help="it did not happen: allow it to run again"),
    note: Optional[str] = typer.Option(None, "--note"),
) -> None:
    """Settle an in-doubt effect; then `stateline recover` finishes its turn."""
    try:
        parsed = None if value is None else json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(f"--value must be JSON (e.g. '\"abc\"' or 42): {exc}") from exc
    with _session(ctx) as session:
        full = resolve_prefix(session.database, "effect_ledger", "effect_id", effect, "effect id")
        if full is None:
            raise UnknownEffectError(effect)
        record = ops(session).ledger.resolve(full, done=done, value=parsed, redo=redo, note=note)
    emit(
        ctx,
        record,
        lambda: out.print(
            f"effect {record.effect_id} {record.name}: {record.status} ({record.resolution})", highlight=False
        ),
    )
