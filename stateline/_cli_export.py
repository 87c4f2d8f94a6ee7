"""``stateline export-graph``: a ``langgraph.json`` so the project's agents run under ``langgraph dev``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from stateline.errors import ConfigError

from ._cli_project import PROJECT_FILE, Project, load_agents
from ._session import selected
from .cli import app, emit, out


def _absolute(url: str | None) -> str | None:
    """``--db sqlite:///x.db`` means x.db here (where export-graph runs), wherever langgraph dev later runs."""
    if url is None or not url.startswith("sqlite:///") or url.startswith("sqlite:////"):
        return url
    return f"sqlite:///{Path(url[len('sqlite:///'):]).resolve()}"


@app.command("export-graph")
def export_graph(
    ctx: typer.Context,
    agent: Optional[list[str]] = typer.Option(
        None, "--agent", "-a", help="also export this agent alone as a graph of its own (repeatable)"
    ),
    force: bool = typer.Option(False, "--force", help="replace an existing langgraph.json / stateline_langgraph.py"),
) -> None:
    """Write langgraph.json (+ stateline_langgraph.py) beside the project file: `langgraph dev` then runs
    the agents with stateline's saver and store on the project's database (see docs/platform.md)."""
    from ._langgraph import plan  # lazy: `stateline --help` imports no langgraph

    source = selected(ctx.obj.example, ctx.obj.agents_file)
    if not isinstance(source, Project):
        if source is None:
            raise ConfigError(f"export-graph needs a project: no {PROJECT_FILE} here or in a parent "
                              "(`stateline init NAME` makes one), or pass --agents-file FILE")
        raise ConfigError(f"export-graph exports a project's agents, not the built-in example {source!r}: "
                          "`stateline init NAME` makes a project")
    agents = load_agents(source)  # a bad agent entry fails here, before anything is written
    files = plan(source, agent or [], agents, source.path.parent, force, db=_absolute(ctx.obj.db))
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    written = [str(p) for p in files]
    emit(ctx, {"written": written}, lambda: out.print(
        f"wrote {' and '.join(written)}; run `langgraph dev` in {source.path.parent}", highlight=False))
