"""Storage commands: ``prune``, ``rekey``, ``threads history|rewind|fork|delete``.

They need no agents, only the database (``--db``), so they open it directly instead
of a session. Each failure the user can fix is a typed error: one line, exit 2
(``cli.main``). ``threads history`` streams: rows are printed (and, with ``--json``,
written as one JSON array item by item) as they are read, in constant memory.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Optional

import typer

from stateline.errors import ConfigError, UnknownThreadError

from ._ids import check_id
from .cli import app, emit, err, out, threads_app, url_of

if TYPE_CHECKING:
    from stateline.checkpointing import Database

KEEP_LAST_ENV = "STATELINE_RETENTION_KEEP_LAST"  # checkpointing._policy's (not imported: --help stays fast)


@contextmanager
def _database(ctx: typer.Context, *, read_only: bool = False) -> Iterator[Database]:
    from stateline.checkpointing import open_database

    db = open_database(url_of(ctx), read_only=read_only)
    try:
        yield db
    finally:
        db.close()


def progress(message: str) -> None:
    """One line on stderr about a long operation (stdout keeps the result, also with --json)."""
    err.print(message, highlight=False, soft_wrap=True, markup=False)


def _size(db: Database) -> str:
    path = db.url.path
    if path is None or not path.exists():
        return "?"
    total = sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    return f"{total / 1e6:.1f} MB"


def _head_id(config: Any) -> str:
    return config["configurable"]["checkpoint_id"]


@app.command()
def prune(
    ctx: typer.Context,
    keep_last: Optional[int] = typer.Option(
        None, "--keep-last", min=1, help=f"keep the K newest checkpoints of each thread (default: ${KEEP_LAST_ENV})"
    ),
    idle_ttl: Optional[float] = typer.Option(
        None, "--idle-ttl", min=0, help="delete threads idle longer than this many seconds, with their rows"
    ),
    vacuum: bool = typer.Option(False, "--vacuum", help="give the freed space back to the OS afterwards"),
    thread: Optional[list[str]] = typer.Option(None, "--thread", "-t", help="only these threads (repeatable)"),
) -> None:
    """Apply retention. Unfinished threads (running, waiting, failed) are skipped; named, refused."""
    if keep_last is None and idle_ttl is None and os.environ.get(KEEP_LAST_ENV, "").strip():
        try:
            keep_last = int(os.environ[KEEP_LAST_ENV])
        except ValueError:
            raise ConfigError(f"{KEEP_LAST_ENV}={os.environ[KEEP_LAST_ENV]!r} is not a whole number") from None
    from stateline.checkpointing import apply_retention
    from stateline.checkpointing import vacuum as vacuum_db

    threads = [check_id("thread id", t) for t in thread] if thread else None
    with _database(ctx) as db:
        started = time.monotonic()
        report = apply_retention(db, keep_last=keep_last, idle_ttl=idle_ttl, thread_ids=threads)
        progress(f"prune: {report.pruned_checkpoints} checkpoint(s) removed in {time.monotonic() - started:.1f} s")
        if vacuum:
            started = time.monotonic()
            progress(f"prune: vacuuming ({_size(db)}); the file is locked meanwhile...")
            vacuum_db(db)
            report.vacuumed = True
            progress(f"prune: vacuumed in {time.monotonic() - started:.1f} s; now {_size(db)}")

    def render() -> None:
        out.print(
            f"pruned {report.pruned_checkpoints} checkpoint(s) in {len(report.pruned_threads)} thread(s); "
            f"deleted {len(report.deleted_threads)} idle thread(s){'; vacuumed' if report.vacuumed else ''}",
            highlight=False,
        )
        for thread_id, why in report.skipped.items():
            out.print(f"  skipped {thread_id}: {why}", highlight=False)

    emit(ctx, report, render)


@app.command("rekey")
def rekey_command(
    ctx: typer.Context,
    old_key: Optional[str] = typer.Option(
        None, "--old-key", envvar="STATELINE_AES_KEY", show_envvar=True, help="current key (none: not encrypted)"
    ),
    new_key: Optional[str] = typer.Option(
        None, "--new-key", envvar="STATELINE_NEW_AES_KEY", show_envvar=True, help="new key"
    ),
    decrypt: bool = typer.Option(False, "--decrypt", help="remove encryption (no new key)"),
) -> None:
    """Re-encrypt the whole database under a new key (stop every worker first)."""
    if decrypt and new_key:
        raise ConfigError("give either --new-key or --decrypt, not both")
    if not decrypt and not new_key:
        raise ConfigError("give --new-key KEY (or $STATELINE_NEW_AES_KEY), or --decrypt to remove encryption")
    from stateline.checkpointing import rekey

    url = url_of(ctx)
    started = time.monotonic()
    progress(f"rekey: re-encrypting every checkpoint and value of {url} in one transaction "
             "(an interruption changes nothing)...")
    rekey(url, old_key or None, None if decrypt else new_key)
    progress(f"rekey: done in {time.monotonic() - started:.1f} s")
    row = {"encrypted": not decrypt}
    emit(ctx, row, lambda: out.print("re-encrypted" if not decrypt else "decrypted", highlight=False))


def _history_row(item: Any) -> dict[str, Any]:
    from stateline.checkpointing._policy import pending_nodes

    meta = item.metadata or {}
    messages = item.checkpoint["channel_values"].get("messages")
    return {
        "checkpoint_id": _head_id(item.config),
        "step": meta.get("step"),
        "source": meta.get("source"),
        "next": pending_nodes(item.checkpoint),
        "messages": len(messages) if isinstance(messages, list) else 0,
        "created_at": item.checkpoint.get("ts"),
        "rewound_from": meta.get("rewound_from"),
    }


@threads_app.command("history")
def threads_history(
    ctx: typer.Context,
    thread: str,
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="at most this many (default: all)"),
) -> None:
    """The thread's checkpoints, newest first, streamed as they are read."""
    from stateline.checkpointing import iter_history

    thread = check_id("thread id", thread)
    with _database(ctx, read_only=True) as db:
        rows = (_history_row(item) for item in iter_history(db, thread, limit=limit))
        first = next(rows, None)
        if first is None:
            raise UnknownThreadError(thread)
        if ctx.obj.as_json:
            out.file.write("[\n" + json.dumps(first))
            for row in rows:
                out.file.write(",\n" + json.dumps(row))
            out.file.write("\n]\n")
            return
        out.print(
            f"{'checkpoint':<38} {'step':>5} {'source':<7} {'next':<16} {'msgs':>5}  created",
            highlight=False,
            soft_wrap=True,
        )
        for row in _chain(first, rows):
            out.print(
                f"{row['checkpoint_id']:<38} {row['step']!s:>5} {row['source']!s:<7} "
                f"{','.join(row['next']) or '-':<16} {row['messages']:>5}  {_short(row['created_at'])}",
                highlight=False,
                soft_wrap=True,
            )


def _chain(first: dict[str, Any], rest: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    yield first
    yield from rest


def _short(ts: str | None) -> str:
    if not ts:
        return "-"
    try:
        return datetime.fromisoformat(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ts


@threads_app.command("rewind")
def threads_rewind(
    ctx: typer.Context,
    thread: str,
    to: str = typer.Option(..., "--to", help="checkpoint id (see `threads history`)"),
) -> None:
    """Make an old checkpoint the thread's head again (a new checkpoint; history kept)."""
    from stateline.checkpointing import rewind

    thread = check_id("thread id", thread)
    with _database(ctx) as db:
        head = rewind(db, thread, to)
    row = {"thread_id": thread, "rewound_to": to, "head": _head_id(head)}
    emit(
        ctx,
        row,
        lambda: out.print(f"thread {thread} rewound to {to}; new head {row['head']}", highlight=False, soft_wrap=True),
    )


@threads_app.command("fork")
def threads_fork(
    ctx: typer.Context,
    thread: str,
    to: str = typer.Option(..., "--to", help="checkpoint id to fork from"),
    as_: str = typer.Option(..., "--as", help="id of the new thread"),
) -> None:
    """Copy the thread to a new one whose head is checkpoint CKPT; the source is unchanged."""
    from stateline.checkpointing import fork

    thread = check_id("thread id", thread)
    new_thread = check_id("thread id", as_)
    with _database(ctx) as db:
        head = fork(db, thread, to, new_thread)
        _copy_index_row(db, thread, new_thread)
    row = {"thread_id": new_thread, "forked_from": thread, "checkpoint_id": to, "head": _head_id(head)}
    emit(ctx, row, lambda: out.print(f"thread {new_thread} forked from {thread} at {to}", highlight=False))


def _copy_index_row(db: Database, source: str, target: str) -> None:
    """The fork shows in `threads list` with its source's owner and workflow."""
    from stateline.checkpointing import ThreadIndex

    if not ThreadIndex.present(db):
        return
    ThreadIndex(db)  # brings an older index up to the columns copied here
    db.execute(
        "INSERT INTO threads(thread_id, user_id, workflow, created_at, updated_at, turns, owner, title, policy) "
        "SELECT ?, user_id, workflow, created_at, updated_at, turns, owner, title, policy "
        "FROM threads WHERE thread_id = ? "
        "ON CONFLICT(thread_id) DO NOTHING",
        (target, source),
    )


@threads_app.command("delete")
def threads_delete(ctx: typer.Context, thread: str) -> None:
    """Delete the thread: checkpoints, its thread-index row, and other components' rows."""
    from stateline.checkpointing import ThreadIndex, delete_thread

    thread = check_id("thread id", thread)
    with _database(ctx) as db:
        indexed = ThreadIndex.present(db) and ThreadIndex(db).exists(thread)
        if not delete_thread(db, thread) and not indexed:
            raise UnknownThreadError(thread)
    emit(ctx, {"thread_id": thread, "deleted": True}, lambda: out.print(f"thread {thread} deleted", highlight=False))
