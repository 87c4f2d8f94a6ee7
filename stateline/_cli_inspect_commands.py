"""The inspecting commands: ``threads list|show``, ``runs list|show``, ``effects list``, ``agents list|show``.

They open the database read-only (nothing created, no ``-wal``, no checkpoint of the file)
and need no agents: they read what is stored. Agents named by a project file,
``--agents-file`` or ``--example`` add descriptions to ``agents list``.
"""

from __future__ import annotations

import json
from typing import Any, Optional

import typer
from rich.table import Table

from stateline.errors import UnknownAgentError, UnknownRunError

from ._cli_inspect import describe_waiting, list_threads, resolve_prefix, thread_view, tracked
from .cli import _inspect, _when, agents_app, app, emit, out, threads_app

runs_app = typer.Typer(no_args_is_help=True, help="Tracked runs: one per turn, resume or recovery.")
effects_app = typer.Typer(no_args_is_help=True, help="Side effects in the ledger; resolve the ones in doubt.")
app.add_typer(runs_app, name="runs")
app.add_typer(effects_app, name="effects")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


@threads_app.command("list")
def threads_list(ctx: typer.Context, user: Optional[str] = typer.Option(None, "--user", "-u")) -> None:
    """Stored conversations, most recent first."""
    db, _ = _inspect(ctx)
    with db:
        rows = list_threads(db, user)

    def render() -> None:
        table = Table("thread", "user", "workflow", "turns", "updated")
        for r in rows:
            table.add_row(r.thread_id, r.user_id or "-", r.workflow or "-", str(r.turns), _when(r.updated_at))
        out.print(table)

    emit(ctx, rows, render)


@threads_app.command("show")
def threads_show(ctx: typer.Context, thread: str) -> None:
    """A thread's status, active agent, drafts and messages."""
    db, _ = _inspect(ctx)
    with db:
        view = thread_view(db, thread)

    def render() -> None:
        out.print(f"thread [bold]{view.thread_id}[/]: {view.status}; active agent: {view.active_agent or '-'}")
        for agent, draft in view.drafts.items():
            out.print(f"  draft of {agent}: {draft}", highlight=False)
        for m in view.messages:
            who = "user" if m.role == "user" else (m.agent or m.role)
            out.print(f"  [dim]{who}>[/] {m.text}", highlight=False)
        if view.status == "waiting":
            out.print(f"[yellow]{describe_waiting(view.interrupt, view.thread_id)}[/]", highlight=False)

    emit(ctx, view, render)


@runs_app.command("list")
def runs_list(
    ctx: typer.Context,
    thread: Optional[str] = typer.Option(None, "--thread", "-t"),
    status: Optional[str] = typer.Option(
        None, "--status", "-s", help="running, completed, failed, interrupted, waiting, retried"
    ),
    limit: int = typer.Option(50, "--limit", min=1),
) -> None:
    """Tracked runs, newest first (`runs show` takes any unique prefix of a run id)."""
    from stateline.lifecycle import RunLog

    db, _ = _inspect(ctx)
    with db:
        rows = RunLog(db).list(thread_id=thread, status=status, limit=limit) if tracked(db) else []

    def render() -> None:
        table = Table("run", "thread", "kind", "agent", "status", "started", "duration", "error")
        for r in rows:
            error = f"{r.error_type}: {r.error_message}" if r.error_type else (r.note or "")
            table.add_row(
                r.run_id, r.thread_id, r.kind, r.agent or "-", r.status, _when(r.started_at), _secs(r.duration_s), error
            )
        out.print(table)

    emit(ctx, rows, render)


@runs_app.command("show")
def runs_show(ctx: typer.Context, run: str) -> None:
    """A run's timeline: steps with durations and errors, and its side effects (in doubt flagged)."""
    from stateline.lifecycle import DurableLedger, RunLog, run_detail

    db, _ = _inspect(ctx)
    with db:
        full = resolve_prefix(db, "tracking_runs", "run_id", run, "run id") if tracked(db) else None
        if full is None:
            raise UnknownRunError(run)
        detail = run_detail(RunLog(db), DurableLedger(db), full)
    emit(ctx, detail, lambda: _render_run(detail))


def _render_run(detail: Any) -> None:
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


@effects_app.command("list")
def effects_list(
    ctx: typer.Context,
    thread: Optional[str] = typer.Option(None, "--thread", "-t"),
    in_doubt: bool = typer.Option(False, "--in-doubt", help="only effects whose outcome is unknown"),
) -> None:
    """Recorded side effects, oldest first."""
    from stateline.lifecycle import DurableLedger

    db, _ = _inspect(ctx)
    with db:
        ledger = DurableLedger(db) if tracked(db) else None
        rows = (
            [] if ledger is None else ledger.in_doubt(thread_id=thread) if in_doubt else ledger.list(thread_id=thread)
        )

    def render() -> None:
        table = Table("effect", "thread", "name", "status", "run", "result", "resolution")
        for f in rows:
            status = "IN DOUBT" if f.status == "started" else f.status
            table.add_row(
                f.effect_id, f.thread_id, f.name, status, f.run_id or "-", json.dumps(f.result), f.resolution or ""
            )
        out.print(table)

    emit(ctx, rows, render)


@agents_app.command("list")
def agents_list(ctx: typer.Context) -> None:
    """The named agents (project file, --agents-file, --example) and every agent with a stored status."""
    from stateline.lifecycle import Lifecycle

    db, agents = _inspect(ctx)
    with db:
        status = {s.agent: s.status for s in Lifecycle(db).list()} if tracked(db) else {}
    rows = [{"name": a.name, "status": status.pop(a.name, "-"), "description": a.description,
             "intents": list(a.intents), "fields": list(a.schema.model_fields) if a.schema is not None else []}
            for a in agents]
    rows += [
        {"name": n, "status": s, "description": "(not named here)", "intents": [], "fields": []}
        for n, s in status.items()
    ]

    def render() -> None:
        table = Table("agent", "status", "description", "intents", "collects")
        for r in rows:
            table.add_row(
                r["name"], r["status"], r["description"], ", ".join(r["intents"]), ", ".join(r["fields"]) or "-"
            )
        out.print(table)

    emit(ctx, rows, render)


@agents_app.command("show")
def agents_show(ctx: typer.Context, name: str) -> None:
    """One agent: what it does and the fields it collects."""
    db, agents = _inspect(ctx)
    db.close()
    agent = next((a for a in agents if a.name == name), None)
    if agent is None:
        raise UnknownAgentError(name, [a.name for a in agents])
    row = {"name": agent.name, "description": agent.description, "intents": list(agent.intents),
           "schema": agent.schema.model_json_schema(), "approval": agent.approval}
    emit(ctx, row, lambda: out.print_json(json.dumps(row)))
