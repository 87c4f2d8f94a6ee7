"""Open an App (or, to inspect, just the database) for what a CLI command names.

Agents come from ``--agents-file``, an explicit ``--example``, or the ``stateline.toml`` found
in the working directory or a parent (:mod:`stateline._cli_project`); never from a guess.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from stateline.errors import ConfigError

from ._cli_project import NO_AGENTS, PROJECT_FILE, Project, find_project, load_agents, read_project

if TYPE_CHECKING:
    from stateline.checkpointing import Database

    from ._app import App


def selected(example: str | None = None, agents_file: str | None = None) -> Project | str | None:
    """The project (``--agents-file`` or the discovered ``stateline.toml``), the example, or None."""
    if example and agents_file:
        raise ConfigError("give either --example or --agents-file, not both")
    if agents_file:
        return read_project(agents_file)
    if example:
        from ._examples import example_agents

        example_agents(example)  # fail on an unknown example before touching the database
        return example
    found = find_project()
    return read_project(found) if found is not None else None


def db_url(explicit: str | None, source: Project | str | None = None) -> str:
    """``--db`` wins, then ``STATELINE_DB``, then the project file's ``db``, then ``stateline.db``."""
    project_db = source.db if isinstance(source, Project) else None
    return explicit or os.environ.get("STATELINE_DB") or project_db or "sqlite:///stateline.db"


def approval_agents(explicit: Sequence[str] = (), source: Project | str | None = None) -> list[str]:
    """Agents that must get a person's approval: ``--approval``, then ``STATELINE_APPROVAL``, then the project's."""
    if explicit:
        return list(explicit)
    env = [n.strip() for n in os.environ.get("STATELINE_APPROVAL", "").split(",") if n.strip()]
    return env or (list(source.approval) if isinstance(source, Project) else [])


def open_session(
    *, db: str | None, example: str | None = None, agents_file: str | None = None, approval: Sequence[str] = ()
) -> App:
    """An App over the named agents on the database ``db``; no agents named is a ConfigError."""
    from stateline.checkpointing import open_database

    from ._app import App

    source = selected(example, agents_file)
    if source is None:
        raise ConfigError(NO_AGENTS.format(file=PROJECT_FILE))
    project_agents = (
        load_agents(source) if isinstance(source, Project) else None
    )  # before the db: a bad entry writes nothing
    database = open_database(db_url(db, source))
    try:
        if isinstance(source, Project):
            agents, workflow = project_agents or [], source.workflow
        else:
            from ._examples import example_agents

            agents, workflow = example_agents(source)(database), source
        app = App(agents, db=database, workflow=workflow)
        for name in approval_agents(approval, source):
            app.register(replace(app.registry.get(name), approval=True), replace=True)
    except BaseException:
        database.close()
        raise
    app._owns_db = True
    return app


def open_inspection(
    db: str | None, example: str | None = None, agents_file: str | None = None
) -> tuple[Database, list[Any]]:
    """The database opened read-only, and the named agents if any (never required).

    What ``threads list|show``, ``runs list|show``, ``effects list`` and ``agents list`` read:
    nothing is written, no example is guessed. An example's agents are built on a scratch
    in-memory database (they create their own tables), never on this one.
    """
    from stateline.checkpointing import open_database

    source = selected(example, agents_file)
    database = open_database(db_url(db, source), read_only=True)
    try:
        if isinstance(source, Project):
            agents = load_agents(source)
        elif source is not None:
            from ._examples import example_agents

            agents = example_agents(source)(open_database("memory"))
        else:
            agents = []
    except BaseException:
        database.close()
        raise
    return database, agents
