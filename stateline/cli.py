"""The ``stateline`` command: demo, chat, run, threads, agents.

Every failure the user can fix exits with status 2 and one line on stderr.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from typing import Any, Optional

import typer
from rich.console import Console
from rich.table import Table

from stateline.errors import StatelineError

from ._app import App
from ._session import db_url, open_session

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Multi-agent conversations that survive crashes.")
threads_app = typer.Typer(no_args_is_help=True, help="Inspect stored conversations.")
agents_app = typer.Typer(no_args_is_help=True, help="Registered agents.")
app.add_typer(threads_app, name="threads")
app.add_typer(agents_app, name="agents")
out = Console()
err = Console(stderr=True)

ThreadOpt = typer.Option(..., "--thread", "-t", help="conversation id")
UserOpt = typer.Option(None, "--user", "-u", help="user id (cross-thread memory)")
ExampleOpt = typer.Option("storefront", "--example", "-e", help="storefront or assistant")
AgentsFileOpt = typer.Option(None, "--agents-file", help="TOML file listing agents as module:attribute")
RecoverOpt = typer.Option(False, "--recover", help="first recover interrupted work (see `stateline recover`)")


def _recover_first(session: App, enabled: bool) -> None:
    if enabled:
        from ._cli_ops import print_recovery

        print_recovery(session.recover(), to_stderr=True)


@dataclasses.dataclass
class Globals:
    db: Optional[str]
    as_json: bool


@app.callback()
def _main(
    ctx: typer.Context,
    db: Optional[str] = typer.Option(None, "--db", help="sqlite:///path, postgresql://user@host/db or memory (default: $STATELINE_DB or stateline.db)"),
    as_json: bool = typer.Option(False, "--json", help="print machine-readable JSON"),
) -> None:
    ctx.obj = Globals(db, as_json)


def _session(ctx: typer.Context, example: str | None, agents_file: str | None = None) -> App:
    return open_session(db=ctx.obj.db, example=None if agents_file else example, agents_file=agents_file)


def emit(ctx: typer.Context, data: Any, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON with --json, else call ``render`` for the human form."""
    if ctx.obj.as_json:
        out.print_json(json.dumps(data, default=_jsonable))
    else:
        render()


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    return str(value)


def print_turn(turn: Any) -> None:
    for reply in turn.replies:
        out.print(f"[bold cyan]{reply.agent or 'assistant'}>[/] {reply.text}", highlight=False)
    if turn.status == "waiting":
        out.print(f"[yellow]waiting for approval:[/] {turn.interrupt}", highlight=False)


@app.command()
def run(
    ctx: typer.Context,
    message: str = typer.Argument(..., help="what the user says"),
    thread: str = ThreadOpt,
    user: Optional[str] = UserOpt,
    example: str = ExampleOpt,
    agents_file: Optional[str] = AgentsFileOpt,
    recover: bool = RecoverOpt,
) -> None:
    """Send one message to a thread and print the reply."""
    with _session(ctx, example, agents_file) as session:
        _recover_first(session, recover)
        turn = session.send(thread, message, user_id=user)
    emit(ctx, turn, lambda: print_turn(turn))


@app.command()
def chat(
    ctx: typer.Context,
    thread: str = ThreadOpt,
    user: Optional[str] = UserOpt,
    example: str = ExampleOpt,
    agents_file: Optional[str] = AgentsFileOpt,
    recover: bool = RecoverOpt,
) -> None:
    """Talk to the agents interactively (empty line or Ctrl-D to leave)."""
    with _session(ctx, example, agents_file) as session:
        _recover_first(session, recover)
        out.print(f"thread [bold]{thread}[/] on {db_url(ctx.obj.db)}; agents: {', '.join(session.registry.names())}")
        while True:
            try:
                line = input("you> ")
            except EOFError:
                break
            if not line.strip():
                break
            try:
                print_turn(session.send(thread, line, user_id=user))
            except StatelineError as exc:
                err.print(f"error: {exc}", highlight=False)


@app.command()
def demo(ctx: typer.Context, thread: str = typer.Option("demo", "--thread", "-t")) -> None:
    """A scripted storefront conversation, stopped and continued in a new process."""
    from ._demo import run_demo

    run_demo(db_url(ctx.obj.db), thread, out)


@threads_app.command("list")
def threads_list(ctx: typer.Context, user: Optional[str] = typer.Option(None, "--user", "-u"), example: str = ExampleOpt) -> None:
    """Stored conversations, most recent first."""
    with _session(ctx, example) as session:
        rows = session.list_threads(user_id=user)

    def render() -> None:
        table = Table("thread", "user", "workflow", "turns", "updated")
        for r in rows:
            table.add_row(r.thread_id, r.user_id or "-", r.workflow or "-", str(r.turns), _when(r.updated_at))
        out.print(table)

    emit(ctx, rows, render)


@threads_app.command("show")
def threads_show(ctx: typer.Context, thread: str, example: str = ExampleOpt) -> None:
    """A thread's status, active agent, drafts and messages."""
    with _session(ctx, example) as session:
        view = session.state(thread)

    def render() -> None:
        out.print(f"thread [bold]{view.thread_id}[/]: {view.status}; active agent: {view.active_agent or '-'}")
        for agent, draft in view.drafts.items():
            out.print(f"  draft of {agent}: {draft}", highlight=False)
        for m in view.messages:
            who = "user" if m.role == "user" else (m.agent or m.role)
            out.print(f"  [dim]{who}>[/] {m.text}", highlight=False)

    emit(ctx, view, render)


@agents_app.command("list")
def agents_list(ctx: typer.Context, example: str = ExampleOpt, agents_file: Optional[str] = AgentsFileOpt) -> None:
    """The agents of an example (or agents file) and what they do."""
    with _session(ctx, example, agents_file) as session:
        status = {s.agent: s.status for s in session.ops.lifecycle.list()} if session.ops else {}
        rows = [{"name": a.name, "status": status.get(a.name, "-"), "description": a.description, "intents": list(a.intents), "fields": list(a.schema.model_fields)} for a in session.agents()]

    def render() -> None:
        table = Table("agent", "status", "description", "intents", "collects")
        for r in rows:
            table.add_row(r["name"], r["status"], r["description"], ", ".join(r["intents"]), ", ".join(r["fields"]) or "-")
        out.print(table)

    emit(ctx, rows, render)


@agents_app.command("show")
def agents_show(ctx: typer.Context, name: str, example: str = ExampleOpt, agents_file: Optional[str] = AgentsFileOpt) -> None:
    """One agent: what it does and the fields it collects."""
    with _session(ctx, example, agents_file) as session:
        agent = session.registry.get(name)
        row = {"name": agent.name, "description": agent.description, "intents": list(agent.intents),
               "schema": agent.schema.model_json_schema(), "approval": agent.approval}
    emit(ctx, row, lambda: out.print_json(json.dumps(row)))


def _when(ts: float | None) -> str:
    import datetime as dt

    return "-" if ts is None else dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


from . import _cli_server  # noqa: E402,F401 - registers `serve` and `resume`


def main(argv: list[str] | None = None) -> None:
    """Entry point: typed errors become one line on stderr and exit status 2."""
    try:
        app(args=argv, standalone_mode=False)
    except StatelineError as exc:
        err.print(f"error: {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(130)
    except typer.TyperException as exc:  # usage errors: typer vendors its own click
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            err.print(f"error: {exc}", highlight=False)
        sys.exit(2)


from . import _cli_ops  # noqa: E402,F401 - registers runs, stats, recover, effects, agents pause/...
from . import _cli_worker  # noqa: E402,F401 - registers enqueue, jobs, worker
from . import _cli_storage  # noqa: E402,F401 - registers prune, rekey, threads history/rewind/fork/delete
from . import _cli_backup  # noqa: E402,F401 - registers backup, restore, check


if __name__ == "__main__":
    main()
