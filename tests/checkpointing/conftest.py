"""Fixtures of the storage tests: real SQLite files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.checkpointing.storage_helpers import Chat

from stateline.checkpointing import Database, open_database


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "stateline.db"


@pytest.fixture
def db(db_path: Path):
    database = open_database(f"sqlite:///{db_path}")
    yield database
    database.close()


@pytest.fixture
def chat(db: Database) -> Chat:
    return Chat(db)
