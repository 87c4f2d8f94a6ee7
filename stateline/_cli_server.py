"""``stateline serve`` and ``stateline resume``, registered on the main CLI."""

from __future__ import annotations

from typing import Any, Optional

import typer

from stateline.errors import InvalidInputError

from .cli import RecoverOpt, _recover_first, _session, app, emit, out


def decision_from_flags(approve: bool, reject: bool, edit: list[str]) -> dict[str, Any] | None:
    """--approve | --reject | --edit k=v (repeatable) as a decision; None for none of them."""
    chosen = [name for name, on in (("approve", approve), ("reject", reject), ("edit", bool(edit))) if on]
    if len(chosen) > 1:
        raise InvalidInputError("choose one of --approve, --reject or --edit k=v")
    if not chosen:
        return None
    if chosen[0] != "edit":
        return {"action": chosen[0]}
    fields: dict[str, str] = {}
    for item in edit:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"--edit {item!r} must look like field=value")
        fields[key.strip()] = value.strip()
    return {"action": "edit", "fields": fields}


@app.command()
def resume(
    ctx: typer.Context,
    thread: str = typer.Argument(..., help="conversation id"),
    approve: bool = typer.Option(False, "--approve", help="approve the waiting draft"),
    reject: bool = typer.Option(False, "--reject", help="reject it (nothing is done)"),
    edit: list[str] = typer.Option([], "--edit", help="change a field, then ask again: --edit price=15 (repeatable)"),
) -> None:
    """Answer a thread waiting for approval, or (no flag) finish an interrupted turn."""
    decision = decision_from_flags(approve, reject, edit)
    with _session(ctx) as session:
        events = list(session.stream(thread, decision=decision))
    result: dict[str, Any] = {
        "thread_id": thread,
        "status": next((e.status for e in reversed(events) if e.type == "conversation_end"), "failed"),
        "replies": [{"agent": e.agent, "text": e.text} for e in events if e.type == "agent_complete"],
        "waiting": next((e.model_dump(mode="json") for e in reversed(events) if e.type == "waiting_input"), None),
        "errors": [e.message for e in events if e.type == "error"],
    }

    def render() -> None:
        for r in result["replies"]:
            out.print(f"[bold cyan]{r['agent']}>[/] {r['text']}", highlight=False)
        if result["waiting"]:
            from ._cli_inspect import describe_waiting

            waiting = {"agent": result["waiting"].get("agent"), "draft": result["waiting"].get("draft")}
            out.print(f"[yellow]{describe_waiting(waiting, thread)}[/]", highlight=False)
        for message in result["errors"]:
            out.print(f"[red]error:[/] {message}", highlight=False)
        out.print(f"thread {thread}: {result['status']}")

    emit(ctx, result, render)
    if result["status"] == "failed":
        raise typer.Exit(1)


@app.command()
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind (default: this machine only)"),
    port: int = typer.Option(8321, "--port", "-p", min=0, max=65535),
    approval: list[str] = typer.Option(
        [], "--approval", help="agent that must be approved before acting (repeatable; or $STATELINE_APPROVAL)"
    ),
    tokens_file: Optional[str] = typer.Option(
        None, "--tokens-file", help="API tokens (TOML/JSON; or $STATELINE_TOKENS_FILE / $STATELINE_TOKENS)"
    ),
    max_message_chars: int = typer.Option(20_000, "--max-message-chars", min=1, help="longer messages get 413"),
    policy: str = typer.Option(
        "reject", "--busy-policy", help="a message to a running thread: reject (409) or enqueue"
    ),
    workers: int = typer.Option(8, "--workers", min=1, max=256, help="threads running turns"),
    recover: bool = RecoverOpt,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs), SSE event streams and the viewer page at /."""
    from .server import ServerSettings
    from .server import serve as run_server

    if policy not in ("reject", "enqueue"):
        raise InvalidInputError(f"--busy-policy {policy!r}: use reject or enqueue")
    settings = ServerSettings(max_message_chars=max_message_chars, default_policy=policy, workers=workers)
    session = _session(ctx, approval)
    with session:
        _recover_first(session, recover)
        run_server(session, host=host, port=port, tokens_file=tokens_file, settings=settings)
