"""Open an App for an example workflow or an agents file: what every CLI command needs."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from stateline.checkpointing import open_database

from ._app import App
from ._examples import example_agents


def db_url(explicit: str | None) -> str:
    """``--db`` wins, then ``STATELINE_DB``, then ``stateline.db`` in the working directory."""
    return explicit or os.environ.get("STATELINE_DB") or "sqlite:///stateline.db"


def approval_agents(explicit: Sequence[str] = ()) -> list[str]:
    """Agents that must get a person's approval before acting: ``--approval`` wins, then ``STATELINE_APPROVAL``."""
    if explicit:
        return list(explicit)
    return [n.strip() for n in os.environ.get("STATELINE_APPROVAL", "").split(",") if n.strip()]


def open_session(
    *, db: str | None, example: str | None = "storefront", agents_file: str | None = None, approval: Sequence[str] = ()
) -> App:
    """An App over the example's agents (or a TOML agents file) on the database ``db``.

    ``approval`` names agents that pause for approval before acting (e.g. the storefront's
    ``listing``); see :func:`approval_agents`.
    """
    if example is not None:
        example_agents(example)  # fail on an unknown example before touching the database
    database = open_database(db_url(db))
    try:
        agents = example_agents(example)(database) if example and not agents_file else []
        app = App(
            agents,
            db=database,
            workflow=example if not agents_file else Path(agents_file).stem,
            agents_file=agents_file,
        )
        for name in approval_agents(approval):
            app.register(replace(app.registry.get(name), approval=True), replace=True)
    except BaseException:
        database.close()
        raise
    app._owns_db = True
    return app
