"""Open an App for an example workflow or an agents file: what every CLI command needs."""

from __future__ import annotations

import os
from pathlib import Path

from checkpointing import open_database

from ._app import App
from ._examples import example_agents


def db_url(explicit: str | None) -> str:
    """``--db`` wins, then ``STATELINE_DB``, then ``stateline.db`` in the working directory."""
    return explicit or os.environ.get("STATELINE_DB") or "sqlite:///stateline.db"


def open_session(*, db: str | None, example: str | None = "storefront", agents_file: str | None = None) -> App:
    """An App over the example's agents (or a TOML agents file) on the database ``db``."""
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
    except BaseException:
        database.close()
        raise
    app._owns_db = True
    return app
