"""Shared fixtures. Every test runs offline unless it starts its own model server.
Backends: every test that takes ``db_url`` or ``db`` runs on SQLite and PostgreSQL.

PostgreSQL runs when ``STATELINE_TEST_PG_URL`` names a database where that user may
CREATE SCHEMA (``.ci/run`` starts one); each test gets a fresh schema (via the URL's
``search_path``), dropped after — far faster than a database per test.
Without it the postgres cases are skipped with the reason shown by ``-ra``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from stateline.checkpointing import Database, open_database

for _var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "STATELINE_OPENAI_BASE_URL", "STATELINE_DB", "STATELINE_MODEL"):
    os.environ.pop(_var, None)
os.environ["STATELINE_PROVIDER"] = "offline"

PG_ENV = "STATELINE_TEST_PG_URL"
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(autouse=True)
def _no_ambient_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own STATELINE_AES_KEY must not change what the tests see."""
    monkeypatch.delenv("STATELINE_AES_KEY", raising=False)


def pg_admin_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} not set: no PostgreSQL server to test against (.ci/run starts one)")
    return url


def _with_schema(url: str, schema: str) -> str:
    parts = urlsplit(url)
    option = f"options=-csearch_path%3D{schema}"
    return urlunsplit(parts._replace(query=f"{parts.query}&{option}" if parts.query else option))


def _admin(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL schema, dropped after the test."""
    admin = pg_admin_url()
    name = f"stl_test_{uuid.uuid4().hex[:12]}"
    _admin(admin, f'CREATE SCHEMA "{name}"')
    try:
        yield _with_schema(admin, name)
    finally:
        _admin(admin, f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The URL of an empty database on each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def any_db(db_url: str) -> Iterator[Database]:
    """An open, empty database on each backend in turn (a name no sub-folder overrides)."""
    database = open_database(db_url)
    try:
        yield database
    finally:
        database.close()


@pytest.fixture
def db(any_db: Database) -> Database:
    """The same as ``any_db``; tests/checkpointing overrides ``db`` with a SQLite-only one."""
    return any_db
