"""The ``stateline`` command: demo, init, chat, run, threads, agents, and the operational commands.

Every failure the user can fix exits with status 2 and one line on stderr. Global options
(``--json``, ``--db``, ``--verbose``, ``--example``, ``--agents-file``) go before or after the
command name. Only what a command runs is imported, so ``stateline --help`` answers at once.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console

from stateline.errors import StatelineError

from ._session import db_url, open_inspection, open_session, selected

if TYPE_CHECKING:
    from ._app import App

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Multi-agent conversations that survive crashes.")
threads_app = typer.Typer(no_args_is_help=True, help="Inspect stored conversations.")
agents_app = typer.Typer(no_args_is_help=True, help="Registered agents.")
app.add_typer(threads_app, name="threads")
app.add_typer(agents_app, name="agents")
out = Console()
err = Console(stderr=True)

ThreadOpt = typer.Option(..., "--thread", "-t", help="conversation id")
UserOpt = typer.Option(None, "--user", "-u", help="user id (cross-thread memory)")
RecoverOpt = typer.Option(False, "--recover", help="first recover interrupted work (see `stateline recover`)")
GLOBAL_FLAGS = {"--json", "--verbose", "-v"}
DB_HELP = (
    "sqlite:///path, postgresql://user@host/db or memory (default: $STATELINE_DB, the project's db, or stateline.db)"
)
AGENTS_FILE_HELP = "TOML file listing agents (default: stateline.toml here or in a parent)"
GLOBAL_VALUED = {"--db", "--example", "-e", "--agents-file"}


@dataclasses.dataclass
class Globals:
    db: Optional[str]
    """--db as given (see ``_session.db_url`` for the default)."""
    as_json: bool
    """--json: machine-readable output."""
    verbose: bool = False
    """--verbose: full tracebacks of errors in user code."""
    example: Optional[str] = None
    """--example: a built-in example's agents, named on purpose."""
    agents_file: Optional[str] = None
    """--agents-file: a TOML file naming the agents (else stateline.toml is looked for)."""


@app.callback()
def _main(
    ctx: typer.Context,
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="print machine-readable JSON"),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="full tracebacks for errors in your agents' code"),
    example: Optional[str] = typer.Option(
        None, "--example", "-e", help="a built-in example's agents: storefront or assistant"
    ),
    agents_file: Optional[str] = typer.Option(None, "--agents-file", help=AGENTS_FILE_HELP),
) -> None:
    ctx.obj = Globals(db, as_json, verbose, example, agents_file)


def _session(ctx: typer.Context, approval: list[str] | None = None) -> App:
    return open_session(
        db=ctx.obj.db, example=ctx.obj.example, agents_file=ctx.obj.agents_file, approval=approval or ()
    )


def _inspect(ctx: typer.Context) -> Any:
    """The database read-only and the named agents, if any (see ``_session.open_inspection``)."""
    return open_inspection(ctx.obj.db, ctx.obj.example, ctx.obj.agents_file)


def url_of(ctx: typer.Context) -> str:
    return db_url(ctx.obj.db, selected(ctx.obj.example, ctx.obj.agents_file))


def _recover_first(session: App, enabled: bool) -> Any:
    if not enabled:
        return None
    from ._cli_ops import print_recovery

    report = session.recover()
    print_recovery(report, to_stderr=True)
    return report


def emit(ctx: typer.Context, data: Any, render: Callable[[], None]) -> None:
    """Print ``data`` as JSON with --json, else call ``render`` for the human form."""
    if ctx.obj.as_json:
        out.print_json(json.dumps(data, default=_jsonable))
    else:
        render()


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return str(value)


def print_replies(replies: Any, prefix: str = "") -> None:
    for reply in replies:
        out.print(f"{prefix}[bold cyan]{reply.agent or 'assistant'}>[/] {reply.text}", highlight=False)


def print_turn(turn: Any) -> None:
    print_replies(turn.replies)
    if turn.status == "waiting":
        from ._cli_inspect import describe_waiting

        out.print(f"[yellow]{describe_waiting(turn.interrupt, turn.thread_id)}[/]", highlight=False)


def recovered_replies(session: App, thread: str) -> list[Any]:
    """The replies of the turn before the latest message (one a crash cut short, finished now)."""
    messages = list(session.state(thread).messages)
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    if len(users) < 2:
        return []
    return [m for m in messages[users[-2] + 1 : users[-1]] if m.role == "assistant"]


def _send(ctx: typer.Context, session: App, thread: str, text: str, user: str | None) -> Any:
    from ._cli_report import user_code_failure

    try:
        return session.send(thread, text, user_id=user)
    except StatelineError:
        raise
    except Exception as exc:
        raise user_code_failure(exc, session, thread, verbose=ctx.obj.verbose) from exc


@app.command()
def run(
    ctx: typer.Context,
    message: str = typer.Argument(..., help="what the user says"),
    thread: str = ThreadOpt,
    user: Optional[str] = UserOpt,
    recover: bool = RecoverOpt,
) -> None:
    """Send one message to a thread and print the reply."""
    with _session(ctx) as session:
        report = _recover_first(session, recover)
        turn = _send(ctx, session, thread, message, user)
        acted = report is not None and any(a.thread_id == thread for a in getattr(report, "acted", []) or [])
        earlier = recovered_replies(session, thread) if turn.previous == "resumed" or acted else []
    data = {**dataclasses.asdict(turn), "recovered_replies": [dataclasses.asdict(m) for m in earlier]}

    def render() -> None:
        if earlier:
            out.print("[dim](the previous turn, cut short, was finished first:)[/]")
            print_replies(earlier, prefix="  ")
        print_turn(turn)

    emit(ctx, data, render)


@app.command()
def chat(
    ctx: typer.Context,
    thread: str = ThreadOpt,
    user: Optional[str] = UserOpt,
    recover: bool = RecoverOpt,
) -> None:
    """Talk to the agents interactively (empty line or Ctrl-D to leave)."""
    with _session(ctx) as session:
        _recover_first(session, recover)
        out.print(
            f"thread [bold]{thread}[/] on {session.database.url.raw}; agents: {', '.join(session.registry.names())}"
        )
        while True:
            try:
                line = input("you> ")
            except EOFError:
                break
            if not line.strip():
                break
            try:
                print_turn(_send(ctx, session, thread, line, user))
            except StatelineError as exc:
                err.print(getattr(exc, "report", f"error: {exc}"), highlight=False, markup=False)


@app.command()
def demo(ctx: typer.Context, thread: str = typer.Option("demo", "--thread", "-t")) -> None:
    """A scripted storefront conversation, stopped and continued in a new process."""
    from ._demo import run_demo

    run_demo(db_url(ctx.obj.db), thread, out)


def _when(ts: float | None) -> str:
    import datetime as dt

    return "-" if ts is None else dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def hoist_globals(argv: list[str]) -> list[str]:
    """Move global options to the front, so ``stateline threads show T --json`` works too."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        name = arg.split("=", 1)[0]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in GLOBAL_FLAGS:
            front.append(arg)
        elif name in GLOBAL_VALUED and "=" in arg:
            front.append(arg)
        elif arg in GLOBAL_VALUED and i + 1 < len(argv):
            front.extend(argv[i : i + 2])
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> None:
    """Entry point: typed errors become one line on stderr and exit status 2."""
    if argv is None:  # the program itself (not a caller in this process): it exits after the command
        try:
            _run(sys.argv[1:])
        finally:
            # the interpreter's exit would garbage-collect every object left (the imported stack,
            # a server's graphs and caches): a `serve` stop took 2.5-3 s after SIGTERM on a loaded
            # 2-core machine, 0.3-0.45 s with this. Frozen objects are skipped at exit; files and
            # databases are closed by the commands themselves, and atexit handlers still run.
            import gc

            gc.freeze()
        return
    _run(argv)


def _run(argv: list[str]) -> None:
    args = hoist_globals(list(argv))
    try:
        app(args=args, standalone_mode=False)
    except StatelineError as exc:
        from ._cli_report import UserCodeFailure

        if isinstance(exc, UserCodeFailure):
            err.print(exc.report, highlight=False, soft_wrap=True, markup=False)
            sys.exit(1)
        err.print(f"error: {exc}", highlight=False, soft_wrap=True, markup=False)
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


from . import _cli_inspect_commands  # noqa: E402,F401 - registers threads list|show, runs list|show, effects list, agents list|show
from . import _cli_server  # noqa: E402,F401 - registers `serve` and `resume`
from . import _cli_ops  # noqa: E402,F401 - registers stats, recover, effects resolve, agents pause/...
from . import _cli_worker  # noqa: E402,F401 - registers enqueue, jobs, worker
from . import _cli_storage  # noqa: E402,F401 - registers prune, rekey, threads history/rewind/fork/delete
from . import _cli_init  # noqa: E402,F401 - registers init
from . import _cli_backup  # noqa: E402,F401 - registers backup, restore, check
from . import _cli_export  # noqa: E402,F401 - registers export-graph


if __name__ == "__main__":
    main()
