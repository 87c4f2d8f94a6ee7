"""``stateline backup``, ``restore`` and ``check`` (SQLite; PostgreSQL: pg_dump/pg_restore)."""

from __future__ import annotations

import dataclasses

import typer


from ._session import db_url
from .cli import app, emit, out


@app.command()
def backup(
    ctx: typer.Context, dest: str = typer.Argument(..., help="the backup file to write (must not exist)")
) -> None:
    """Copy the database to DEST while it may be in use (one consistent snapshot; sealed data stays sealed)."""
    from stateline.checkpointing import backup_database  # lazy: `stateline --help` imports no langgraph

    report = backup_database(db_url(ctx.obj.db), dest)
    emit(ctx, dataclasses.asdict(report), lambda: out.print(
        f"backed up {report.source} to {report.target}: {report.bytes} bytes, {report.pages} pages"
        f"{', encrypted' if report.encrypted else ''}", highlight=False))


@app.command()
def restore(
    ctx: typer.Context,
    source: str = typer.Argument(..., help="a file written by `stateline backup`"),
    force: bool = typer.Option(False, "--force", help="replace an existing database (stop everything using it first)"),
) -> None:
    """Put a backup where --db lives, after checking it."""
    from stateline.checkpointing import restore_database  # lazy: `stateline --help` imports no langgraph

    report = restore_database(source, db_url(ctx.obj.db), force=force)
    emit(ctx, dataclasses.asdict(report), lambda: out.print(
        f"restored {report.source} to {report.target}: {report.bytes} bytes", highlight=False))


@app.command("check")
def check_command(ctx: typer.Context) -> None:
    """Check the database read-only: its write-ahead log, then SQLite's quick_check (exit 2 on damage)."""
    from stateline.checkpointing import check_database  # lazy: `stateline --help` imports no langgraph

    report = check_database(db_url(ctx.obj.db))
    frames = f"{report.wal.frames} WAL frames ({report.wal.commits} commits)" if report.wal else "no WAL"
    emit(ctx, dataclasses.asdict(report), lambda: out.print(f"{report.path}: ok; {frames}", highlight=False))
