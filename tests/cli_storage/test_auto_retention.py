"""Automatic retention: STATELINE_RETENTION_KEEP_LAST prunes a thread every N finished turns."""

from __future__ import annotations

import pytest

from stateline.checkpointing import AutoRetention, iter_history, open_database
from stateline._session import open_session
from stateline.errors import ConfigError


def count(app, thread: str) -> int:
    return sum(1 for _ in iter_history(app.database, thread))


def test_env_turns_on_pruning_every_n_turns(db_url, monkeypatch):
    monkeypatch.setenv("STATELINE_RETENTION_KEEP_LAST", "3")
    monkeypatch.setenv("STATELINE_RETENTION_EVERY", "2")
    with open_session(db=db_url, example="storefront") as app:
        app.send("t", "total revenue for toys")
        first = count(app, "t")
        assert first > 3  # turn 1 of every 2: not pruned yet
        app.send("t", "total revenue for toys")
        assert count(app, "t") == 3
        app.send("t", "total revenue for toys")
        assert count(app, "t") > 3  # turn 3: not pruned
    # a new process continues the count from the thread index: turn 4 prunes
    with open_session(db=db_url, example="storefront") as app:
        turn = app.send("t", "total revenue for toys")
        assert count(app, "t") == 3
        assert "975" in turn.replies[-1].text
        assert len(app.state("t").messages) == 8  # pruning history never touches the state


def test_off_by_default_and_bad_values_are_clear(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path}/a.db"
    with open_session(db=url, example="storefront") as app:
        app.send("t", "total revenue for toys")
        app.send("t", "total revenue for toys")
        assert count(app, "t") > 6
    monkeypatch.setenv("STATELINE_RETENTION_KEEP_LAST", "lots")
    with pytest.raises(ConfigError, match="whole numbers"):
        open_session(db=url, example="storefront")
    db = open_database(url)
    try:
        with pytest.raises(ConfigError):
            AutoRetention(db, 0)
    finally:
        db.close()
    with pytest.raises(ConfigError):
        AutoRetention(open_database("memory"), 3)
